// The web chat end to end: visitor tokens, a visitor's socket on a listening API, the real
// conversation worker answering through the web chat sender, Postgres NOTIFY carrying the reply to
// whichever API instance holds the socket, replay after a cursor, and the widget page. (Its
// limits: test/webchat-limits.test.ts.)
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelActivities } from '../activities/channels/index.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { buildApp, type App } from '../api/app.ts';
import { signalInbound } from '../api/conversation-signal.ts';
import { visitorMessageId } from '../api/webchat/history.ts';
import { VisitorTokens } from '../api/webchat/visitor-token.ts';
import { createChannel, updateChannel } from '../lib/channels.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { createConversationRig, eventually, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';
import { requestVisitor, Visitor } from './support/webchat.ts';

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
  let otherTenant: { tenantId: string; widgetId: string; channelId: string };
  const visitors: Visitor[] = [];

  const connect = async (base: string, params: Record<string, string>, origin?: string) => {
    const v = await Visitor.connect(base, params, origin ?? base);
    visitors.push(v);
    return v;
  };
  /** A new visitor of the widget: its token and the visitor id the server chose. */
  const newVisitor = async (widget = widgetId) => {
    const res = await requestVisitor(baseA, widget);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
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
    otherTenant = { tenantId: tenant.id, widgetId: other.widgetId!, channelId: other.id };

    // Two API instances on one database, as two replicas behind a load balancer would be. Every
    // visitor here comes from 127.0.0.1: the per-IP limits are out of the way.
    const logger = createLogger({ level: 'silent', name: 'test' });
    const config = { ...rig.config, WEBCHAT_VISITORS_PER_HOUR_PER_IP: 10_000, WEBCHAT_MESSAGES_PER_MINUTE_PER_IP: 10_000 };
    apiA = await buildApp({ config, db: rig.db, temporal: temporal.client, logger });
    dbB = createDb(rig.config, 'webchat-test-b');
    apiB = await buildApp({ config, db: dbB, temporal: temporal.client, logger });
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
    const { token } = await newVisitor();
    const refused = await connect(baseA, { widgetId, token }, 'https://evil.example');
    expect(await refused.closed()).toMatchObject({ code: 4403 });
    expect(refused.frames).toEqual([]);
    const noOrigin = await Visitor.connect(baseA, { widgetId, token }, null);
    expect(await noOrigin.closed()).toMatchObject({ code: 4403 });

    // The channel's allowed origins, the tenant's, and the API's own (the widget page) are let in.
    for (const origin of ['https://shop.example.com', 'https://www.example.org', baseA]) {
      const v = await connect(baseA, { widgetId, token }, origin);
      expect(await v.next((f) => f.type === 'ready', `ready for ${origin}`)).toMatchObject({ type: 'ready', conversationId: null });
      await v.close();
    }
    // Another tenant's allowed origin is not this widget's.
    const elsewhere = await connect(baseA, { widgetId: otherTenant.widgetId, token: (await newVisitor(otherTenant.widgetId)).token }, 'https://shop.example.com');
    expect(await elsewhere.closed()).toMatchObject({ code: 4403 });
  });

  it('closes with 4404 for an unknown or disabled widget', async () => {
    const { token } = await newVisitor();
    const unknown = await connect(baseA, { widgetId: 'wc_doesnotexist00000', token });
    expect(await unknown.closed()).toMatchObject({ code: 4404 });

    const tdb = forTenant(rig.db, rig.tenantId);
    const disabled = await createChannel(tdb, rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Old site' });
    await updateChannel(tdb, rig.config.SECRETS_KEYS, disabled.id, { status: 'disabled' });
    const off = await connect(baseA, { widgetId: disabled.widgetId!, token });
    expect(await off.closed()).toMatchObject({ code: 4404 });
    expect((await requestVisitor(baseA, disabled.widgetId!)).status).toBe(404);
  });

  it('issues a visitor token to the widget page and to the origins the widget allows, and nothing else', async () => {
    const issued = await requestVisitor(baseA, widgetId, 'https://shop.example.com');
    expect(issued.status).toBe(201);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    expect(issued.body.visitorId).toMatch(/^wv_[A-Za-z0-9_-]{22}$/);
    expect(new Date(issued.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 89 * 24 * 3600_000);
    // The socket's visitor is the token's.
    const v = await connect(baseB, { widgetId, token: issued.body.token });
    expect(await v.next((f) => f.type === 'ready', 'ready')).toEqual({ type: 'ready', visitorId: issued.body.visitorId, conversationId: null });
    expect((await newVisitor()).visitorId).not.toBe(issued.body.visitorId);

    const refusals = [
      [await requestVisitor(baseA, widgetId, 'https://evil.example'), 403, 'origin_not_allowed'],
      [await requestVisitor(baseA, widgetId, null), 403, 'origin_not_allowed'],
      [await requestVisitor(baseA, 'wc_doesnotexist00000'), 404, 'unknown_widget'],
      [await requestVisitor(baseA, 'bad id!'), 400, 'validation_error'],
    ] as const;
    for (const [res, status, code] of refusals) {
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
    }
    const post = (body: string, contentType = 'application/json') => fetch(`${baseA}/webchat/visitors`, { method: 'POST', headers: { 'content-type': contentType, origin: baseA }, body });
    expect((await post(JSON.stringify({ widgetId, visitorId: 'v_mine12345' }))).status).toBe(400);
    expect((await post('{"widgetId":')).status).toBe(400);
    expect((await post(widgetId, 'text/plain')).status).toBe(400);
    expect((await post(`<widgetId>${widgetId}</widgetId>`, 'application/xml')).status).toBe(415);
    expect((await post(JSON.stringify({ widgetId: 'x'.repeat(2 * 1024 * 1024) }))).status).toBe(413);
    // Every status it answers is in the OpenAPI document.
    const spec = (await apiA.inject({ url: '/docs/json' })).json() as { paths: Record<string, { post: { responses: Record<string, unknown> } }> };
    expect(Object.keys(spec.paths['/webchat/visitors']!.post.responses).sort()).toEqual(['201', '400', '403', '404', '413', '415', '429']);
  });

  it('refuses a client-chosen visitor id, and a forged, expired or other widget\'s token, with 4401 before anything is sent', async () => {
    const { token, visitorId } = await newVisitor();
    const [v, kid, payload, sig] = token.split('.') as [string, string, string, string];
    const chosen = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), v: 'v_chosen_by_me' })).toString('base64url');
    const dayMs = 24 * 3600_000;
    const cases: [string, Record<string, string>][] = [
      ['a visitorId of its own', { widgetId, visitorId: 'v_0123456789abcdef' }],
      ['a visitorId beside its valid token', { widgetId, visitorId, token }],
      ['no token', { widgetId }],
      ['a changed visitor id', { widgetId, token: `${v}.${kid}.${chosen}.${sig}` }],
      ['another widget\'s token', { widgetId, token: (await newVisitor(otherTenant.widgetId)).token }],
      ['an expired token', { widgetId, token: new VisitorTokens(rig.config.SECRETS_KEYS, () => Date.now() - 91 * dayMs).issue(channelId).token }],
      ['a token under another key', { widgetId, token: new VisitorTokens([{ id: kid, key: randomBytes(32) }]).issue(channelId).token }],
    ];
    for (const [what, params] of cases) {
      const refused = await connect(baseA, params);
      const closed = await refused.closed();
      expect(closed.code, what).toBe(4401);
      expect(closed.reason, what).toMatch(/visitor token/);
      expect(refused.frames, what).toEqual([]);
    }
  });

  it('hands a socket whose token is more than a day old a fresh one for the same visitor', async () => {
    const tokens = new VisitorTokens(rig.config.SECRETS_KEYS);
    const old = new VisitorTokens(rig.config.SECRETS_KEYS, () => Date.now() - 2 * 24 * 3600_000).issue(channelId);
    const v = await connect(baseA, { widgetId, token: old.token });
    const ready = await v.next((f) => f.type === 'ready', 'ready');
    expect(ready.visitorId).toBe(old.visitorId);
    const renewed = tokens.verify(String(ready.token), channelId);
    expect(renewed.ok && renewed.claims.visitorId).toBe(old.visitorId);
    expect(renewed.ok && Date.now() - renewed.claims.issuedAt.getTime()).toBeLessThan(60_000);
    // A token of today is kept as it is.
    const fresh = await connect(baseA, { widgetId, token: String(ready.token) });
    expect(await fresh.next((f) => f.type === 'ready', 'ready')).not.toHaveProperty('token');
  });

  it('answers an invalid frame with an error and stays open; an oversized frame closes it with 1009', async () => {
    const v = await connect(baseA, { widgetId, token: (await newVisitor()).token });
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

  it('hands a visitor message to the conversation workflow and sends the answer over the socket; rows are stored', async () => {
    const { token, visitorId } = await newVisitor();
    const v = await connect(baseA, { widgetId, token });
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
    const tab = await connect(baseA, { widgetId, token });
    expect(await tab.next((f) => f.type === 'ready', 'ready')).toMatchObject({ conversationId: conversation.id });
    await tab.sync();
    expect(tab.messages().map((m) => [m.author, m.id])).toEqual([['visitor', accepted.id], ['assistant', answer.id]]);
    expect(tab.messages()[0]).toMatchObject({ text: 'Hello!', clientMessageId });
  });

  it('stores and answers a message resent with the same clientMessageId once', async () => {
    const { token, visitorId } = await newVisitor();
    const v = await connect(baseA, { widgetId, token });
    await v.next((f) => f.type === 'ready', 'ready');
    const clientMessageId = newClientId();
    // Twice at once (before it is stored: the workflow drops the repeat)…
    v.send({ type: 'message', clientMessageId, text: 'Hello!' });
    const first = await say(v, 'Hello!', clientMessageId);
    await reply(v);
    // …and again after a reconnect, once it is stored (the socket finds it and signals nothing).
    const again = await connect(baseA, { widgetId, token });
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
    const { token, visitorId } = await newVisitor();
    const tdb = forTenant(rig.db, rig.tenantId);
    const first = await connect(baseA, { widgetId, token });
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

    const back = await connect(baseB, { widgetId, token, after: String(seen.cursor) });
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
    const again = await connect(baseA, { widgetId, token, after: String(last.cursor) });
    await again.next((f) => f.type === 'ready', 'ready');
    await again.sync();
    expect(again.messages()).toEqual([]);
  });

  it('delivers the reply to every tab of the visitor, whichever API instance holds it', async () => {
    const { token, visitorId } = await newVisitor();
    const onA = await connect(baseA, { widgetId, token });
    const onB = await connect(baseB, { widgetId, token });
    await onA.next((f) => f.type === 'ready', 'ready on A');
    await onB.next((f) => f.type === 'ready', 'ready on B');
    await say(onA, 'Hello!');
    const [a, b] = await Promise.all([reply(onA), reply(onB)]);
    expect(a).toEqual(b);

    // A visitor whose only socket is on B gets the answer to a message sent there.
    const onlyB = await connect(baseB, { widgetId, token: (await newVisitor()).token });
    await onlyB.next((f) => f.type === 'ready', 'ready');
    await say(onlyB, 'Hello!');
    expect(await reply(onlyB)).toMatchObject({ text: 'Hello! How can I help you today?' });
  });

  it('after its LISTEN connection was cut, an instance replays to its open sockets what they may have missed', async () => {
    const { token, visitorId } = await newVisitor();
    const v = await connect(baseA, { widgetId, token });
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
    const { token, visitorId } = await newVisitor();
    const v = await connect(baseB, { widgetId, token });
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
    const { token, visitorId } = await newVisitor();
    const mine = await connect(baseA, { widgetId, token });
    await mine.next((f) => f.type === 'ready', 'ready');
    await say(mine, 'Hello!');
    const answer = await reply(mine);

    // A token for the same visitor id on the other tenant's widget (no one could get one, but even so).
    const same = new VisitorTokens(rig.config.SECRETS_KEYS).issue(otherTenant.channelId, visitorId).token;
    const theirs = await connect(baseA, { widgetId: otherTenant.widgetId, token: same });
    expect(await theirs.next((f) => f.type === 'ready', 'ready')).toMatchObject({ conversationId: null });
    const withCursor = await connect(baseA, { widgetId: otherTenant.widgetId, token: same, after: String(answer.cursor) });
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
    expect(js.body).toContain('metachat.token.');
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
