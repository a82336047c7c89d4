// Streamed answers on web chat: the real conversation worker asks the fake OpenAI server with
// `stream: true` (through the official SDK), the pieces travel as drafts over Postgres NOTIFY to
// the visitor's socket, and the stored reply follows under the draft's id, once.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { createChannel } from '../lib/channels.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';
import { requestVisitor, Visitor, type Frame } from './support/webchat.ts';

const ANSWER = 'Thanks! We will write to [EMAIL_1] today with the tracking number of your blue city bike and the date it ships.';
const EMAIL = 'ann.visitor@example.com';

describe('web chat streaming', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let openai: FakeOpenAi;
  let rig: ConversationRig;
  let api: App;
  let base: string;
  let widgetId: string;
  const visitors: Visitor[] = [];

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    rig = await createConversationRig(temporal.client, { settings: { llm: { provider: 'openai' } }, llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY } } });
    await rig.startWorkers(temporal.nativeConnection);
    widgetId = (await createChannel(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site', allowedOrigins: [] })).widgetId!;
    api = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    await api.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const v of visitors) if (!v.closedWith) await v.close().catch(() => undefined);
    await api?.close();
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });
  beforeEach(() => {
    openai.reset();
    // The model repeats the visitor's address as the placeholder it was given.
    openai.respond(() => ({ text: ANSWER }));
  });

  /** A new visitor asks; resolves with the socket once the assistant's reply arrived. */
  async function ask(text: string): Promise<{ v: Visitor; reply: Frame }> {
    const visitor = await requestVisitor(base, widgetId);
    expect(visitor.status).toBe(201);
    const v = await Visitor.connect(base, { widgetId, token: visitor.body.token }, base);
    visitors.push(v);
    await v.next((f) => f.type === 'ready', 'ready');
    v.send({ type: 'message', clientMessageId: `c_${randomBytes(8).toString('hex')}`, text });
    const reply = await v.next((f) => f.type === 'message' && f.author === 'assistant', 'the reply');
    await v.sync();
    return { v, reply };
  }
  const draftsOf = (v: Visitor, id: unknown) => v.frames.filter((f) => f.type === 'draft' && f.id === id);
  const joined = (frames: Frame[]) => frames.map((f) => String(f.text)).join('');

  it('sends the reply in pieces as the model writes it, restored, then the stored reply under the same id once', async () => {
    const { v, reply } = await ask(`Where is my bike? Write to ${EMAIL}`);
    const expected = ANSWER.replace('[EMAIL_1]', EMAIL);
    expect(reply.text).toBe(expected);

    const drafts = draftsOf(v, reply.id);
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    expect(drafts.map((f) => f.seq)).toEqual(drafts.map((_, i) => i));
    expect(new Set(drafts.map((f) => f.attempt))).toEqual(new Set([1]));
    const text = joined(drafts);
    expect(expected.startsWith(text)).toBe(true);
    expect(text).toContain(EMAIL); // restored as the reply is, never a placeholder or half of one
    expect(v.frames.some((f) => f.type === 'draft' && String(f.text).includes('['))).toBe(false);
    // Every draft came before the reply, which came once.
    expect(v.frames.findIndex((f) => f === reply)).toBeGreaterThan(v.frames.indexOf(drafts.at(-1)!));
    expect(v.messages().filter((m) => m.id === reply.id)).toHaveLength(1);

    // One streamed request, the address left out of it.
    expect(openai.requests).toHaveLength(1);
    const body = openai.requests[0]!.body as { stream?: unknown; stream_options?: unknown };
    expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(JSON.stringify(body)).not.toContain(EMAIL);
  });

  it('starts the draft afresh when a stream broke off and the attempt is retried; the reply is sent once', async () => {
    openai.cutStreams(1);
    const { v, reply } = await ask(`Where is my bike? Write to ${EMAIL}`);
    expect(openai.requests.map((r) => r.status)).toEqual([200, 200]);
    const drafts = draftsOf(v, reply.id);
    const first = drafts.filter((f) => f.attempt === 1);
    const second = drafts.filter((f) => f.attempt === 2);
    expect(first.length).toBeGreaterThanOrEqual(1);
    expect(second.length).toBeGreaterThanOrEqual(2);
    // The broken attempt's text was withdrawn before the retry streamed from piece 0 again.
    const cleared = v.frames.findIndex((f) => f.type === 'draft_cleared' && f.id === reply.id);
    expect(cleared).toBeGreaterThan(v.frames.indexOf(first.at(-1)!));
    expect(cleared).toBeLessThan(v.frames.indexOf(second[0]!));
    expect(second.map((f) => f.seq)).toEqual(second.map((_, i) => i));
    expect(reply.text!.toString().startsWith(joined(second))).toBe(true);
    expect(v.messages().filter((m) => m.author === 'assistant')).toHaveLength(1);
    const stored = await forTenant(rig.db, rig.tenantId).message.count({ where: { id: String(reply.id) } });
    expect(stored).toBe(1);
  });

  it('withdraws the text of a tool round and streams the answer of the next round afresh', async () => {
    openai.respond((call) =>
      call.toolResults.length === 0 ? { text: 'Let me look that up.', toolCalls: [{ name: 'search_knowledge', arguments: { query: 'delivery' } }] } : { text: ANSWER },
    );
    const { v, reply } = await ask('Where is my bike?');
    expect(openai.requests).toHaveLength(2);
    const frames = v.frames.filter((f) => (f.type === 'draft' || f.type === 'draft_cleared') && f.id === reply.id);
    const cleared = frames.findIndex((f) => f.type === 'draft_cleared');
    expect(cleared).toBeGreaterThan(0);
    // Shown as it came (the pieces still batched when the tool call began are dropped), then withdrawn.
    const shown = joined(frames.slice(0, cleared));
    expect(shown).not.toBe('');
    expect('Let me look that up.'.startsWith(shown)).toBe(true);
    const answer = frames.slice(cleared + 1);
    expect(answer.length).toBeGreaterThanOrEqual(2);
    expect(answer.map((f) => f.seq)).toEqual(answer.map((_, i) => i));
    expect(String(reply.text).startsWith(joined(answer))).toBe(true);
    expect(String(reply.text)).not.toContain('Let me look');
  });

  it('sends the reply whole when the tenant turned streaming off', async () => {
    await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm: { provider: 'openai' }, webchat: { streaming: false } } } });
    try {
      const { v, reply } = await ask('Where is my bike?');
      expect(reply.text).toBe(ANSWER);
      expect(v.frames.filter((f) => f.type === 'draft' || f.type === 'draft_cleared')).toEqual([]);
      expect((openai.requests[0]!.body as { stream?: unknown }).stream).toBeUndefined();
    } finally {
      await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm: { provider: 'openai' } } } });
    }
  });
});
