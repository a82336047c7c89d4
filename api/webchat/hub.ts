// The sockets this API instance holds, by visitor (tenant, channel, visitor id): a visitor may
// have several tabs open. Events from the bus (lib/webchat-bus.ts) are forwarded here: a message
// is read from the messages table by id (scoped to the tenant and to this visitor's
// conversation), sent to each of the visitor's sockets, and marked delivered once one of them
// took it. Draft pieces of a reply being streamed are passed on as they are (never stored).
// Events for one visitor are handled in order, one at a time, so that two replies in quick
// succession cannot overtake each other on the way.
import type { Db } from '../../lib/db.ts';
import type { BusLogger, WebchatEvent } from '../../lib/webchat-bus.ts';
import type { FileLinks } from './file-links.ts';
import type { MessageFrame, ServerFrame } from './frames.ts';
import { frameOf, markDelivered, outboundMessage, type Cursor, type VisitorKey } from './history.ts';

/** What the hub needs of one open socket (socket.ts). */
export interface VisitorSocket {
  readonly key: VisitorKey;
  /** Sends a message frame unless this socket has it already; resolves true when it was written. */
  deliver(frame: MessageFrame, cursor: Cursor): Promise<boolean>;
  send(frame: ServerFrame): void;
  /** Replays what the socket may have missed after the last message it was sent. */
  catchUp(): Promise<void>;
  /** Keepalive: false if the last ping went unanswered (the socket is then terminated). */
  heartbeat(): boolean;
  close(code: number, reason: string): void;
}

export const keyOf = (k: VisitorKey) => `${k.tenantId}:${k.channelId}:${k.visitorId}`;

export class WebchatHub {
  readonly #db: Db;
  readonly #log: BusLogger;
  readonly #sockets = new Map<string, Set<VisitorSocket>>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #links: FileLinks | undefined;

  constructor(db: Db, log: BusLogger, links?: FileLinks) {
    this.#db = db;
    this.#log = log;
    this.#links = links;
  }

  get size(): number {
    let n = 0;
    for (const set of this.#sockets.values()) n += set.size;
    return n;
  }

  add(socket: VisitorSocket): void {
    const key = keyOf(socket.key);
    let set = this.#sockets.get(key);
    if (!set) this.#sockets.set(key, (set = new Set()));
    set.add(socket);
  }

  remove(socket: VisitorSocket): void {
    const key = keyOf(socket.key);
    const set = this.#sockets.get(key);
    if (!set) return;
    set.delete(socket);
    if (set.size === 0) this.#sockets.delete(key);
  }

  /** An event from the bus; handled after the visitor's earlier events. */
  dispatch(event: WebchatEvent): void {
    const key = keyOf(event);
    if (!this.#sockets.has(key)) return; // another instance holds this visitor, or no one does
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.#forward(key, event))
      .catch((err: unknown) => this.#log.error({ err, tenantId: event.tenantId, channelId: event.channelId, kind: event.kind }, 'web chat event not forwarded'))
      .finally(() => {
        if (this.#queues.get(key) === next) this.#queues.delete(key);
      });
    this.#queues.set(key, next);
  }

  /**
   * The bus was down for a while and may have dropped events: every socket replays from the last
   * message it was sent (the widget ignores ids it already shows).
   */
  resync(): void {
    for (const set of this.#sockets.values()) {
      for (const socket of set) {
        socket.catchUp().catch((err: unknown) => this.#log.warn({ err }, 'web chat catch-up failed'));
      }
    }
  }

  /** Pings every socket; one that did not answer the previous ping is terminated and let go. */
  heartbeat(): void {
    for (const set of [...this.#sockets.values()]) for (const socket of [...set]) if (!socket.heartbeat()) this.remove(socket);
  }

  closeAll(code: number, reason: string): void {
    for (const set of [...this.#sockets.values()]) for (const socket of [...set]) socket.close(code, reason);
  }

  async #forward(key: string, event: WebchatEvent): Promise<void> {
    const sockets = [...(this.#sockets.get(key) ?? [])];
    if (sockets.length === 0) return;
    if (event.kind === 'typing') {
      for (const socket of sockets) socket.send({ type: 'typing', author: event.author, state: event.state });
      return;
    }
    if (event.kind === 'draft') {
      for (const socket of sockets) socket.send({ type: 'draft', id: event.messageId, attempt: event.attempt, seq: event.seq, text: event.text });
      return;
    }
    if (event.kind === 'draft_cleared') {
      for (const socket of sockets) socket.send({ type: 'draft_cleared', id: event.messageId });
      return;
    }
    const row = await outboundMessage(this.#db, event, event.messageId, event.createdAt);
    if (!row) {
      this.#log.warn({ tenantId: event.tenantId, channelId: event.channelId, messageId: event.messageId }, 'web chat event names no message of this visitor');
      return;
    }
    const links = this.#links;
    const frame = frameOf(row, links && ((m) => links.url({ tenantId: event.tenantId, ...m })));
    if (!frame || row.status === 'failed') return;
    const written = await Promise.all(sockets.map((socket) => socket.deliver(frame, { at: row.createdAt, id: row.id })));
    if (written.some(Boolean)) {
      markDelivered(this.#db, event.tenantId, [row]).catch((err: unknown) => this.#log.warn({ err, tenantId: event.tenantId }, 'web chat delivery not recorded'));
    }
  }
}
