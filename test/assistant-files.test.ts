// The assistant sends a knowledge document's original file (send_file), end to end against the
// fake Graph API and the fake OpenAI and Anthropic: real conversation workflows on the Temporal dev
// server, real Postgres and document storage. A customer who asks for the brochure (WhatsApp,
// Messenger, Instagram) gets exactly one document message carrying its bytes, also when the
// channel fails the file's send once (the retried attempt does not send the text or the file
// again); a tenant that turned it off gets none.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentStorage } from '../lib/storage.ts';
import { forTenant } from '../lib/tenant-db.ts';
import type { TenantSettingsInput } from '../lib/tenant-settings.ts';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic } from './fakes/anthropic.ts';
import type { FakeLlmServer } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { seedReadyDocument } from './support/documents.ts';
import { connectTestTemporal } from './support/temporal.ts';

const BROCHURE = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2000)]);

describe('the assistant sends documents', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let openai: FakeOpenAi;
  let anthropic: FakeLlmServer;
  let rig: ConversationRig;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    anthropic = await startFakeAnthropic();
    rig = await createConversationRig(temporal.client, {
      llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY }, anthropic: { baseURL: anthropic.url, apiKey: FAKE_ANTHROPIC_KEY } },
    });
    const storage = createDocumentStorage(rig.config);
    await seedReadyDocument(rig.db, rig.tenantId, {
      key: 'brochure', title: 'Bike brochure', content: 'The Acme city bike comes in three sizes and four colours.',
      original: { storage, bytes: BROCHURE, mimeType: 'application/pdf', filename: 'acme-brochure.pdf' },
    });
    // A document without a stored original is never offered.
    await seedReadyDocument(rig.db, rig.tenantId, { key: 'faq', title: 'Store FAQ', content: 'The store opens at 9 am.' });
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await openai?.close();
    await anthropic?.close();
    await temporal?.close();
  });

  const useSettings = (llm: TenantSettingsInput['llm']) => rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm } } });
  const reply = (to: string) => eventually(() => rig.graph.delivered.find((d) => d.to === to), 30_000, `a reply to ${to}`);
  const sentRow = (to: string) =>
    eventually(async () => {
      const row = await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { direction: 'outbound', status: 'sent', conversation: { externalUserId: to } } });
      return row ?? undefined;
    }, 30_000, `the reply to ${to} recorded sent`);

  it('the offline assistant sends the brochure on WhatsApp once, though the first send of the file fails', async () => {
    await useSettings({ provider: 'local' });
    const to = '15551300001';
    let failed = false;
    const stop = rig.graph.failFor((r) => {
      if (failed || r.kind !== 'whatsapp.message' || (r.body as { type?: string }).type !== 'document') return false;
      failed = true;
      return true;
    }, { code: 2, status: 503, isTransient: true });
    await rig.deliver('whatsapp', to, [text('Hi! Could you send me the bike brochure pdf, please?')]);

    const row = await sentRow(to);
    stop();
    expect(failed).toBe(true);
    const documents = rig.graph.deliveredMedia.filter((d) => d.to === to);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ channel: 'whatsapp', type: 'document', mimeType: 'application/pdf', filename: 'acme-brochure.pdf' });
    expect(documents[0]!.bytes).toEqual(BROCHURE);
    // The text went once, before the file; the stored reply names the file.
    expect(rig.graph.delivered.filter((d) => d.to === to).map((d) => d.text)).toEqual(['Here is Bike brochure.']);
    expect(row.content).toMatchObject({ text: 'Here is Bike brochure.', author: 'assistant', attachment: { kind: 'document', mimeType: 'application/pdf', filename: 'acme-brochure.pdf' } });
    expect((row.content as { providerMessageIds: string[] }).providerMessageIds).toHaveLength(2);
  });

  it('the offline assistant sends the brochure to an Instagram customer as one PDF file attachment', async () => {
    await useSettings({ provider: 'local' });
    const to = `igsid-${randomBytes(4).toString('hex')}`;
    await rig.deliver('instagram', to, [text('Can you send me the bike brochure pdf?', `ig_${randomBytes(6).toString('hex')}`)]);
    await sentRow(to);
    const files = rig.graph.deliveredMedia.filter((d) => d.to === to);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ channel: 'instagram', type: 'file', mimeType: 'application/pdf', filename: 'acme-brochure.pdf' });
    expect(files[0]!.bytes).toEqual(BROCHURE);
  });

  it('an OpenAI model calls send_file with a title it was offered, and the Messenger customer gets the file as one attachment', async () => {
    await useSettings({ provider: 'openai' });
    openai.respond((call) =>
      call.tools.includes('send_file') ? { toolCalls: [{ name: 'send_file', arguments: { document: 'Bike brochure', text: 'Here is our brochure.' } }] } : { text: 'No files here.' },
    );
    const to = `psid-${randomBytes(4).toString('hex')}`;
    await rig.deliver('messenger', to, [text('Do you have a brochure?', `m_${randomBytes(6).toString('hex')}`)]);
    await sentRow(to);

    const files = rig.graph.deliveredMedia.filter((d) => d.to === to);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ channel: 'messenger', type: 'file', mimeType: 'application/pdf', filename: 'acme-brochure.pdf' });
    expect(files[0]!.bytes).toEqual(BROCHURE);
    expect(rig.graph.delivered.filter((d) => d.to === to).map((d) => d.text)).toEqual(['Here is our brochure.']);
    // The tool names the documents that have a stored original, and no other.
    const body = openai.requests.at(-1)!.body as { tools: { function: { name: string; parameters: { properties: { document: { enum?: string[] } } } } }[] };
    const tool = body.tools.find((t) => t.function.name === 'send_file')!;
    expect(tool.function.parameters.properties.document.enum).toEqual(['Bike brochure']);
  });

  it('an Anthropic model calls it too: the WhatsApp customer gets one document message', async () => {
    await useSettings({ provider: 'anthropic' });
    anthropic.respond((call) => (call.tools.includes('send_file') ? { toolCalls: [{ name: 'send_file', arguments: { document: 'Bike brochure', text: 'Our brochure.' } }] } : { text: 'No files here.' }));
    const to = '15551300003';
    await rig.deliver('whatsapp', to, [text('Do you have a brochure?')]);
    await sentRow(to);
    const documents = rig.graph.deliveredMedia.filter((d) => d.to === to);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ type: 'document', filename: 'acme-brochure.pdf' });
    expect(documents[0]!.bytes).toEqual(BROCHURE);
    const body = anthropic.requests.at(-1)!.body as { tools: { name: string; input_schema: { properties: { document: { enum?: string[] } } } }[] };
    expect(body.tools.find((t) => t.name === 'send_file')!.input_schema.properties.document.enum).toEqual(['Bike brochure']);
  });

  it('a tenant that turned llm.sendFiles off is offered no send_file, and the offline assistant sends no file', async () => {
    await useSettings({ provider: 'openai', sendFiles: false });
    const before = openai.requests.length;
    const to = `psid-${randomBytes(4).toString('hex')}`;
    await rig.deliver('messenger', to, [text('Do you have a brochure?', `m_${randomBytes(6).toString('hex')}`)]);
    expect((await reply(to)).text).toBe('No files here.');
    const offered = openai.requests.slice(before).map((r) => ((r.body as { tools?: { function: { name: string } }[] }).tools ?? []).map((t) => t.function.name));
    expect(offered.length).toBeGreaterThan(0);
    for (const names of offered) expect(names).not.toContain('send_file');

    await useSettings({ provider: 'local', sendFiles: false });
    const customer = '15551300002';
    await rig.deliver('whatsapp', customer, [text('Could you send me the bike brochure pdf?')]);
    await sentRow(customer);
    expect(rig.graph.deliveredMedia.filter((d) => d.to === customer)).toHaveLength(0);
  });
});
