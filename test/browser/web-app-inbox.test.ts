// The web app's Inbox in a real browser (Debian's Chromium through playwright-core) on the real
// conversation path: a real API listening on a port, a real worker, Temporal and Postgres; the
// customer writes on WhatsApp through a signed webhook, with Meta's Graph API faked at the edge.
// The assistant answers from a document (its sources show under the reply), the customer asks
// for a person, and the agent, signed in through the app, sees it arrive without a reload, takes
// it over, answers (the answer reaches WhatsApp) and releases it, using the keyboard only.
// Filters and search narrow the list; an admin sees the Temporal link and a conflict; an agent
// attaches a file to a reply within the channel's limits; the old console's address leads here.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../api/app.ts';
import { createLogger } from '../../lib/logger.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createApiKey } from '../../lib/tenants.ts';
import { HANDOFF_NOTICE } from '../../workflows/conversation.ts';
import { bearer } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createConversationRig, eventually, WA_APP_SECRET, type ConversationRig } from '../support/conversations.ts';
import { seedReadyDocument } from '../support/documents.ts';
import { whatsappTextBody } from '../support/meta-webhooks.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { connectTestTemporal } from '../support/temporal.ts';

const UI = 'http://localhost:8233';

describe('web app inbox in a browser', { timeout: 180_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let base: string;
  let browser: Browser;
  let slug: string;
  let agentId: string;
  let tenantKey: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: { ...rig.config, TEMPORAL_UI_URL: UI }, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    base = await listen(app);
    slug = (await rig.db.tenant.findUniqueOrThrow({ where: { id: rig.tenantId } })).slug;
    agentId = (await createUser(rig.db, rig.tenantId, { email: 'agent@example.com', role: 'agent', name: 'Ann' })).id;
    await createUser(rig.db, rig.tenantId, { email: 'admin@example.com', role: 'admin' });
    tenantKey = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'ops', scope: 'tenant' })).key;
    await seedReadyDocument(rig.db, rig.tenantId, { key: 'hours', title: 'Opening hours', content: 'The shop opens at nine in the morning and closes at six in the evening on weekdays.' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const tdb = () => forTenant(rig.db, rig.tenantId);
  const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);
  const newUser = () => `1555${Math.floor(1e6 + Math.random() * 9e6)}`;
  let messageNo = 0;

  /** The customer writes on WhatsApp: a webhook signed with the app secret, as Meta sends it (`sentAt`: its timestamp, ms). */
  async function says(user: string, text: string, sentAt?: number) {
    let body = whatsappTextBody({ phoneNumberId: rig.phoneNumberId, from: user, id: `wamid.inbox${Date.now()}${messageNo++}`, text });
    if (sentAt !== undefined) body = body.replace(/"timestamp":"\d+"/, `"timestamp":"${Math.floor(sentAt / 1000)}"`);
    const signature = `sha256=${createHmac('sha256', WA_APP_SECRET).update(body).digest('hex')}`;
    const res = await fetch(`${base}/webhooks/whatsapp`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
    expect(res.status).toBe(200);
  }

  /** A customer who asked a question the document answers, then for a person. */
  async function waitingCustomer(question = 'When do you open in the morning?'): Promise<{ user: string; conversationId: string }> {
    const user = newUser();
    await says(user, question);
    await eventually(() => sentTo(user).length >= 1, 30_000, 'the assistant answers');
    await says(user, 'I want to talk to a human please');
    await eventually(() => sentTo(user).some((d) => d.text === HANDOFF_NOTICE), 30_000, 'the handoff notice');
    const c = await eventually(() => tdb().conversation.findFirst({ where: { externalUserId: user, status: 'handoff_requested' } }).then((r) => r ?? undefined), 10_000, 'handoff_requested');
    return { user, conversationId: c.id };
  }

  /** Presses Tab (Shift+Tab backwards) until the element matching `selector` has the focus. */
  async function tabTo(page: Page, selector: string, backwards = false) {
    for (let i = 0; i < 60; i++) {
      if (await page.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
      await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    }
    throw new Error(`Tab never reached ${selector}`);
  }

  /** The focused element shows a focus ring (the app's :focus-visible outline). */
  const focusVisible = (page: Page) => page.evaluate<boolean>("!!document.activeElement && document.activeElement.matches(':focus-visible') && getComputedStyle(document.activeElement).outlineStyle !== 'none'");

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-inbox', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  const signIn = (email: string, expected: string[] = []) => openSignedInPage(browser, base, '/inbox', { tenant: slug, email, password: TEST_PASSWORD }, expected);
  const threadAuthors = (page: Page) => page.locator('#conversation .thread-message').evaluateAll((els) => els.map((e) => e.getAttribute('data-author')));

  it('an agent sees a handoff arrive live, takes it over, answers and releases it, with the keyboard only', async () => {
    const { page, problems } = await signIn('agent@example.com');
    await page.locator('.inbox h1').waitFor();
    await check(page, 'empty');

    // The conversation arrives while the page is open: no reload.
    const { user, conversationId } = await waitingCustomer();
    const item = page.locator(`#conversation-list button.conversation[data-id="${conversationId}"]`);
    await item.filter({ hasText: 'Waiting for a person' }).waitFor({ timeout: 15_000 });

    // Filters: only what waits for a person.
    await tabTo(page, '#inbox-waiting');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Space');
    await eventually(async () => (await page.locator('#conversation-list button.conversation').count()) === 1 || undefined, 10_000, 'the waiting filter');
    await check(page, 'waiting');

    // Into the list and open the conversation.
    await tabTo(page, `button.conversation[data-id="${conversationId}"]`);
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.locator(`#conversation[data-id="${conversationId}"] .thread-message`).nth(3).waitFor();
    expect(await threadAuthors(page)).toEqual(['customer', 'assistant', 'customer', 'assistant']);
    const sources = page.locator('#conversation .from-assistant .thread-sources').first();
    expect(await sources.locator('.source-title').textContent()).toBe('Opening hours');
    expect(await sources.locator('blockquote').textContent()).toContain('opens at nine');
    expect(await page.locator('#workflow-link').count()).toBe(0); // agents get no Temporal link
    const stored = await tdb().message.findMany({ where: { conversationId, direction: 'outbound' }, orderBy: { createdAt: 'asc' } });
    expect((stored[0]!.content as { sources?: { title: string }[] }).sources?.map((s) => s.title)).toEqual(['Opening hours']);
    await check(page, 'thread');

    // Take over.
    await tabTo(page, '#take');
    await page.keyboard.press('Enter');
    await page.locator('#reply-text').waitFor();
    await eventually(() => tdb().conversation.findFirst({ where: { id: conversationId, status: 'assigned_human', assignee: agentId } }).then((r) => r ?? undefined), 10_000, 'assigned to the agent');
    await check(page, 'taken');

    // Type and send with Enter: it reaches WhatsApp and shows as the agent's.
    await tabTo(page, '#reply-text');
    expect(await focusVisible(page)).toBe(true);
    await page.keyboard.type('Hi, Ann here. We open at nine.');
    await page.keyboard.press('Enter');
    await eventually(() => sentTo(user).some((d) => d.text === 'Hi, Ann here. We open at nine.'), 15_000, "the agent's reply reaches WhatsApp");
    await page.locator('#conversation .from-agent').waitFor();
    expect(await page.locator('#conversation .from-agent .thread-text').textContent()).toBe('Hi, Ann here. We open at nine.');
    // The thread can show the message live before the send's answer returns (the route waits for
    // the channel's answer); the box empties on that answer.
    await eventually(async () => (await page.inputValue('#reply-text')) === '', 10_000, 'the reply box emptied after the send');

    // The customer's next message arrives live.
    await says(user, 'Great, thanks Ann!');
    await page.locator('#conversation .thread-message').filter({ hasText: 'Great, thanks Ann!' }).waitFor({ timeout: 15_000 });
    await check(page, 'answered');

    // At a phone's width nothing scrolls sideways.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Release: back with the assistant, which answers the next message.
    await tabTo(page, '#release', true);
    await page.keyboard.press('Enter');
    await page.locator('#take').waitFor();
    await eventually(() => tdb().conversation.findFirst({ where: { id: conversationId, status: 'active', assignee: null } }).then((r) => r ?? undefined), 10_000, 'released');
    const before = sentTo(user).length;
    await says(user, 'One more question: when do you close?');
    await eventually(() => sentTo(user).length > before, 30_000, 'the assistant answers again');
    await check(page, 'released');
    expect(problems).toEqual([]);
  });

  it('an admin narrows the list by filters and search, follows the Temporal link, and is told when another agent took the conversation first', async () => {
    const { conversationId } = await waitingCustomer('Do you open on weekdays?');
    const { page, problems } = await signIn('admin@example.com', [`409 /api/v1/conversations/${conversationId}/take`]);
    const buttons = page.locator('#conversation-list button.conversation');
    await page.locator(`button.conversation[data-id="${conversationId}"]`).waitFor();
    const all = await buttons.count();
    expect(all).toBeGreaterThanOrEqual(2);
    // The arrow keys move through the list.
    const order = await buttons.evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
    await tabTo(page, 'button.conversation');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('data-id')")).toBe(order[1]);
    await page.keyboard.press('ArrowUp');
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('data-id')")).toBe(order[0]);

    // Status: only this one waits; search by the text the customer wrote.
    await page.selectOption('#inbox-status', 'handoff_requested');
    await eventually(async () => (await buttons.count()) === 1 || undefined, 10_000, 'the status filter');
    await page.selectOption('#inbox-status', '');
    await page.fill('#inbox-q', 'YOU OPEN ON WEEK');
    await page.press('#inbox-q', 'Enter');
    await eventually(async () => (await buttons.count()) === 1 || undefined, 10_000, 'the search');
    expect(await buttons.first().getAttribute('data-id')).toBe(conversationId);
    await page.fill('#inbox-q', 'no customer ever wrote this');
    await page.press('#inbox-q', 'Enter');
    await page.locator('#inbox-empty').waitFor();
    await check(page, 'search-empty');
    await page.fill('#inbox-q', '');
    await page.press('#inbox-q', 'Enter');
    await eventually(async () => (await buttons.count()) === all || undefined, 10_000, 'the search cleared');

    await page.click(`button.conversation[data-id="${conversationId}"]`);
    const link = page.locator('#workflow-link');
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe(`${UI}/namespaces/default/workflows/${encodeURIComponent(rig.workflowId('whatsapp', (await tdb().conversation.findUniqueOrThrow({ where: { id: conversationId } })).externalUserId))}`);

    // Another agent takes it through the API while the page still offers Take over.
    const bob = await app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/take`, headers: bearer(tenantKey), payload: { agentId: 'bob' } });
    expect(bob.statusCode, bob.body).toBe(200);
    await page.click('#take');
    const alert = page.locator('.inbox .problem[role=alert]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Could not take the conversation over: .*held by another agent/);
    await page.locator('#conversation .thread-facts').filter({ hasText: 'held by bob' }).waitFor();
    expect(await page.locator('#reply-text').count()).toBe(0);
    await check(page, 'conflict');
    expect(problems).toEqual([]);
  });

  it("says why a reply was not sent when the customer's 24-hour window has closed", async () => {
    // The customer last wrote 25 hours ago (Meta redelivers for days, with the first timestamp).
    const user = newUser();
    await says(user, 'Where is my parcel?', Date.now() - 25 * 3600_000);
    const c = await eventually(() => tdb().conversation.findFirst({ where: { externalUserId: user } }).then((r) => r ?? undefined), 20_000, 'the conversation');
    await eventually(() => tdb().message.count({ where: { conversationId: c.id, direction: 'inbound' } }).then((n) => n > 0 || undefined), 20_000, 'the message stored');
    const handoff = await app.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/handoff`, headers: bearer(tenantKey), payload: {} });
    expect(handoff.statusCode, handoff.body).toBe(202);
    await eventually(() => tdb().conversation.findFirst({ where: { id: c.id, status: 'handoff_requested' } }).then((r) => r ?? undefined), 10_000, 'handoff_requested');

    const { page, problems } = await signIn('agent@example.com');
    await page.click(`button.conversation[data-id="${c.id}"]`);
    await page.click('#take');
    // Once the window closed, the composer offers templates instead of free text (none approved here).
    await page.locator('#template-reply').waitFor();
    expect(await page.locator('#reply-text').count()).toBe(0);
    expect(await page.locator('#template-hint').textContent()).toContain('24');
    // Free text through the API is still refused, and recorded failed, not sent.
    const agentId = (await tdb().conversation.findUniqueOrThrow({ where: { id: c.id } })).assignee;
    const refused = await app.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: bearer(tenantKey), payload: { agentId, text: 'Sorry for the wait!' } });
    expect(refused.statusCode, refused.body).toBeLessThan(500);
    expect(sentTo(user).some((d) => d.text === 'Sorry for the wait!')).toBe(false);
    await check(page, 'window-closed');
    expect(problems).toEqual([]);
  });

  it('an agent attaches a PDF to a reply: its name and size show, a picture too large for WhatsApp is refused before any upload, and WhatsApp gets a document message', async () => {
    const { user, conversationId } = await waitingCustomer('Can I have my invoice?');
    const { page, problems } = await signIn('agent@example.com');
    await page.click(`button.conversation[data-id="${conversationId}"]`);
    await page.click('#take');
    await page.locator('#reply-file').waitFor();
    // What the channel takes, from the API (GET /conversations/{id} attachmentLimits).
    expect(await page.locator('#reply-file-hint').textContent()).toBe('Pictures (JPEG, PNG) up to 5.0 MB; other files up to 16 MB.');

    await page.setInputFiles('#reply-file', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(6 * 1024 * 1024, 1) });
    expect(await page.locator('#reply-file-problem[role=alert]').textContent()).toBe('photo.jpg is 6.0 MB: WhatsApp takes pictures of at most 5.0 MB.');
    expect(await page.locator('#reply-file-chosen').count()).toBe(0);
    expect(await page.locator('#reply button[type=submit]').isDisabled()).toBe(true);
    await check(page, 'attachment-refused');

    const pdf = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n');
    await page.setInputFiles('#reply-file', { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.locator('#reply-file-chosen').waitFor();
    expect(await page.locator('#reply-file-chosen').textContent()).toContain(`invoice.pdf · ${pdf.byteLength} B`);
    expect(await page.locator('#reply-file-problem').count()).toBe(0);
    await check(page, 'attachment-chosen');
    await page.fill('#reply-text', 'Here is your invoice.');
    await page.click('#reply button[type=submit]');

    // The text, then the file: uploaded to the number's media and sent as a document with its name.
    const document = await eventually(() => rig.graph.deliveredMedia.find((m) => m.to === user), 15_000, 'the document reaches WhatsApp');
    expect(document).toMatchObject({ channel: 'whatsapp', type: 'document', filename: 'invoice.pdf', mimeType: 'application/pdf' });
    expect(document.bytes.equals(pdf)).toBe(true);
    expect(sentTo(user).filter((d) => d.text === 'Here is your invoice.')).toHaveLength(1);
    // The thread shows the sent file as a link to it; the composer is empty again.
    const link = page.locator('#conversation .from-agent .thread-file a', { hasText: 'invoice.pdf' });
    await link.waitFor();
    const href = await link.getAttribute('href');
    expect(href).toMatch(new RegExp(`^/api/v1/conversations/${conversationId}/messages/[0-9a-f-]+/media$`));
    const served = await page.evaluate<{ status: number; type: string | null; size: number }, string>(async (url) => {
      const res = await fetch(url);
      return { status: res.status, type: res.headers.get('content-type'), size: (await res.arrayBuffer()).byteLength };
    }, href!);
    expect(served).toEqual({ status: 200, type: 'application/pdf', size: pdf.byteLength });
    // The thread shows the file live, before the send request has the channel's answer; the
    // composer empties on that answer.
    await eventually(async () => (await page.locator('#reply-file-chosen').count()) === 0 || undefined, 10_000, 'the chosen file cleared after the send');
    expect(await page.inputValue('#reply-text')).toBe('');
    await check(page, 'attachment-sent');
    expect(problems).toEqual([]);
  });

  it('sends the old console address to the inbox', async () => {
    for (const url of ['/console', '/console/']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(301);
      expect(res.headers.location).toBe('/app/inbox');
    }
    expect((await app.inject({ url: '/console/assets/console.js' })).statusCode).toBe(404);
  });
});
