// The web chat widget and the web app's inbox in a real browser (Debian's Chromium through
// playwright-core), against two API instances on one database (as two replicas behind a load
// balancer), a real conversation worker answering from an uploaded document, an ingestion
// worker, Temporal and Postgres. Replies reach the visitor's socket through Postgres NOTIFY on
// whichever instance holds it.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedderRegistry } from '../../activities/embeddings/index.ts';
import { buildApp, type App } from '../../api/app.ts';
import { createChannel } from '../../lib/channels.ts';
import { createDb, type Db } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { createDocumentStorage } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createApiKey } from '../../lib/tenants.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { createTestWorkers } from '../support/workers.ts';
import { HANDOFF_NOTICE } from '../../workflows/conversation.ts';
import { bearer } from '../support/api.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createConversationRig, eventually, type ConversationRig } from '../support/conversations.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { connectTestTemporal } from '../support/temporal.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';

const GUIDE = '# Opening hours\n\nThe Acme Bikes store opens at 9 am on weekdays and at 11 am on Sundays.\n\n# Returns\n\nBikes can be returned within 30 days with the receipt.';

// Each step waits on real servers and a browser sharing two cores with the rest of the suite.
describe('web chat and the inbox in a browser', { timeout: 180_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let openai: FakeOpenAi;
  let ingestion: Worker[] = [];
  let ingesting: Promise<unknown>;
  let dbB: Db;
  let apiA: App;
  let apiB: App;
  let baseA: string;
  let baseB: string;
  let browser: Browser;
  let widgetId: string;
  let agentKey: string;
  let tenantSlug: string;
  const logger = createLogger({ level: 'silent', name: 'test' });
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    // The tenant answers offline; the streaming test switches it to the fake OpenAI for its turn.
    rig = await createConversationRig(temporal.client, { llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY } } });
    ingestion = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['ingestion'],
      tuning: rig.config,
      deps: {
        db: rig.db, logger, keyring: rig.config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: rig.graph.url,
        documentStorage: createDocumentStorage(rig.config), embedders: createEmbedderRegistry(), chunkQuota: rig.config.CHUNK_QUOTA_PER_TENANT,
      },
      queueName: (q) => taskQueueName(rig.config, q),
    });
    ingesting = Promise.all(ingestion.map((w) => w.run()));
    await rig.startWorkers(temporal.nativeConnection);

    const tdb = forTenant(rig.db, rig.tenantId);
    widgetId = (await createChannel(tdb, rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site chat', allowedOrigins: [] })).widgetId!;
    agentKey = (await createApiKey(tdb, { name: 'agents', scope: 'agent' })).key;
    await createUser(rig.db, rig.tenantId, { email: 'ann@example.com', role: 'agent', name: 'Ann' });
    tenantSlug = (await rig.db.tenant.findUniqueOrThrow({ where: { id: rig.tenantId } })).slug;
    const tenantKey = (await createApiKey(tdb, { name: 'docs', scope: 'tenant' })).key;

    apiA = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger });
    dbB = createDb(rig.config, 'browser-test-b');
    apiB = await buildApp({ config: rig.config, db: dbB, temporal: temporal.client, logger });
    baseA = await listen(apiA);
    baseB = await listen(apiB);

    const doc = await apiA.inject({ method: 'POST', url: '/api/v1/documents', headers: bearer(tenantKey), payload: { title: 'Acme store guide', content: GUIDE, format: 'markdown' } });
    expect(doc.statusCode, doc.body).toBe(202);
    const id = (doc.json() as { id: string }).id;
    await eventually(async () => {
      const d = (await apiA.inject({ url: `/api/v1/documents/${id}`, headers: bearer(tenantKey) })).json() as { status: string; error: string | null };
      if (d.status === 'failed') throw new Error(`ingestion failed: ${d.error}`);
      return d.status === 'ready';
    }, 30_000, 'the guide ingested');

    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await apiA?.close();
    await apiB?.close();
    await dbB?.$disconnect();
    for (const w of ingestion) if (w.getState() === 'RUNNING') w.shutdown();
    await ingesting;
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });

  /** A page in a fresh browser context (its own storage); uncaught errors and CSP refusals are kept. */
  async function newPage(context?: BrowserContext): Promise<{ page: Page; context: BrowserContext; problems: string[] }> {
    const ctx = context ?? (await browser.newContext());
    if (!context) contexts.push(ctx);
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // A socket cut by a stopped server is logged by the browser (that is the point of the
      // reconnect test); failed loads are checked by URL below.
      if (msg.type() === 'error' && !/WebSocket connection .* failed|Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => {
      // The browser asks for /favicon.ico on its own; the pages do not use it.
      if (res.status() >= 400 && new URL(res.url()).pathname !== '/favicon.ico') problems.push(`${res.status()} ${res.url()}`);
    });
    return { page, context: ctx, problems };
  }

  async function openWidget(base: string, context?: BrowserContext) {
    const opened = await newPage(context);
    await opened.page.goto(`${base}/webchat/widget/${widgetId}`);
    await opened.page.locator('body[data-connection="open"]').waitFor();
    return opened;
  }

  async function visitorSays(page: Page, text: string) {
    await page.fill('#composer textarea[name=text]', text);
    await page.press('#composer textarea[name=text]', 'Enter');
  }

  /** Every message the widget shows, in order: [author, text, id]. */
  const widgetThread = (page: Page) =>
    page.$$eval('#messages .message', (els) =>
      els.map((el) => [(el as unknown as { dataset: Record<string, string> }).dataset.author, el.querySelector('.text')?.textContent ?? '', (el as unknown as { dataset: Record<string, string> }).dataset.id ?? '']),
    );
  const widgetTexts = async (page: Page, author: string) => (await widgetThread(page)).filter(([a]) => a === author).map(([, t]) => t);
  /** Waits until the widget shows `count` messages of `author`. */
  const widgetShows = (page: Page, author: string, count: number) => page.locator(`#messages .message[data-author="${author}"]`).nth(count - 1).waitFor();

  const tokenOf = (page: Page) => page.evaluate<string | null>(`localStorage.getItem('metachat.token.${widgetId}')`);
  /** The visitor id the server chose, as the widget's kept token carries it. */
  const visitorIdOf = async (page: Page) => {
    const token = await tokenOf(page);
    return token ? (JSON.parse(Buffer.from(token.split('.')[2]!, 'base64url').toString('utf8')) as { v: string }).v : null;
  };
  const conversationOf = async (visitorId: string) =>
    eventually(async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: visitorId } })) ?? undefined, 20_000, 'the conversation row');
  const statusIs = (conversationId: string, status: 'active' | 'handoff_requested' | 'assigned_human') =>
    eventually(async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { id: conversationId, status } })) ?? undefined, 20_000, `conversation ${status}`);
  const agentApi = (app: App, conversationId: string, action: string, payload: object) =>
    app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/${action}`, headers: bearer(agentKey), payload });

  it('a visitor asks on the widget page (instance A) and sees the answer from the tenant guide, carried by NOTIFY while instance B holds no socket', async () => {
    const { page, problems } = await openWidget(baseA);
    const visitorId = await visitorIdOf(page);
    expect(visitorId).toMatch(/^wv_[A-Za-z0-9_-]{22}$/);

    await visitorSays(page, 'When does the store open on Sundays?');
    await widgetShows(page, 'assistant', 1);
    const answer = (await widgetTexts(page, 'assistant'))[0]!;
    expect(answer).toContain('11 am on Sundays');
    expect(answer).toContain('Acme store guide');
    const thread = await widgetThread(page);
    expect(thread.map(([a, t]) => [a, t])).toEqual([['visitor', 'When does the store open on Sundays?'], ['assistant', answer]]);
    expect(new Set(thread.map(([, , id]) => id)).size).toBe(2); // both carry their stored ids
    expect(await page.locator('#typing').isHidden()).toBe(true);

    // Stored as the conversation's messages; the reply, shown under its stored id, delivered to the socket on A.
    const conversation = await conversationOf(visitorId!);
    const stored = await forTenant(rig.db, rig.tenantId).message.findMany({ where: { conversationId: conversation.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    expect(stored.map((m) => [m.direction, (m.content as { text: string }).text])).toEqual([['inbound', thread[0]![1]], ['outbound', answer]]);
    expect(thread[1]![2]).toBe(stored[1]!.id);
    await eventually(async () => (await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { id: stored[1]!.id, status: 'delivered' } })) ?? undefined, 10_000, 'the reply marked delivered');
    await screenshot(page, 'webchat', 'answer');
    expect(problems).toEqual([]);
  });

  it('shows an answer streamed by the model as a draft that grows, replaced in place by the reply', async () => {
    const answer =
      'The Acme Bikes store opens at 9 am on weekdays and at 11 am on Sundays, and on public holidays it keeps the Sunday hours, so come by any time after eleven ' +
      'for a test ride on one of the new city bikes; bring a photo id and wear closed shoes, and a member of the team will fit the saddle and the helmet for you before you set off.';
    openai.reset();
    openai.respond(() => ({ text: answer }));
    const tenant = { id: rig.tenantId };
    const { settings } = await rig.db.tenant.findUniqueOrThrow({ where: tenant });
    await rig.db.tenant.update({ where: tenant, data: { settings: { ...(settings as object), llm: { provider: 'openai' } } } });
    try {
      const { page, problems } = await openWidget(baseA);
      await visitorSays(page, 'When can I come by for a test ride?');
      const draft = page.locator('#messages .message.draft[data-author="assistant"]');
      await draft.waitFor();
      const shown = `(() => { const el = document.querySelector('#messages .message.draft'); return el ? { id: el.dataset.draftId, text: el.querySelector('.text').textContent } : null; })()`;
      const first = await page.evaluate<{ id: string; text: string } | null>(shown);
      expect(first).not.toBeNull();
      expect(answer.startsWith(first!.text)).toBe(true);
      // The draft grows as the pieces arrive, until the reply takes its place.
      // (A function, not a string: the widget page's CSP allows no eval.)
      const grownPast = (seen: number) => {
        const el = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#messages .message.draft .text');
        return !el || (el.textContent ?? '').length > seen;
      };
      await page.waitForFunction(grownPast, first!.text.length, { polling: 'raf' });
      const grown = await page.evaluate<{ id: string; text: string } | null>(shown);
      if (grown) expect(answer.startsWith(grown.text) && grown.text.length > first!.text.length).toBe(true);
      await widgetShows(page, 'assistant', 1);
      await page.locator('#messages .message[data-author="assistant"]:not(.draft)').waitFor();
      expect(await page.locator('#messages .message.draft').count()).toBe(0);
      const thread = await widgetThread(page);
      expect(thread.map(([a, t]) => [a, t])).toEqual([['visitor', 'When can I come by for a test ride?'], ['assistant', answer]]);
      expect(thread[1]![2]).toBe(first!.id); // the reply took the draft's place, under its id
      expect((openai.requests[0]!.body as { stream?: unknown }).stream).toBe(true);
      await screenshot(page, 'webchat', 'streamed');
      expect(problems).toEqual([]);
    } finally {
      await rig.db.tenant.update({ where: tenant, data: { settings: settings as object } });
    }
  });

  it('a visitor kept by an earlier widget (an id of its own in localStorage) starts afresh under a server-chosen id', async () => {
    const { page, problems } = await openWidget(baseA);
    await page.evaluate(`localStorage.removeItem('metachat.token.${widgetId}'); localStorage.setItem('metachat.visitor.${widgetId}', 'v_chosen_by_the_page')`);
    await page.reload();
    await page.locator('body[data-connection="open"]').waitFor();
    const visitorId = await visitorIdOf(page);
    expect(visitorId).toMatch(/^wv_/);
    expect(await page.evaluate(`localStorage.getItem('metachat.visitor.${widgetId}')`)).toBeNull();
    await visitorSays(page, 'When does the store open on Sundays?');
    await widgetShows(page, 'assistant', 1);
    expect(await conversationOf(visitorId!)).toBeTruthy();
    expect(await forTenant(rig.db, rig.tenantId).conversation.count({ where: { externalUserId: 'v_chosen_by_the_page' } })).toBe(0);
    expect(problems).toEqual([]);
  });

  it('hands the visitor over to an agent in the inbox of instance B and back to the assistant', async () => {
    const visitor = await openWidget(baseA);
    const visitorId = (await visitorIdOf(visitor.page))!;
    await visitorSays(visitor.page, 'I would like to talk to a human');
    await widgetShows(visitor.page, 'assistant', 1);
    expect(await widgetTexts(visitor.page, 'assistant')).toEqual([HANDOFF_NOTICE]);
    const conversation = await conversationOf(visitorId);
    await statusIs(conversation.id, 'handoff_requested');

    // The agent works in the web app's inbox on instance B: the visitor's socket is on A.
    const agent = await openSignedInPage(browser, baseB, '/inbox', { tenant: tenantSlug, email: 'ann@example.com', password: TEST_PASSWORD });
    const waiting = agent.page.locator(`#conversation-list button.conversation[data-id="${conversation.id}"]`);
    await waiting.waitFor();
    expect(await waiting.textContent()).toContain(visitorId);
    await waiting.click();
    const customerTexts = () => agent.page.locator('#conversation .thread-message[data-author="customer"] .thread-text').allTextContents();
    await agent.page.locator('#conversation .thread-message[data-author="customer"]').waitFor();
    expect(await customerTexts()).toEqual(['I would like to talk to a human']);
    await agent.page.click('#take');
    await statusIs(conversation.id, 'assigned_human');

    await agent.page.fill('#reply-text', 'Hi, Ann here. How can I help?');
    await agent.page.press('#reply-text', 'Enter');
    await widgetShows(visitor.page, 'agent', 1);
    expect(await widgetTexts(visitor.page, 'agent')).toEqual(['Hi, Ann here. How can I help?']);

    await visitorSays(visitor.page, 'Can I return a bike I bought last week?');
    await agent.page.locator('#conversation .thread-message[data-author="customer"]').nth(1).waitFor();
    expect(await customerTexts()).toEqual(['I would like to talk to a human', 'Can I return a bike I bought last week?']);
    await agent.page.fill('#reply-text', 'Yes, within 30 days with the receipt.');
    await agent.page.press('#reply-text', 'Enter');
    await widgetShows(visitor.page, 'agent', 2);
    expect(await widgetTexts(visitor.page, 'agent')).toEqual(['Hi, Ann here. How can I help?', 'Yes, within 30 days with the receipt.']);
    expect(await widgetTexts(visitor.page, 'assistant')).toEqual([HANDOFF_NOTICE]); // the assistant kept quiet
    await screenshot(visitor.page, 'webchat-handoff', 'visitor');
    await screenshot(agent.page, 'webchat-handoff', 'inbox');

    await agent.page.click('#release');
    await agent.page.locator('#take').waitFor();
    await statusIs(conversation.id, 'active');
    await visitorSays(visitor.page, 'When does the store open on Sundays?');
    await widgetShows(visitor.page, 'assistant', 2);
    expect((await widgetTexts(visitor.page, 'assistant'))[1]).toContain('11 am on Sundays');

    const thread = await widgetThread(visitor.page);
    expect(thread.map(([a]) => a)).toEqual(['visitor', 'assistant', 'agent', 'visitor', 'agent', 'visitor', 'assistant']);
    expect(new Set(thread.map(([, , id]) => id)).size).toBe(thread.length);
    expect([...visitor.problems, ...agent.problems]).toEqual([]);
  });

  it('after its server went away, the widget reconnects and shows what it missed once, in order; a reopened page shows the thread once', async () => {
    // A third instance that the test stops and starts again on the same port.
    let apiC = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger });
    const baseC = await listen(apiC);
    const port = (apiC.server.address() as AddressInfo).port;
    try {
      const visitor = await openWidget(baseC);
      const visitorId = (await visitorIdOf(visitor.page))!;
      await visitorSays(visitor.page, 'I need a person please');
      await widgetShows(visitor.page, 'assistant', 1);
      const conversation = await conversationOf(visitorId);
      await statusIs(conversation.id, 'handoff_requested');
      expect((await agentApi(apiB, conversation.id, 'take', { agentId: 'cy' })).statusCode).toBe(200);
      const first = await agentApi(apiB, conversation.id, 'messages', { agentId: 'cy', text: 'Cy here, one moment.' });
      expect(first.statusCode, first.body).toBe(200);
      await widgetShows(visitor.page, 'agent', 1);

      // The visitor's server stops: the socket drops and the page keeps trying.
      await apiC.close();
      await visitor.page.locator('body[data-connection="open"]').waitFor({ state: 'detached' });
      const missed = [`Found it (${randomBytes(3).toString('hex')}).`, 'Your order ships tomorrow.'];
      for (const text of missed) {
        const sent = await agentApi(apiB, conversation.id, 'messages', { agentId: 'cy', text });
        expect(sent.statusCode, sent.body).toBe(200);
        expect(sent.json()).toMatchObject({ status: 'sent' });
      }
      await screenshot(visitor.page, 'webchat-reconnect', 'offline');
      expect(await widgetTexts(visitor.page, 'agent')).toEqual(['Cy here, one moment.']);

      apiC = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger });
      await apiC.listen({ host: '127.0.0.1', port });
      await visitor.page.locator('body[data-connection="open"]').waitFor({ timeout: 30_000 });
      await widgetShows(visitor.page, 'agent', 3);
      const expected = [
        ['visitor', 'I need a person please'],
        ['assistant', HANDOFF_NOTICE],
        ['agent', 'Cy here, one moment.'],
        ['agent', missed[0]],
        ['agent', missed[1]],
      ];
      // One socket delivers in order: once a newer message is shown, a replayed duplicate would be too.
      expect((await agentApi(apiB, conversation.id, 'messages', { agentId: 'cy', text: 'Still there?' })).statusCode).toBe(200);
      expected.push(['agent', 'Still there?']);
      await widgetShows(visitor.page, 'agent', 4);
      const thread = await widgetThread(visitor.page);
      expect(thread.map(([a, t]) => [a, t])).toEqual(expected);
      expect(new Set(thread.map(([, , id]) => id)).size).toBe(expected.length);
      await screenshot(visitor.page, 'webchat-reconnect', 'back');

      // The tab is closed; an agent message meanwhile; the visitor comes back in a new tab
      // (same browser profile: same visitor id) and sees the whole thread once, in order.
      await visitor.page.close();
      const later = await agentApi(apiB, conversation.id, 'messages', { agentId: 'cy', text: 'Anything else?' });
      expect(later.statusCode, later.body).toBe(200);
      const again = await openWidget(baseC, visitor.context);
      expect(await visitorIdOf(again.page)).toBe(visitorId);
      await widgetShows(again.page, 'agent', 5);
      const reopened = await widgetThread(again.page);
      expect(reopened.map(([a, t]) => [a, t])).toEqual([...expected, ['agent', 'Anything else?']]);
      expect(new Set(reopened.map(([, , id]) => id)).size).toBe(reopened.length);
      expect([...visitor.problems, ...again.problems]).toEqual([]);
    } finally {
      await apiC.close();
    }
  });
});
