// Choices and files in the web chat widget, in a real browser (Debian's Chromium through
// playwright-core), against the API, a real conversation worker, Temporal, Postgres and the fake
// OpenAI: the assistant offers choices (offer_choices), the widget shows them as buttons, a tap
// comes back as the visitor's next turn (stored as a button reply), and the assistant's answer to
// it, a brochure (send_file), shows as a link whose signed URL serves the file's bytes. An agent's
// choices and image show the same way.
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../api/app.ts';
import { createChannel } from '../../lib/channels.ts';
import { createApiKey } from '../../lib/tenants.ts';
import { createLogger } from '../../lib/logger.ts';
import { createDocumentStorage } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { bearer } from '../support/api.ts';
import { launchBrowser, listen, screenshot } from '../support/browser.ts';
import { createConversationRig, eventually, type ConversationRig } from '../support/conversations.ts';
import { seedReadyDocument } from '../support/documents.ts';
import { connectTestTemporal } from '../support/temporal.ts';

const BROCHURE = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(1500)]);
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('web chat choices and files in a browser', { timeout: 120_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let openai: FakeOpenAi;
  let rig: ConversationRig;
  let app: App;
  let base: string;
  let browser: Browser;
  let widgetId: string;
  let key: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    rig = await createConversationRig(temporal.client, { llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY } }, settings: { llm: { provider: 'openai' } } });
    await seedReadyDocument(rig.db, rig.tenantId, {
      key: 'touring', title: 'Touring brochure', content: 'The Acme touring bike carries 30 kg of luggage.',
      original: { storage: createDocumentStorage(rig.config), bytes: BROCHURE, mimeType: 'application/pdf', filename: 'touring.pdf' },
    });
    await rig.startWorkers(temporal.nativeConnection);
    widgetId = (await createChannel(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site chat', allowedOrigins: [] })).widgetId!;
    key = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'inbox', scope: 'tenant' })).key;
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    base = await listen(app);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });

  it('shows offered choices as buttons; a tap is the next turn, answered with a file the widget links to', async () => {
    openai.respond((call) =>
      call.messages.at(-1)?.text === 'Touring'
        ? { toolCalls: [{ name: 'send_file', arguments: { document: 'Touring brochure', text: 'Here is the touring brochure.' } }] }
        : { toolCalls: [{ name: 'offer_choices', arguments: { text: 'Which bike are you after?', choices: [{ id: 'city', title: 'City' }, { id: 'touring', title: 'Touring' }] } }] },
    );
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${base}/webchat/widget/${widgetId}`);
    await page.locator('body[data-connection="open"]').waitFor();

    await page.fill('#composer textarea[name=text]', 'I need a bike');
    await page.press('#composer textarea[name=text]', 'Enter');
    const offer = page.locator('#messages .message[data-author="assistant"]').first();
    await offer.locator('.choices button').nth(1).waitFor();
    expect(await offer.locator('.text').textContent()).toBe('Which bike are you after?');
    expect(await offer.locator('.choices button').allTextContents()).toEqual(['City', 'Touring']);
    await screenshot(page, 'webchat-choices', 'buttons');

    await offer.locator('.choices button', { hasText: 'Touring' }).click();
    expect(await offer.locator('.choices button').evaluateAll((els) => els.map((b) => (b as unknown as { disabled: boolean }).disabled))).toEqual([true, true]);
    const answer = page.locator('#messages .message[data-author="assistant"]').nth(1);
    await answer.locator('a.file').waitFor();
    expect(await page.locator('#messages .message[data-author="visitor"] .text').allTextContents()).toEqual(['I need a bike', 'Touring']);
    expect(await answer.locator('.text').textContent()).toBe('Here is the touring brochure.');
    expect(await answer.locator('a.file').textContent()).toBe('touring.pdf');
    await screenshot(page, 'webchat-choices', 'file');

    // A fresh page replays the thread: the offer's buttons are shown, and done with.
    await page.reload();
    await page.locator('#messages .message[data-author="assistant"] a.file').waitFor();
    const replayed = page.locator('#messages .message[data-author="assistant"]').first().locator('.choices button');
    expect(await replayed.allTextContents()).toEqual(['City', 'Touring']);
    expect(await replayed.evaluateAll((els) => els.map((b) => (b as unknown as { disabled: boolean }).disabled))).toEqual([true, true]);

    // The tap came in as a button reply, with the choice's id.
    const tap = await eventually(
      async () => (await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { channel: 'webchat', direction: 'inbound', type: 'interactive' } })) ?? undefined,
      10_000, 'the tap stored',
    );
    expect(tap.content).toMatchObject({ text: 'Touring', interactiveType: 'button_reply', replyId: 'touring' });

    // The link serves the file; a link whose signature is altered serves nothing.
    const href = (await answer.locator('a.file').getAttribute('href'))!;
    const file = await fetch(new URL(href, base));
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/pdf');
    expect(file.headers.get('content-disposition')).toContain('attachment; filename="touring.pdf"');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(BROCHURE);
    const forged = new URL(href, base);
    const sig = forged.searchParams.get('sig')!;
    forged.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
    expect((await fetch(forged)).status).toBe(404);
    expect(problems).toEqual([]);
  });

  it("shows an agent's choices as buttons and its image as a picture; the visitor's tap reaches the agent's conversation", async () => {
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${base}/webchat/widget/${widgetId}`);
    await page.locator('body[data-connection="open"]').waitFor();
    await page.fill('#composer textarea[name=text]', 'I want a human');
    await page.press('#composer textarea[name=text]', 'Enter');
    const visitorId = await page.evaluate<string>(`JSON.parse(atob(localStorage.getItem('metachat.token.${widgetId}').split('.')[2].replace(/-/g, '+').replace(/_/g, '/'))).v`);
    const conversation = await eventually(
      async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: visitorId, status: 'handoff_requested' } })) ?? undefined,
      20_000, 'the handoff requested',
    );
    const api = (path: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/conversations/${conversation.id}/${path}`, headers: bearer(key), payload });
    expect((await api('take', { agentId: 'agent-1' })).statusCode).toBe(200);
    const sent = await api('messages', {
      agentId: 'agent-1', text: 'Is this your store?', choices: { items: [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'No' }] },
      attachment: { filename: 'store.png', mimeType: 'image/png', data: PNG.toString('base64') },
    });
    expect(sent.json()).toMatchObject({ status: 'sent' });

    const message = page.locator('#messages .message[data-author="agent"]').first();
    await message.locator('.choices button').nth(1).waitFor();
    expect(await message.locator('.text').textContent()).toBe('Is this your store?');
    expect(await message.locator('a.file img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(1);
    await message.locator('.choices button', { hasText: 'Yes' }).click();
    const tap = await eventually(
      async () => (await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { conversationId: conversation.id, direction: 'inbound', type: 'interactive' } })) ?? undefined,
      10_000, 'the tap stored',
    );
    expect(tap.content).toMatchObject({ replyId: 'yes', interactiveType: 'button_reply' });
    expect(problems).toEqual([]);
  });
});
