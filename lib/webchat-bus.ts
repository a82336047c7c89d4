// The web chat's bus between the workers and the API instances holding visitors' sockets:
// Postgres LISTEN/NOTIFY on the channel `webchat_outbound` (NotifyListener, also the inbox's bus:
// lib/inbox-bus.ts). A worker's web chat sender publishes
// a small event (tenant, channel, visitor, message id or typing state, or a bounded piece of a reply
// being streamed); every API instance
// LISTENs on one dedicated connection and forwards the event to the sockets it holds for that
// visitor (api/webchat/hub.ts), reading the message itself from the messages table by id, so a
// payload stays far below NOTIFY's 8000-byte cap whatever the text.
//
// NOTIFY is fire-and-forget: an event published while an instance is not listening is lost to
// it. Nothing depends on it arriving: the message is stored before it is published, and a
// visitor catches up by replaying the messages table after its cursor, on reconnect, or, for
// sockets an instance kept open while its LISTEN connection was down, when the listener is back
// (onResubscribed).
import pg from 'pg';
import { z } from 'zod';
import type { Db } from './db.ts';
import type { Logger } from './logger.ts';

export const WEBCHAT_NOTIFY_CHANNEL = 'webchat_outbound';

/** A draft piece's text, at most: even at 6 bytes a character (JSON escapes) its event stays under NOTIFY's 8000 bytes. */
export const DRAFT_PIECE_MAX_CHARS = 1000;

/** A web chat visitor id, chosen by the API and signed into the visitor's token: 8–64 characters of [A-Za-z0-9_-]. */
export const visitorIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 characters of A-Z, a-z, 0-9, "_" and "-"');

const target = {
  tenantId: z.uuid(),
  channelId: z.uuid(),
  visitorId: visitorIdSchema,
};

export const webchatEventSchema = z.discriminatedUnion('kind', [
  /** A stored outbound message to forward (read by id; createdAt, in ms, finds its partition). */
  z.object({ kind: z.literal('message'), ...target, messageId: z.uuid(), createdAt: z.number().int() }),
  z.object({ kind: z.literal('typing'), ...target, author: z.enum(['assistant', 'agent']), state: z.enum(['on', 'off']) }),
  /**
   * A piece of an assistant reply being generated (activities/llm/webchat-draft.ts): `messageId`
   * is the id the reply will be stored under, `attempt` the model call's attempt, `seq` the
   * piece's place in that attempt (from 0). Never stored: the stored reply replaces it.
   */
  z.object({ kind: z.literal('draft'), ...target, messageId: z.uuid(), attempt: z.number().int().min(1), seq: z.number().int().min(0), text: z.string().min(1).max(DRAFT_PIECE_MAX_CHARS) }),
  /** What was streamed of that reply is void (the attempt failed, or the model went on to call tools). */
  z.object({ kind: z.literal('draft_cleared'), ...target, messageId: z.uuid() }),
]);
export type WebchatEvent = z.infer<typeof webchatEventSchema>;

/** Publishes an event to every listening API instance (delivered when the statement commits: at once here). */
export async function publishWebchatEvent(db: Db, event: WebchatEvent): Promise<void> {
  const payload = JSON.stringify(webchatEventSchema.parse(event));
  await db.$executeRaw`SELECT pg_notify(${WEBCHAT_NOTIFY_CHANNEL}, ${payload})`;
}

/** What the listener logs through (a pino logger, or Fastify's). */
export type BusLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface WebchatListenerOptions {
  connectionString: string;
  logger: BusLogger;
  onEvent: (event: WebchatEvent) => void;
  /** After the connection was lost and LISTEN is in place again (not on the first connect). */
  onResubscribed?: () => void;
  applicationName?: string;
  connectTimeoutMs?: number;
  /** Reconnect delays double from min to max (with jitter). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A `SELECT 1` this often notices a connection that died without a reset. */
  healthCheckMs?: number;
}

/** What a NotifyListener listens for: its channel, how an event is read, and its name in logs. */
export interface NotifyChannel<E> {
  channel: string;
  /** Parses a payload's JSON; throws on a malformed one. */
  parse: (payload: unknown) => E;
  /** Names the listener in its log lines ("web chat"). */
  name: string;
}

type ListenerOptions<E> = Omit<WebchatListenerOptions, 'onEvent'> & { onEvent: (event: E) => void };

/**
 * One dedicated pg connection that LISTENs on one NOTIFY channel and reconnects with backoff
 * whenever it fails, until close(). Malformed payloads are logged and dropped.
 */
export class NotifyListener<E> {
  readonly #channel: NotifyChannel<E>;
  readonly #options: Required<Omit<ListenerOptions<E>, 'onResubscribed'>> & Pick<ListenerOptions<E>, 'onResubscribed'>;
  #client: pg.Client | undefined;
  #closed = false;
  #failures = 0;
  /** An attempt failed or the connection was lost since the last LISTEN: events may have been missed. */
  #mayHaveMissed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<boolean> | undefined;

  constructor(channel: NotifyChannel<E>, options: ListenerOptions<E>) {
    this.#channel = channel;
    this.#options = {
      applicationName: `metachat-${channel.channel.replaceAll('_', '-')}-listener`,
      connectTimeoutMs: 5_000,
      minBackoffMs: 250,
      maxBackoffMs: 10_000,
      healthCheckMs: 30_000,
      ...options,
    };
  }

  /** True while LISTEN is in place. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Starts listening; resolves after the first attempt (true if it is listening), retrying in the background otherwise. */
  start(): Promise<boolean> {
    return this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#healthTimer);
    await this.#connecting?.catch(() => undefined);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  #connect(): Promise<boolean> {
    this.#connecting ??= this.#attempt().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #attempt(): Promise<boolean> {
    const { logger } = this.#options;
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: this.#options.applicationName,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      keepAlive: true,
    });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      clearInterval(this.#healthTimer);
      this.#mayHaveMissed = true;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.#closed) return;
      logger.warn({ err }, `${this.#channel.name} listener lost its connection; reconnecting`);
      this.#scheduleRetry();
    };
    client.on('error', (err) => onLost(err));
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel !== this.#channel.channel) return;
      let event: E;
      try {
        event = this.#channel.parse(JSON.parse(message.payload ?? ''));
      } catch {
        logger.warn({ bytes: message.payload?.length ?? 0 }, `malformed ${this.#channel.name} event dropped`);
        return;
      }
      try {
        this.#options.onEvent(event);
      } catch (err) {
        logger.error({ err }, `${this.#channel.name} event handler failed`);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel.channel}`);
    } catch (err) {
      lost = true;
      // Sockets may already be open (the first attempt failed): the eventual LISTEN resyncs them.
      this.#mayHaveMissed = true;
      await client.end().catch(() => undefined);
      if (!this.#closed) {
        logger.warn({ err }, `${this.#channel.name} listener could not connect; retrying`);
        this.#scheduleRetry();
      }
      return false;
    }
    if (this.#closed || lost) {
      await client.end().catch(() => undefined);
      return false;
    }
    this.#client = client;
    this.#failures = 0;
    // A connection cut silently (failover, a dropped network path) would leave SELECT 1 waiting
    // for TCP to give up, minutes during which NOTIFYs are lost: a check without an answer within
    // the interval counts as lost.
    this.#healthTimer = setInterval(() => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('health check timed out')), this.#options.healthCheckMs).unref());
      Promise.race([client.query('SELECT 1'), timeout]).catch((err: Error) => onLost(err));
    }, this.#options.healthCheckMs);
    this.#healthTimer.unref();
    const resubscribed = this.#mayHaveMissed;
    this.#mayHaveMissed = false;
    logger.info({ resubscribed }, `${this.#channel.name} listener is listening`);
    if (resubscribed) {
      try {
        this.#options.onResubscribed?.();
      } catch (err) {
        logger.error({ err }, `${this.#channel.name} resubscribe handler failed`);
      }
    }
    return true;
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer) return;
    const { minBackoffMs, maxBackoffMs } = this.#options;
    const base = Math.min(maxBackoffMs, minBackoffMs * 2 ** this.#failures);
    this.#failures++;
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, delay);
    this.#retryTimer.unref();
  }
}

/** The web chat's listener: `webchat_outbound`, events as webchatEventSchema reads them. */
export class WebchatListener extends NotifyListener<WebchatEvent> {
  constructor(options: WebchatListenerOptions) {
    super({ channel: WEBCHAT_NOTIFY_CHANNEL, parse: (payload) => webchatEventSchema.parse(payload), name: 'web chat' }, { applicationName: 'metachat-webchat-listener', ...options });
  }
}
