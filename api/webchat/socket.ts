// One visitor's socket, `GET /webchat?widgetId=&token=[&after=]` (README "Web chat"). In order:
//   1. the Origin must be this API's own (the widget page) or one the widget allows → else 4403
//   2. the widget must name an active web chat channel                             → else 4404
//   3. token must be a valid visitor token for this widget (visitor-token.ts); the
//      visitor id is the token's, and a client-chosen visitorId is refused          → else 4401
//   4. `ready`, then the messages after `after` (or the newest ones without it), then live ones.
// Frames that arrive before the checks are done wait for them. A visitor message is handed to the
// conversation workflow (api/conversation-signal.ts) under an external id derived from its
// clientMessageId, so a resend is stored and answered once, and acknowledged with `accepted`. A
// new message over a web chat limit (limits.ts) is refused with a `rate_limited` error frame and
// not handed over; a resend of one already stored is acknowledged without counting.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RawData, WebSocket } from 'ws';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config.ts';
import type { Db } from '../../lib/db.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { signalInbound } from '../conversation-signal.ts';
import { CLOSE, clientFrameSchema, type ClientFrame, type ErrorFrame, type MessageFrame, type ServerFrame } from './frames.ts';
import { conversationIdOf, decodeCursor, frameOf, markDelivered, messagesAfter, visitorMessageId, type Cursor, type VisitorKey } from './history.ts';
import type { FileLinks } from './file-links.ts';
import type { VisitorSocket, WebchatHub } from './hub.ts';
import type { WebchatLimits } from './limits.ts';
import type { VisitorTokens } from './visitor-token.ts';
import type { Widget, WidgetLookup } from './widget-lookup.ts';

/** Frames of any kind a socket may send per window (visitor messages have their own limits, limits.ts). */
export const FRAMES_PER_WINDOW = 60;
export const RATE_WINDOW_MS = 10_000;
/** Message ids a socket remembers having sent, so that replay and live delivery never repeat one. */
const REMEMBERED_IDS = 1000;
const OPEN = 1;

export interface SocketDeps {
  db: Db;
  temporal: Client;
  config: Config;
  hub: WebchatHub;
  lookup: WidgetLookup;
  tokens: VisitorTokens;
  limits: WebchatLimits;
  links: FileLinks;
}

const query = z.object({
  widgetId: z.string().max(64).optional(),
  token: z.string().max(512).optional(),
  /** No longer accepted (the visitor id is the server's): named only to say so. */
  visitorId: z.string().optional(),
  after: z.string().max(256).optional(),
});

/** The widget page is served by this API, so its own origin is always allowed; others per widget. */
export function originAllowed(origin: string | undefined, host: string | undefined, widget: Widget | null): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && host && url.host === host.toLowerCase()) return true;
  return widget?.allowedOrigins.has(origin) ?? false;
}

const later = (a: Cursor, b: Cursor | null) => !b || a.at.getTime() > b.at.getTime() || (a.at.getTime() === b.at.getTime() && a.id > b.id);

class VisitorConnection implements VisitorSocket {
  readonly key: VisitorKey;
  readonly #socket: WebSocket;
  readonly #request: FastifyRequest;
  readonly #deps: SocketDeps;
  readonly #log: FastifyBaseLogger;
  readonly #sent = new Set<string>();
  #cursor: Cursor | null = null;
  /** Live messages are held while above zero: from creation until start() has replayed. */
  #replaying = 1;
  #ready = false;
  #buffer: { frame: MessageFrame; cursor: Cursor; resolve: (written: boolean) => void }[] = [];
  #replays: Promise<void> = Promise.resolve();
  #inbound: Promise<void> = Promise.resolve();
  #alive = true;
  #frameTimes: number[] = [];

  constructor(key: VisitorKey, socket: WebSocket, request: FastifyRequest, deps: SocketDeps) {
    this.key = key;
    this.#socket = socket;
    this.#request = request;
    this.#deps = deps;
    this.#log = request.log;
    socket.on('pong', () => {
      this.#alive = true;
    });
  }

  send(frame: ServerFrame): void {
    if (!this.#ready && frame.type !== 'ready') return; // nothing goes before `ready`
    if (this.#socket.readyState === OPEN) this.#socket.send(JSON.stringify(frame));
  }

  /** `ready` (with a renewed token, if any), then the replay after `after`, then the live messages held meanwhile. */
  async start(conversationId: string | null, after: Cursor | null, renewedToken?: string): Promise<void> {
    this.send({ type: 'ready', visitorId: this.key.visitorId, conversationId, ...(renewedToken && { token: renewedToken }) });
    this.#ready = true;
    try {
      await this.replay(after);
    } finally {
      this.#replaying--;
      this.#flush();
    }
  }

  deliver(frame: MessageFrame, cursor: Cursor): Promise<boolean> {
    // A socket gone (or never started) must not hold the visitor's queue in the hub.
    if (this.#socket.readyState !== OPEN) return Promise.resolve(false);
    if (this.#replaying > 0) return new Promise((resolve) => this.#buffer.push({ frame, cursor, resolve }));
    return this.#write(frame, cursor);
  }

  /** Replays after `after` (the newest messages without it), holding live deliveries until done. */
  replay(after: Cursor | null): Promise<void> {
    const run = this.#replays.then(() => this.#replayNow(after));
    this.#replays = run.catch(() => undefined);
    return run;
  }

  catchUp(): Promise<void> {
    return this.replay(this.#cursor);
  }

  heartbeat(): boolean {
    if (!this.#alive) {
      this.#socket.terminate();
      return false;
    }
    this.#alive = false;
    if (this.#socket.readyState === OPEN) this.#socket.ping();
    return true;
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  /** One frame from the visitor. */
  receive(data: RawData, isBinary: boolean): void {
    if (!this.#allow(this.#frameTimes, FRAMES_PER_WINDOW)) return this.#error('rate_limited', `At most ${FRAMES_PER_WINDOW} frames per ${RATE_WINDOW_MS / 1000} s`);
    if (isBinary) return this.#error('invalid_frame', 'Frames must be JSON text');
    let json: unknown;
    try {
      json = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8'));
    } catch {
      return this.#error('invalid_json', 'Frame is not valid JSON');
    }
    const parsed = clientFrameSchema.safeParse(json);
    if (!parsed.success) {
      const message = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? `/${i.path.join('/')}` : '/'} ${i.message}`).join('; ');
      return this.#error('invalid_frame', `Invalid frame: ${message}`);
    }
    const frame = parsed.data;
    switch (frame.type) {
      case 'ping':
        return this.send({ type: 'pong' });
      case 'typing':
        // Nobody watches a visitor type yet (the agent console polls); accepted and dropped.
        return;
      case 'message':
        this.#inbound = this.#inbound.then(() => this.#accept(frame));
        return;
    }
  }

  async #accept(frame: Extract<ClientFrame, { type: 'message' }>): Promise<void> {
    const { tenantId, channelId, visitorId } = this.key;
    const id = visitorMessageId(channelId, visitorId, frame.clientMessageId);
    try {
      const stored = await forTenant(this.#deps.db, tenantId).message.findFirst({
        where: { channel: 'webchat', direction: 'inbound', externalMessageId: id },
        select: { id: true },
      });
      if (!stored) {
        const refused = await this.#deps.limits.message(this.#request);
        if (refused) {
          this.#log.info({ tenantId, channelId, limit: refused.limit }, 'web chat message over a limit');
          return this.#error('rate_limited', refused.message, { clientMessageId: frame.clientMessageId, retryAfterMs: refused.retryAfterMs, limit: refused.limit });
        }
        await signalInbound(this.#deps, {
          tenantId,
          channel: 'webchat',
          channelId,
          externalUserId: visitorId,
          // A tap on a choice comes in as a WhatsApp button reply does (api/webhooks/normalize.ts).
          messages: [
            frame.choiceId
              ? { externalMessageId: id, sentAt: Date.now(), kind: 'interactive', text: frame.text, content: { clientMessageId: frame.clientMessageId, interactiveType: 'button_reply', replyId: frame.choiceId } }
              : { externalMessageId: id, sentAt: Date.now(), kind: 'text', text: frame.text, content: { clientMessageId: frame.clientMessageId } },
          ],
        });
      }
      this.#log.debug({ tenantId, channelId, visitorId, messageId: id, duplicate: Boolean(stored) }, 'web chat message accepted');
      this.send({ type: 'accepted', clientMessageId: frame.clientMessageId, id });
    } catch (err) {
      this.#log.error({ err, tenantId, channelId }, 'web chat message could not be handed over');
      this.#error('unavailable', 'The message could not be accepted right now; resend it with the same clientMessageId', { clientMessageId: frame.clientMessageId });
    }
  }

  #allow(times: number[], max: number): boolean {
    const now = Date.now();
    while (times.length > 0 && times[0]! <= now - RATE_WINDOW_MS) times.shift();
    if (times.length >= max) return false;
    times.push(now);
    return true;
  }

  #error(code: string, message: string, extra: Omit<ErrorFrame, 'type' | 'code' | 'message'> = {}): void {
    this.send({ type: 'error', code, message, ...extra });
  }

  #write(frame: MessageFrame, cursor: Cursor): Promise<boolean> {
    if (later(cursor, this.#cursor)) this.#cursor = cursor;
    if (this.#sent.has(frame.id)) return Promise.resolve(true);
    if (this.#socket.readyState !== OPEN) return Promise.resolve(false);
    this.#sent.add(frame.id);
    if (this.#sent.size > REMEMBERED_IDS) this.#sent.delete(this.#sent.values().next().value!);
    return new Promise((resolve) => this.#socket.send(JSON.stringify(frame), (err) => resolve(!err)));
  }

  async #replayNow(after: Cursor | null): Promise<void> {
    this.#replaying++;
    try {
      const rows = await messagesAfter(this.#deps.db, this.key, after);
      const writes = rows.map((row) => {
        const frame = frameOf(row, (m) => this.#deps.links.url({ tenantId: this.key.tenantId, ...m }));
        return frame ? this.#write(frame, { at: row.createdAt, id: row.id }) : Promise.resolve(false);
      });
      const written = await Promise.all(writes);
      const delivered = rows.filter((row, i) => written[i] && row.direction === 'outbound' && (row.status === 'sent' || row.status === 'pending'));
      markDelivered(this.#deps.db, this.key.tenantId, delivered).catch((err: unknown) => this.#log.warn({ err, tenantId: this.key.tenantId }, 'web chat delivery not recorded'));
    } finally {
      this.#replaying--;
      this.#flush();
    }
  }

  #flush(): void {
    if (this.#replaying > 0) return;
    for (const held of this.#buffer.splice(0)) void this.#write(held.frame, held.cursor).then(held.resolve);
  }
}

/** The @fastify/websocket handler of `GET /webchat`. Synchronous: listeners are attached before anything is awaited. */
export function acceptVisitorSocket(deps: SocketDeps, socket: WebSocket, request: FastifyRequest): void {
  const log = request.log;
  const early: [RawData, boolean][] = [];
  let connection: VisitorConnection | undefined;
  /** In the hub from before the replay; removed on close or on a failed setup. */
  let registered: VisitorConnection | undefined;
  let closed = false;
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (connection) return connection.receive(data, isBinary);
    // Frames sent before the checks finish wait for them, within the per-window frame budget.
    if (early.length >= FRAMES_PER_WINDOW) return socket.close(CLOSE.policyViolation, 'too many frames before the socket was ready');
    early.push([data, isBinary]);
  });
  socket.on('error', (err: Error) => log.debug({ err }, 'web chat socket error'));
  socket.on('close', (code: number) => {
    closed = true;
    if (registered) deps.hub.remove(registered);
    if (connection) {
      log.info({ tenantId: connection.key.tenantId, channelId: connection.key.channelId, code }, 'web chat socket closed');
    }
  });

  const refuse = (code: number, reason: string) => {
    log.info({ code, reason }, 'web chat socket refused');
    socket.close(code, reason);
  };

  void (async () => {
    const q = query.safeParse(request.query);
    const params = q.success ? q.data : {};
    const widget = params.widgetId ? await deps.lookup.find(params.widgetId) : null;
    if (!originAllowed(request.headers.origin, request.headers.host, widget)) return refuse(CLOSE.originNotAllowed, 'origin not allowed');
    if (!widget) return refuse(CLOSE.unknownWidget, 'unknown widget');
    // Close reasons are at most 123 bytes.
    if (params.visitorId !== undefined) return refuse(CLOSE.invalidToken, 'visitorId is not accepted: open with a visitor token (POST /webchat/visitors)');
    if (!params.token) return refuse(CLOSE.invalidToken, 'visitor token required (POST /webchat/visitors)');
    const verdict = deps.tokens.verify(params.token, widget.channelId);
    if (!verdict.ok) return refuse(CLOSE.invalidToken, `invalid visitor token: ${verdict.reason}`);
    if (closed) return;

    const key: VisitorKey = { tenantId: widget.tenantId, channelId: widget.channelId, visitorId: verdict.claims.visitorId };
    request.webchatVisitor = key;
    const renewed = deps.tokens.dueForRenewal(verdict.claims) ? deps.tokens.issue(widget.channelId, key.visitorId).token : undefined;
    const after = params.after ? decodeCursor(params.after) : null;
    const conn = new VisitorConnection(key, socket, request, deps);
    deps.hub.add(conn); // before the replay: live messages are held until it is done
    registered = conn;
    const conversationId = await conversationIdOf(deps.db, key);
    if (closed) return; // the close handler took it out of the hub
    connection = conn;
    log.info({ tenantId: key.tenantId, channelId: key.channelId, replay: after ? 'after' : 'recent' }, 'web chat socket open');
    const started = conn.start(conversationId, after, renewed);
    if (params.after && !after) conn.send({ type: 'error', code: 'invalid_cursor', message: 'after is not a cursor from this server; sending recent messages instead' });
    for (const [data, isBinary] of early.splice(0)) conn.receive(data, isBinary);
    await started;
  })().catch((err: unknown) => {
    log.error({ err }, 'web chat socket setup failed');
    if (registered) deps.hub.remove(registered);
    socket.close(1011, 'server error');
  });
}
