// Web chat limits against two API processes sharing the Postgres rate-limit store
// (RATE_LIMIT_STORE=postgres), behind a proxy that names the client (TRUST_PROXY, X-Forwarded-For):
// messages per minute per visitor, per client IP (IPv6 as its /56) and per widget, and new visitor
// tokens per IP per hour. A refused message gets a rate_limited frame and never reaches the
// conversation workflow (its Temporal history has no signal for it); a real worker answers and
// stores the others.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { visitorMessageId } from '../api/webchat/history.ts';
import { createChannel } from '../lib/channels.ts';
import type { Config } from '../lib/config.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createConversationRig, eventually, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';
import { requestVisitor, Visitor, type Frame } from './support/webchat.ts';

const PER_VISITOR = 3;
const PER_IP = 5;
const PER_WIDGET = 8;
const VISITORS_PER_IP = 4;

let ipSeq = 0;
/** A documentation address (RFC 5737) of its own for each caller. */
const newIp = () => `198.51.100.${++ipSeq}`;
const newClientId = () => `c_${randomBytes(8).toString('hex')}`;

describe('web chat limits across API processes', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let dbB: Db;
  let apiA: App;
  let apiB: App;
  let bases: [string, string];
  const sockets: Visitor[] = [];

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    const config: Config = {
      ...rig.config,
      RATE_LIMIT_STORE: 'postgres',
      TRUST_PROXY: true,
      WEBCHAT_MESSAGES_PER_MINUTE_PER_VISITOR: PER_VISITOR,
      WEBCHAT_MESSAGES_PER_MINUTE_PER_IP: PER_IP,
      WEBCHAT_MESSAGES_PER_MINUTE_PER_WIDGET: PER_WIDGET,
      WEBCHAT_VISITORS_PER_HOUR_PER_IP: VISITORS_PER_IP,
    };
    const logger = createLogger({ level: 'silent', name: 'test' });
    apiA = await buildApp({ config, db: rig.db, temporal: temporal.client, logger });
    dbB = createDb(rig.config, 'webchat-limits-b');
    apiB = await buildApp({ config, db: dbB, temporal: temporal.client, logger });
    await apiA.listen({ host: '127.0.0.1', port: 0 });
    await apiB.listen({ host: '127.0.0.1', port: 0 });
    bases = [apiA, apiB].map((a) => `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`) as [string, string];
  });
  afterAll(async () => {
    for (const s of sockets) if (!s.closedWith) await s.close().catch(() => undefined);
    await apiA?.close();
    await apiB?.close();
    await dbB?.$disconnect();
    await rig?.close();
    await temporal?.close();
  });

  /** A widget of its own per test, so that its per-widget count starts at zero. */
  const newWidget = async () => {
    const channel = await createChannel(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, { type: 'webchat', name: `Site ${randomBytes(3).toString('hex')}` });
    return { widgetId: channel.widgetId!, channelId: channel.id };
  };
  const fromIp = (ip: string) => ({ 'x-forwarded-for': ip });
  /** A visitor (token from instance `tokenFrom`) with a socket on instance `on`, both from `ip`. */
  const visitor = async (widgetId: string, ip: string, on: 0 | 1 = 0, tokenFrom: 0 | 1 = 0) => {
    const issued = await requestVisitor(bases[tokenFrom], widgetId, bases[tokenFrom], fromIp(ip));
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    return { ...issued.body, socket: await open(widgetId, issued.body.token, ip, on) };
  };
  const open = async (widgetId: string, token: string, ip: string, on: 0 | 1) => {
    const socket = await Visitor.connect(bases[on], { widgetId, token }, bases[on], fromIp(ip));
    sockets.push(socket);
    await socket.next((f) => f.type === 'ready', 'ready');
    return socket;
  };
  /** Sends one message and waits for the server's verdict on it: `accepted` or an error frame. */
  const say = async (socket: Visitor, clientMessageId = newClientId()): Promise<Frame> => {
    const from = socket.frames.length;
    socket.send({ type: 'message', clientMessageId, text: `hello ${clientMessageId}` });
    return socket.next((f) => (f.type === 'accepted' || f.type === 'error') && f.clientMessageId === clientMessageId, `verdict on ${clientMessageId}`, from);
  };
  /**
   * The signals in the visitor's conversation workflow history: what reached the workflow. Read
   * when no workflow task is running: signals that arrive during one are buffered by the server
   * and join the history only when it completes.
   */
  const signalsTo = async (channelId: string, visitorId: string) => {
    const handle = temporal.client.workflow.getHandle(rig.workflowId({ id: channelId, type: 'webchat' }, visitorId));
    return eventually(async () => {
      if ((await handle.describe()).raw.pendingWorkflowTask) return undefined;
      return (await handle.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes).length ?? 0;
    }, 20_000, 'the workflow between tasks');
  };

  it('counts a visitor\'s messages on every instance together, refuses the one over with a rate_limited frame, and does not hand it over', async () => {
    const { widgetId, channelId } = await newWidget();
    const ip = newIp();
    const v = await visitor(widgetId, ip, 0);
    const tab = await open(widgetId, v.token, ip, 1); // the same visitor in another tab, on instance B
    const ids = [newClientId(), newClientId(), newClientId()] as const;
    expect(await say(v.socket, ids[0])).toMatchObject({ type: 'accepted' });
    expect(await say(tab, ids[1])).toMatchObject({ type: 'accepted' });
    expect(await say(v.socket, ids[2])).toMatchObject({ type: 'accepted' });

    const over = newClientId();
    const refused = await say(tab, over);
    expect(refused).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'visitor', clientMessageId: over });
    expect(String(refused.message)).toContain(`At most ${PER_VISITOR} messages a minute from one visitor`);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    await tab.sync(); // still open

    expect(await signalsTo(channelId, v.visitorId)).toBe(PER_VISITOR);
    const tdb = forTenant(rig.db, rig.tenantId);
    const stored = await eventually(async () => {
      const rows = await tdb.message.findMany({ where: { channel: 'webchat', direction: 'inbound', conversation: { channelId, externalUserId: v.visitorId } } });
      return rows.length === PER_VISITOR && rows;
    }, 30_000, 'the accepted messages stored');
    expect(stored.map((r) => r.externalMessageId).sort()).toEqual(ids.map((id) => visitorMessageId(channelId, v.visitorId, id)).sort());

    // A resend of a message already stored is acknowledged and costs nothing; the refused one stays refused.
    expect(await say(v.socket, ids[0])).toMatchObject({ type: 'accepted', id: visitorMessageId(channelId, v.visitorId, ids[0]) });
    expect(await say(v.socket, over)).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'visitor' });
    expect(await signalsTo(channelId, v.visitorId)).toBe(PER_VISITOR);
  });

  it('counts every visitor of one client network together, an IPv6 client as its /56', async () => {
    const { widgetId, channelId } = await newWidget();
    // Two addresses of one /56 (2001:db8:7:100::/56), each with its own visitor.
    const first = await visitor(widgetId, '2001:db8:7:100::1', 0);
    const second = await visitor(widgetId, '2001:db8:7:1ff:abcd::2', 1, 1);
    for (let i = 0; i < PER_VISITOR; i++) expect(await say(first.socket)).toMatchObject({ type: 'accepted' });
    for (let i = 0; i < PER_IP - PER_VISITOR; i++) expect(await say(second.socket)).toMatchObject({ type: 'accepted' });
    const refused = await say(second.socket);
    expect(refused).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'ip' });
    expect(String(refused.message)).toContain(`At most ${PER_IP} messages a minute from one network address`);
    expect(await signalsTo(channelId, second.visitorId)).toBe(PER_IP - PER_VISITOR);

    // The next /56 is another client.
    const neighbour = await visitor(widgetId, '2001:db8:7:200::1', 1);
    expect(await say(neighbour.socket)).toMatchObject({ type: 'accepted' });
  });

  it('caps a widget across all its visitors, whatever their address; another widget is not affected', async () => {
    const { widgetId, channelId } = await newWidget();
    const crowd = await Promise.all([0, 1, 2].map((i) => visitor(widgetId, newIp(), (i % 2) as 0 | 1)));
    let accepted = 0;
    for (const v of crowd) {
      for (let i = 0; i < PER_VISITOR && accepted < PER_WIDGET; i++, accepted++) expect(await say(v.socket)).toMatchObject({ type: 'accepted' });
    }
    const last = crowd.at(-1)!;
    expect(await say(last.socket)).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'widget' });
    const latecomer = await visitor(widgetId, newIp(), 1);
    const refused = await say(latecomer.socket);
    expect(refused).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'widget' });
    expect(String(refused.message)).toContain(`At most ${PER_WIDGET} messages a minute on this chat from all its visitors together`);
    // No message of the latecomer ever reached Temporal: there is no workflow for it.
    await expect(temporal.client.workflow.getHandle(rig.workflowId({ id: channelId, type: 'webchat' }, latecomer.visitorId)).describe()).rejects.toThrow(/not found/i);

    const other = await newWidget();
    const elsewhere = await visitor(other.widgetId, newIp(), 0);
    expect(await say(elsewhere.socket)).toMatchObject({ type: 'accepted' });
  });

  it(`issues at most ${VISITORS_PER_IP} visitor tokens an hour per client IP, counted across instances`, async () => {
    const { widgetId } = await newWidget();
    const ip = newIp();
    const ask = (on: 0 | 1, from = ip) => requestVisitor(bases[on], widgetId, bases[on], fromIp(from));
    for (let i = 0; i < VISITORS_PER_IP; i++) expect((await ask((i % 2) as 0 | 1)).status).toBe(201);
    const refused = await ask(1);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.body.error.message).toContain(`At most ${VISITORS_PER_IP} new visitors an hour from one network address`);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Another address still gets one.
    expect((await ask(1, newIp())).status).toBe(201);
  });
});
