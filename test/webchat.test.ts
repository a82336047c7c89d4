// The web chat end to end: a visitor's socket on a listening API, the real conversation worker
// answering through the web chat sender, Postgres NOTIFY carrying the reply to whichever API
// instance holds the socket, replay after a cursor, and the widget page.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createChannelActivities } from '../activities/channels/index.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { buildApp, type App } from '../api/app.ts';
import { signalInbound } from '../api/conversation-signal.ts';
import { visitorMessageId } from '../api/webchat/history.ts';
import { createChannel, updateChannel } from '../lib/channels.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { createConversationRig, eventually, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

type Frame = { type: string; [key: string]: unknown };

/** A visitor's socket as a test drives it: every frame kept in order, and how it closed. */
class Visitor {
  readonly frames: Frame[] = [];
  closedWith: { code: number; reason: string } | undefined;
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
    });
    ws.on('error', () => undefined);
  }

  static async connect(base: string, params: Record<string, string>, origin: string | null): Promise<Visitor> {
    const url = `${base.replace(/^http/, 'ws')}/webchat?${new URLSearchParams(params)}`;
    const ws = new WebSocket(url, origin ? { origin } : {});
    const visitor = new Visitor(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return visitor;
  }

  send(frame: unknown): void {
    this.#ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (at or after `from`) that matches. */
  async next(match: (f: Frame) => boolean, what: string, from = 0): Promise<Frame> {
    return eventually(() => this.frames.slice(from).find(match), 30_000, what);
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message');
  }

  async closed(): Promise<{ code: number; reason: string }> {
    return eventually(() => this.closedWith, 10_000, 'socket closed');
  }

  /** Round trip: every frame the server sent before the pong is in `frames` once this returns. */
  async sync(): Promise<void> {
    const from = this.frames.length;
    this.send({ type: 'ping' });
    await this.next((f) => f.type === 'pong', 'pong', from);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.#ws.close(1000);
    return this.closed();
  }
}

const newVisitorId = () => `v_${randomBytes(8).toString('hex')}`;
const newClientId = () => `c_${randomBytes(8).toString('hex')}`;

describe('web chat', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let dbB: Db;
  let apiA: App;
  let apiB: App;
  let baseA: string;
  let baseB: string;
  let widgetId: string;
  let channelId: string;
  let otherTenant: { tenantId: string; widgetId: string };
  const visitors: Visitor[] = [];

  const connect = async (base: string, params: Record<string, string>, origin?: string) => {
    const v = await Visitor.connect(base, params, origin ?? base);
    visitors.push(v);
    return v;
  };
  /** Sends a message and waits for the server to accept it. */
  const say = async (v: Visitor, text: string, clientMessageId = newClientId()) => {
    const from = v.frames.length;
    v.send({ type: 'message', clientMessageId, text });
    return v.next((f) => f.type === 'accepted' && f.clientMessageId === clientMessageId, `accepted ${clientMessageId}`, from);
  };
  const reply = (v: Visitor, from = 0) => v.next((f) => f.type === 'message' && f.author === 'assistant', 'an assistant message', from);

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    const tdb = forTenant(rig.db, rig.tenantId);
    const channel = await createChannel(tdb, rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] });
    widgetId = channel.widgetId!;
    channelId = channel.id;
    await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, webchat: { allowedOrigins: ['https://www.example.org'] } } } });

    const { tenant } = await createTenant(rig.db, { name: 'Other', slug: `other-${randomBytes(4).toString('hex')}` });
    const other = await createChannel(forTenant(rig.db, tenant.id), rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Other site' });
    otherTenant = { tenantId: tenant.id, widgetId: other.widgetId! };

    // Two API instances on one database, as two replicas behind a load balancer would be.
    const logger = createLogger({ level: 'silent', name: 'test' });
    apiA = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger });
    dbB = createDb(rig.config, 'webchat-test-b');
    apiB = await buildApp({ config: rig.config, db: dbB, temporal: temporal.client, logger });
    await apiA.listen({ host: '127.0.0.1', port: 0 });
    await apiB.listen({ host: '127.0.0.1', port: 0 });
    baseA = `http://127.0.0.1:${(apiA.server.address() as AddressInfo).port}`;
    baseB = `http://127.0.0.1:${(apiB.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const v of visitors) if (!v.closedWith) await v.close().catch(() => undefined);
    await apiA?.close();
    await apiB?.close();
    await dbB?.$disconnect();
    await rig?.close();
    await temporal?.close();
  });

  it('refuses a page origin the widget does not allow with 4403, before anything else', async () => {
    const refused = await connect(baseA, { widgetId, visitorId: newVisitorId() }, 'https://evil.example');
    expect(await refused.closed()).toMatchObject({ code: 4403 });
    expect(refused.frames).toEqual([]);
    const noOrigin = await Visitor.connect(baseA, { widgetId, visitorId: newVisitorId() }, null);
    expect(await noOrigin.closed()).toMatchObject({ code: 4403 });

    // The channel's allowed origins, the tenant's, and the API's own (the widget page) are let in.
    for (const origin of ['https://shop.example.com', 'https://www.example.org', baseA]) {
      const v = await connect(baseA, { widgetId, visitorId: newVisitorId() }, origin);
      expect(await v.next((f) => f.type === 'ready', `ready for ${origin}`)).toMatchObject({ type: 'ready', conversationId: null });
      await v.close();
    }
    // Another tenant's allowed origin is not this widget's.
    const elsewhere = await connect(baseA, { widgetId: otherTenant.widgetId, visitorId: newVisitorId() }, 'https://shop.example.com');
    expect(await elsewhere.closed()).toMatchObject({ code: 4403 });
  });

  it('closes with 4404 for an unknown or disabled widget, and 4400 for a malformed visitor id', async () => {
    const unknown = await connect(baseA, { widgetId: 'wc_doesnotexist00000', visitorId: newVisitorId() });
    expect(await unknown.closed()).toMatchObject({ code: 4404 });

    const tdb = forTenant(rig.db, rig.tenantId);
    const disabled = await createChannel(tdb, rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Old site' });
    await updateChannel(tdb, rig.config.SECRETS_KEYS, disabled.id, { status: 'disabled' });
    const off = await connect(baseA, { widgetId: disabled.widgetId!, visitorId: newVisitorId() });
    expect(await off.closed()).toMatchObject({ code: 4404 });

    const bad = await connect(baseA, { widgetId, visitorId: 'short' });
    expect(await bad.closed()).toMatchObject({ code: 4400 });
    expect(bad.frames).toEqual([]);
  });

  it('answers an invalid frame with an error and stays open; an oversized frame closes it with 1009', async () => {
    const v = await connect(baseA, { widgetId, visitorId: newVisitorId() });
    await v.next((f) => f.type === 'ready', 'ready');
    v.send('not json');
    expect(await v.next((f) => f.type === 'error', 'error for non-JSON')).toMatchObject({ code: 'invalid_json' });
    let from = v.frames.length;
    v.send({ type: 'message', clientMessageId: 'short', text: '' });
    const invalid = await v.next((f) => f.type === 'error', 'error for a bad message', from);
    expect(invalid).toMatchObject({ code: 'invalid_frame' });
    expect(String(invalid.message)).toMatch(/clientMessageId/);
    from = v.frames.length;
    v.send({ type: 'message', clientMessageId: newClientId(), text: 'x'.repeat(2001) });
    expect(await v.next((f) => f.type === 'error', 'error for a long text', from)).toMatchObject({ code: 'invalid_frame' });
    from = v.frames.length;
    v.send({ type: 'shout' });
    expect(await v.next((f) => f.type === 'error', 'error for an unknown type', from)).toMatchObject({ code: 'invalid_frame' });
    await v.sync(); // still open and answering

    v.send({ type: 'message', clientMessageId: newClientId(), text: 'y'.repeat(5000) });
    expect(await v.closed()).toMatchObject({ code: 1009 });
  });

  it('refuses the eleventh message within ten seconds with a rate_limited error', async () => {
    const visitorId = newVisitorId();
    const v = await connect(baseA, { widgetId, visitorId });
    await v.next((f) => f.type === 'ready', 'ready');
    // Invalid messages cost nothing; these are valid and are all handed over.
    for (let i = 0; i < 10; i++) v.send({ type: 'message', clientMessageId: newClientId(), text: `thanks ${i}` });
    const from = v.frames.length;
    v.send({ type: 'message', clientMessageId: newClientId(), text: 'one too many' });
    expect(await v.next((f) => f.type === 'error', 'rate limit error', from)).toMatchObject({ code: 'rate_limited' });
    await eventually(() => v.frames.filter((f) => f.type === 'accepted').length === 10, 20_000, 'ten accepted');
  });

  it('hands a visitor message to the conversation workflow and sends the answer over the socket; rows are stored', async () => {
    const visitorId = newVisitorId();
    const v = await connect(baseA, { widgetId, visitorId });
    expect(await v.next((f) => f.type === 'ready', 'ready')).toEqual({ type: 'ready', visitorId, conversationId: null });
    const clientMessageId = newClientId();
    const accepted = await say(v, 'Hello!', clientMessageId);
    expect(accepted.id).toBe(visitorMessageId(channelId, visitorId, clientMessageId));

    const answer = await reply(v);
    expect(answer).toMatchObject({ type: 'message', author: 'assistant', text: 'Hello! How can I help you today?' });
    // The workflow acknowledged the message first: the assistant was shown typing before it answered.
    const typing = v.frames.findIndex((f) => f.type === 'typing');
    expect(v.frames[typing]).toEqual({ type: 'typing', author: 'assistant', state: 'on' });
    expect(typing).toBeLessThan(v.frames.indexOf(answer));
    expect(typeof answer.cursor).toBe('string');
    expect(new Date(String(answer.at)).toISOString()).toBe(answer.at);

    const tdb = forTenant(rig.db, rig.tenantId);
    const conversation = await tdb.conversation.findFirstOrThrow({ where: { channelId, externalUserId: visitorId } });
    const inbound = await tdb.message.findMany({ where: { conversationId: conversation.id, direction: 'inbound' } });
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({ channel: 'webchat', externalMessageId: accepted.id, status: 'received', content: { text: 'Hello!', clientMessageId } });
    await eventually(async () => (await tdb.message.findFirst({ where: { id: String(answer.id) } }))?.status === 'delivered', 30_000, 'reply marked delivered');

    // A second socket of the same visitor (another tab, a reload) is told its conversation and shown the thread.
    const tab = await connect(baseA, { widgetId, visitorId });
    expect(await tab.next((f) => f.type === 'ready', 'ready')).toMatchObject({ conversationId: conversation.id });
    await tab.sync();
    expect(tab.messages().map((m) => [m.author, m.id])).toEqual([['visitor', accepted.id], ['assistant', answer.id]]);
    expect(tab.messages()[0]).toMatchObject({ text: 'Hello!', clientMessageId });
  });

  it('stores and answers a message resent with the same clientMessageId once', async () => {
    const visitorId = newVisitorId();
    const v = await connect(baseA, { widgetId, visitorId });
    await v.next((f) => f.type === 'ready', 'ready');
    const clientMessageId = newClientId();
    // Twice at once (before it is stored: the workflow drops the repeat)…
    v.send({ type: 'message', clientMessageId, text: 'Hello!' });
    const first = await say(v, 'Hello!', clientMessageId);
    await reply(v);
    // …and again after a reconnect, once it is stored (the socket finds it and signals nothing).
    const again = await connect(baseA, { widgetId, visitorId });
    await again.next((f) => f.type === 'ready', 'ready');
    const resent = await say(again, 'Hello!', clientMessageId);
    expect(resent.id).toBe(first.id);
    // A new message after them: Temporal delivers signals in order, so its answer comes after any answer to a repeat.
    const from = v.frames.length;
    await say(v, 'thanks');
    expect(await reply(v, from)).toMatchObject({ text: "You're welcome! Anything else I can help with?" });

    const tdb = forTenant(rig.db, rig.tenantId);
    expect(await tdb.message.count({ where: { channel: 'webchat', externalMessageId: String(first.id) } })).toBe(1);
    const conversation = await tdb.conversation.findFirstOrThrow({ where: { channelId, externalUserId: visitorId } });
    expect(await tdb.message.count({ where: { conversationId: conversation.id, direction: 'outbound' } })).toBe(2);
    expect(v.messages().filter((m) => m.author === 'assistant')).toHaveLength(2);
  });

  it('replays what a visitor missed after its cursor, in order, and marks it delivered', async () => {
    const visitorId = newVisitorId();
    const tdb = forTenant(rig.db, rig.tenantId);
    const first = await connect(baseA, { widgetId, visitorId });
    await first.next((f) => f.type === 'ready', 'ready');
    await say(first, 'Hello!');
    const seen = await reply(first);
    await first.close();

    // The visitor is away: a message of theirs reaches the conversation (e.g. sent just before the
    // page closed) and the answer finds no socket anywhere, so it stays `sent`.
    const clientMessageId = newClientId();
    const missedId = visitorMessageId(channelId, visitorId, clientMessageId);
    await signalInbound({ temporal: temporal.client, config: rig.config }, {
      tenantId: rig.tenantId, channel: 'webchat', channelId, externalUserId: visitorId,
      messages: [{ externalMessageId: missedId, sentAt: Date.now(), kind: 'text', text: 'thanks', content: { clientMessageId } }],
    });
    const conversation = await tdb.conversation.findFirstOrThrow({ where: { channelId, externalUserId: visitorId } });
    const missed = await eventually(
      () => tdb.message.findFirst({ where: { conversationId: conversation.id, direction: 'outbound', status: 'sent', id: { not: String(seen.id) } } }).then((m) => m ?? undefined),
      30_000,
      'the missed answer stored as sent',
    );

    const back = await connect(baseB, { widgetId, visitorId, after: String(seen.cursor) });
    await back.next((f) => f.type === 'ready', 'ready');
    await back.next((f) => f.type === 'message' && f.id === missed.id, 'the missed answer');
    await back.sync();
    expect(back.messages().map((m) => [m.author, m.id, m.text])).toEqual([
      ['visitor', missedId, 'thanks'],
      ['assistant', missed.id, "You're welcome! Anything else I can help with?"],
    ]);
    await eventually(async () => (await tdb.message.findFirst({ where: { id: missed.id } }))?.status === 'delivered', 30_000, 'replayed answer marked delivered');

    // Replay from the last cursor again: nothing new, no repeats.
    const last = back.messages().at(-1)!;
    const again = await connect(baseA, { widgetId, visitorId, after: String(last.cursor) });
    await again.next((f) => f.type === 'ready', 'ready');
    await again.sync();
    expect(again.messages()).toEqual([]);
  });

  it('delivers the reply to every tab of the visitor, whichever API instance holds it', async () => {
    const visitorId = newVisitorId();
    const onA = await connect(baseA, { widgetId, visitorId });
    const onB = await connect(baseB, { widgetId, visitorId });
    await onA.next((f) => f.type === 'ready', 'ready on A');
    await onB.next((f) => f.type === 'ready', 'ready on B');
    await say(onA, 'Hello!');
    const [a, b] = await Promise.all([reply(onA), reply(onB)]);
    expect(a).toEqual(b);

    // A visitor whose only socket is on B gets the answer to a message sent there.
    const onlyB = await connect(baseB, { widgetId, visitorId: newVisitorId() });
    await onlyB.next((f) => f.type === 'ready', 'ready');
    await say(onlyB, 'Hello!');
    expect(await reply(onlyB)).toMatchObject({ text: 'Hello! How can I help you today?' });
  });

  it('after its LISTEN connection was cut, an instance replays to its open sockets what they may have missed', async () => {
    const visitorId = newVisitorId();
    const v = await connect(baseA, { widgetId, visitorId });
    await v.next((f) => f.type === 'ready', 'ready');
    await say(v, 'Hello!');
    await reply(v);
    const tdb = forTenant(rig.db, rig.tenantId);
    const conversation = await tdb.conversation.findFirstOrThrow({ where: { channelId, externalUserId: visitorId } });
    // A reply whose NOTIFY never reached this instance: stored, never published.
    const lost = await tdb.message.create({
      data: tenantData<Prisma.MessageUncheckedCreateInput>({
        conversationId: conversation.id, channel: 'webchat', direction: 'outbound', type: 'text', content: { text: 'Sent while you were away', author: 'agent' }, status: 'sent',
      }),
    });
    const killed = await rig.db.$queryRaw<{ pid: number }[]>`
      SELECT pg_terminate_backend(pid)::int AS pid FROM pg_stat_activity
      WHERE application_name = 'metachat-webchat-listener' AND datname = current_database()`;
    expect(killed.length).toBe(2); // one per API instance
    const caught = await v.next((f) => f.type === 'message' && f.id === lost.id, 'the lost reply after the listener is back');
    expect(caught).toMatchObject({ author: 'agent', text: 'Sent while you were away' });
    await v.sync();
    expect(v.messages().filter((m) => m.id === lost.id)).toHaveLength(1);
    await eventually(async () => (await tdb.message.findFirst({ where: { id: lost.id } }))?.status === 'delivered', 30_000, 'caught-up reply marked delivered');
  });

  it('forwards typing indicators published by the channel activity; a visitor typing frame is accepted', async () => {
    const visitorId = newVisitorId();
    const v = await connect(baseB, { widgetId, visitorId });
    await v.next((f) => f.type === 'ready', 'ready');
    const from = v.frames.length;
    v.send({ type: 'typing', state: 'on' });
    await v.sync();
    expect(v.frames.slice(from).filter((f) => f.type === 'error')).toEqual([]);

    const activities = createChannelActivities({ db: rig.db, keyring: rig.config.SECRETS_KEYS, graphApiUrl: rig.graph.url });
    await activities.acknowledgeInbound({ tenantId: rig.tenantId, channelId, to: visitorId, lastMessageId: 'unused' });
    expect(await v.next((f) => f.type === 'typing', 'typing')).toEqual({ type: 'typing', author: 'assistant', state: 'on' });
  });

  it('never shows one tenant\'s messages on another tenant\'s widget, even for the same visitor id', async () => {
    const visitorId = newVisitorId();
    const mine = await connect(baseA, { widgetId, visitorId });
    await mine.next((f) => f.type === 'ready', 'ready');
    await say(mine, 'Hello!');
    const answer = await reply(mine);

    const theirs = await connect(baseA, { widgetId: otherTenant.widgetId, visitorId });
    expect(await theirs.next((f) => f.type === 'ready', 'ready')).toMatchObject({ conversationId: null });
    const withCursor = await connect(baseA, { widgetId: otherTenant.widgetId, visitorId, after: String(answer.cursor) });
    await withCursor.next((f) => f.type === 'ready', 'ready');
    // While both are open, the first tenant's visitor gets another answer.
    const from = mine.frames.length;
    await say(mine, 'thanks');
    await reply(mine, from);
    await theirs.sync();
    await withCursor.sync();
    expect(theirs.messages()).toEqual([]);
    expect(withCursor.messages()).toEqual([]);
  });
});

describe('web chat widget page', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let widgetId: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    const channel = await createChannel(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] });
    widgetId = channel.widgetId!;
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  it('serves the page with its own CSP: own scripts only, a socket to this host, framed by the allowed origins', async () => {
    const res = await app.inject({ url: `/webchat/widget/${widgetId}`, headers: { host: 'chat.example.net' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['x-frame-options']).toBeUndefined();
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain('connect-src \'self\' ws://chat.example.net wss://chat.example.net');
    expect(csp).toContain("frame-ancestors 'self' https://shop.example.com");
    // The DOM the widget's script and the browser tests rely on, and no inline script.
    for (const part of ['data-connection="connecting"', 'id="messages"', 'id="typing" class="typing" hidden', 'id="composer"', 'name="text"', 'type="submit"', 'src="/webchat/assets/widget.js"', 'href="/webchat/assets/widget.css"']) {
      expect(res.body).toContain(part);
    }
    expect(res.body).not.toMatch(/<script>(?!<\/script>)/);

    const js = await app.inject({ url: '/webchat/assets/widget.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('metachat.visitor.');
    const css = await app.inject({ url: '/webchat/assets/widget.css' });
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect((await app.inject({ url: '/webchat/assets/..%2Fsocket.ts' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/webchat/assets/widget.html' })).statusCode).toBe(404);
  });

  it('keeps the strict API policy everywhere else', async () => {
    const res = await app.inject({ url: '/health/live' });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).not.toContain('ws://');
    const unknown = await app.inject({ url: `/webchat/widget/wc_unknown000000000` });
    expect(unknown.statusCode).toBe(200); // the socket answers 4404 and the page shows it
    expect(String(unknown.headers['content-security-policy'])).toMatch(/frame-ancestors 'self'$/);
    expect((await app.inject({ url: '/webchat/widget/not%20valid' })).statusCode).toBe(404);
  });
});
