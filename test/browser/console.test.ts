// The agent console in a real browser (Debian's Chromium through playwright-core) against a real
// API listening on a port, a real worker, Temporal and Postgres; the end user is on WhatsApp,
// with Meta's Graph API faked at the edge, so what the agent types must reach the fake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../api/app.ts';
import { createLogger } from '../../lib/logger.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createApiKey, revokeApiKey } from '../../lib/tenants.ts';
import { HANDOFF_NOTICE } from '../../workflows/conversation.ts';
import { bearer } from '../support/api.ts';
import { launchBrowser, listen, openWatchedPage, screenshot } from '../support/browser.ts';
import { createConversationRig, eventually, text, type ConversationRig } from '../support/conversations.ts';
import { connectTestTemporal } from '../support/temporal.ts';

// Each step waits on real servers and a browser sharing two cores with the rest of the suite.
describe('agent console in a browser', { timeout: 180_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let base: string;
  let browser: Browser;
  let agentKey: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    base = await listen(app);
    agentKey = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'agents', scope: 'agent' })).key;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);
  const newUser = () => `1555${Math.floor(Math.random() * 1e7)}`;
  const says = (user: string, body: string) => rig.deliver('whatsapp', user, [text(body)]);
  const conversationOf = async (user: string) => (await forTenant(rig.db, rig.tenantId).conversation.findFirstOrThrow({ where: { externalUserId: user } })).id;

  /** A user who asked for a human: the notice reached them and the conversation is waiting. */
  async function waitingUser(): Promise<{ user: string; conversationId: string }> {
    const user = newUser();
    await says(user, 'Hello, when do you open?');
    await eventually(() => sentTo(user).length >= 1, 20_000, 'the assistant answers');
    await says(user, 'I want to talk to a human please');
    await eventually(() => sentTo(user).some((d) => d.text === HANDOFF_NOTICE), 20_000, 'the handoff notice');
    const conversationId = await conversationOf(user);
    await eventually(async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { id: conversationId, status: 'handoff_requested' } })) ?? undefined, 10_000, 'handoff_requested');
    return { user, conversationId };
  }

  /** The console in a fresh context (its own sessionStorage); page errors fail the test. */
  const openConsole = () => openWatchedPage(browser, `${base}/console`);

  async function signIn(page: Page, key: string, agentId: string) {
    await page.fill('#login input[name=apiKey]', key);
    await page.fill('#login input[name=agentId]', agentId);
    await page.click('#login button[type=submit]');
    await page.locator('#desk').waitFor();
  }

  /** The key the console keeps in the tab's sessionStorage (the page's own, not Node's). */
  const storedKey = (page: Page) => page.evaluate<string | null>("sessionStorage.getItem('metachat.console.apiKey')");
  const threadTexts = (page: Page, author: string) => page.locator(`#thread .message[data-author="${author}"] .text`).allTextContents();

  it('serves the page and its assets under a policy of their own, leaving the API locked down', async () => {
    const page = await app.inject({ url: '/console' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("form-action 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.body).toContain('id="login"');
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline scripts

    const script = await app.inject({ url: '/console/assets/console.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toContain('text/javascript');
    const missing = await app.inject({ url: '/console/assets/..%2F..%2Fapp.ts' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');

    const apiCsp = (await app.inject({ url: '/api/v1/conversations', headers: bearer(agentKey) })).headers['content-security-policy'];
    expect(apiCsp).toContain("default-src 'none'");
  });

  it('an agent takes over a waiting WhatsApp conversation, answers it, follows it live and hands it back', async () => {
    const { user, conversationId } = await waitingUser();
    const { page, problems } = await openConsole();
    await signIn(page, agentKey, 'ann');
    expect(await page.locator('#whoami').textContent()).toContain('ann');
    const item = page.locator(`#queue .conversation[data-id="${conversationId}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain(user);
    await screenshot(page, 'console', 'queue');

    await item.locator('button.take').click();
    await page.locator(`#conversation[data-id="${conversationId}"]`).waitFor();
    await page.locator('#thread .message[data-author="visitor"]').nth(1).waitFor();
    expect(await threadTexts(page, 'visitor')).toEqual(['Hello, when do you open?', 'I want to talk to a human please']);
    expect(await threadTexts(page, 'assistant')).toContain(HANDOFF_NOTICE);
    await item.waitFor({ state: 'detached' }); // no longer waiting
    await page.locator(`#mine .conversation[data-id="${conversationId}"]`).waitFor();
    const taken = await forTenant(rig.db, rig.tenantId).conversation.findUniqueOrThrow({ where: { id: conversationId } });
    expect(taken).toMatchObject({ status: 'assigned_human', assignee: 'ann' });

    // Enter sends; the message reaches the user on WhatsApp and shows as the agent's.
    await page.fill('#reply textarea[name=text]', 'Hi, Ann here. We open at nine.');
    await page.press('#reply textarea[name=text]', 'Enter');
    await eventually(() => sentTo(user).some((d) => d.text === 'Hi, Ann here. We open at nine.'), 10_000, "the agent's reply reaches WhatsApp");
    await page.locator('#thread .message[data-author="agent"]').waitFor();
    expect(await threadTexts(page, 'agent')).toEqual(['Hi, Ann here. We open at nine.']);
    expect(await page.inputValue('#reply textarea[name=text]')).toBe('');

    // The user's next message appears without a reload.
    await says(user, 'Great, thanks Ann!');
    await page.locator('#thread .message[data-author="visitor"]').nth(2).waitFor();
    expect(await threadTexts(page, 'visitor')).toEqual(['Hello, when do you open?', 'I want to talk to a human please', 'Great, thanks Ann!']);
    await screenshot(page, 'console', 'thread');

    await page.click('#release');
    await page.locator('#conversation').waitFor({ state: 'hidden' });
    await eventually(async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { id: conversationId, status: 'active', assignee: null } })) ?? undefined, 10_000, 'released');

    // Back with the assistant: it answers the next message.
    const before = sentTo(user).length;
    await says(user, 'One more question: where are you?');
    await eventually(() => sentTo(user).length > before, 20_000, 'the assistant answers again');
    expect(sentTo(user).at(-1)?.text).not.toBe(HANDOFF_NOTICE);
    await screenshot(page, 'console', 'released');
    expect(await storedKey(page)).toBe(agentKey);
    expect(problems).toEqual([]);
  });

  it('shows the conflict when another agent took the conversation first', async () => {
    const { conversationId } = await waitingUser();
    const { page, problems } = await openConsole();
    // Hold the queue's refreshes (the server still answers them, later) so that the page keeps
    // showing the conversation as waiting after another agent took it.
    let open: () => void = () => {};
    let held: Promise<void> | undefined;
    let holding = 0;
    await page.route(
      (url) => url.pathname === '/api/v1/conversations' && url.searchParams.get('status') === 'handoff_requested',
      async (route) => {
        if (held) {
          holding++;
          await held;
        }
        await route.continue();
      },
    );
    await signIn(page, agentKey, 'ann');
    const item = page.locator(`#queue .conversation[data-id="${conversationId}"]`);
    await item.waitFor();
    held = new Promise((resolve) => (open = resolve));
    // The page polls one request at a time: once one is held, every earlier answer is in.
    await eventually(() => holding > 0, 10_000, 'a queue refresh held');

    const bob = await app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/take`, headers: bearer(agentKey), payload: { agentId: 'bob' } });
    expect(bob.statusCode, bob.body).toBe(200);
    await item.locator('button.take').click();
    await page.locator('#error').waitFor();
    expect(await page.locator('#error').textContent()).toMatch(/Could not take the conversation: .*held by another agent/);
    expect(await page.locator('#conversation').isHidden()).toBe(true);
    await screenshot(page, 'console', 'conflict');

    open();
    await item.waitFor({ state: 'detached' });
    expect(problems).toEqual([`409 /api/v1/conversations/${conversationId}/take`]);
  });

  it('keeps a refused key at the login, and sends the agent back to it when the key is revoked', async () => {
    const { page, problems } = await openConsole();
    await page.fill('#login input[name=apiKey]', 'mcp_nope1234_notarealsecretatall');
    await page.click('#login button[type=submit]');
    await page.locator('#error').waitFor();
    expect(await page.locator('#error').textContent()).toContain('refused');
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.locator('#desk').isHidden()).toBe(true);
    expect(await storedKey(page)).toBeNull();

    const tdb = forTenant(rig.db, rig.tenantId);
    const temporary = await createApiKey(tdb, { name: 'temp agent', scope: 'agent' });
    await signIn(page, temporary.key, '');
    expect(await page.locator('#whoami').textContent()).toContain(`agent-${temporary.prefix}`);
    // A reload keeps the session of this tab.
    await page.reload();
    await page.locator('#desk').waitFor();

    expect(await revokeApiKey(tdb, temporary.id)).toBe(true);
    await page.locator('#login').waitFor();
    expect(await page.locator('#error').textContent()).toContain('refused');
    expect(await storedKey(page)).toBeNull();
    await screenshot(page, 'console', 'signed-out');
    expect(new Set(problems)).toEqual(new Set(['401 /api/v1/conversations'])); // the refusals, nothing else
  });
});
