// The fault-injection suite's load: WhatsApp users and web chat visitors, each sending a sequence
// of messages with unique tokens one at a time (the next once the previous was answered, or
// after a timeout), through the real API, and behaving as their real counterparts do under
// faults:
//   - WhatsApp, as Meta does: a delivery answered with a non-2xx status, a connection error or no
//     answer in time is redelivered with backoff, with the same message id and the same body;
//     and a small share of successful deliveries is redelivered anyway.
//   - Web chat, as the widget does (api/webchat/public/widget.js): a visitor token (POST
//     /webchat/visitors) kept for the run, then one socket opened with it, reconnecting with
//     backoff after a drop and resuming after the cursor of the last message seen; a message the
//     server has not acknowledged (`accepted`) is resent with the same clientMessageId when the
//     socket is back, after an `unavailable` or `rate_limited` error, or when no answer came in
//     time on an open socket; a socket whose pings go unanswered is dropped and reopened.
// Everything sent and every reply seen is written to the Ledger, which the accounting reads.
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { visitorMessageId } from '../../api/webchat/history.ts';
import { signatureHeader } from '../../api/webhooks/signature.ts';
import type { DeliveredText, FakeGraphApi } from '../fakes/graph-api.ts';
import { whatsappTextBody } from '../support/meta-webhooks.ts';
import { sleep } from './processes.ts';
import { TOKEN_PATTERN } from './stack.ts';

export type UserKind = 'whatsapp' | 'webchat';

export interface SentMessage {
  token: string;
  kind: UserKind;
  /** wa_id or visitorId. */
  user: string;
  seq: number;
  /** What the platform stores it under: the wamid, or the id derived from the clientMessageId. */
  externalId: string;
  clientMessageId?: string;
  text: string;
  firstSentAt: number;
  /** HTTP attempts (WhatsApp) or message frames sent (web chat). */
  attempts: number;
  /** 2xx answers (WhatsApp) or `accepted` frames (web chat). */
  acks: number;
  firstAckAt?: number;
  /** Successful deliveries redelivered anyway (WhatsApp). */
  forcedRedeliveries: number;
  /** Failed attempts by cause (HTTP status, `timeout`, `connection`, web chat error codes). */
  failures: Record<string, number>;
  /** The first reply naming it that the user saw. */
  answeredAt?: number;
}

export interface ObservedReply {
  kind: UserKind;
  user: string;
  at: number;
  text: string;
  tokens: string[];
  /** The Graph API's message id (WhatsApp) or the frame's message id (web chat). */
  id: string;
}

export class Ledger {
  readonly messages: SentMessage[] = [];
  readonly byToken = new Map<string, SentMessage>();
  readonly replies: ObservedReply[] = [];
  /** Web chat frames of a message the visitor had already seen (replays after a reconnect). */
  replayedFrames = 0;
  /** A problem of the suite itself (not of the platform): the run is invalid. */
  fatal: string | undefined;
  readonly #waiters = new Map<string, () => void>();

  add(message: SentMessage): void {
    this.messages.push(message);
    this.byToken.set(message.token, message);
  }

  reply(reply: ObservedReply): void {
    this.replies.push(reply);
    for (const token of reply.tokens) {
      const m = this.byToken.get(token);
      if (m && m.answeredAt === undefined) m.answeredAt = reply.at;
      this.#waiters.get(token)?.();
    }
  }

  /** Resolves true once a reply names the token, false after the timeout (or when `stop` aborts). */
  waitAnswer(token: string, timeoutMs: number, stop: AbortSignal): Promise<boolean> {
    if (this.byToken.get(token)?.answeredAt !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (answered: boolean) => {
        clearTimeout(timer);
        stop.removeEventListener('abort', onAbort);
        this.#waiters.delete(token);
        resolve(answered);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      stop.addEventListener('abort', onAbort);
      this.#waiters.set(token, () => done(true));
    });
  }

  unanswered(): SentMessage[] {
    return this.messages.filter((m) => m.answeredAt === undefined);
  }
}

export interface LoadOptions {
  apiUrl: string;
  whatsapp: { phoneNumberId: string; appSecret: string };
  webchat: { widgetId: string; channelId: string };
  whatsappUsers: number;
  webchatVisitors: number;
  /** Pause between an answer (or the timeout) and the next message, ± 50 %. */
  thinkMs: number;
  /** A user sends the next message after this long without an answer. */
  replyTimeoutMs: number;
  /** Share of successful WhatsApp deliveries redelivered anyway. */
  duplicateRate: number;
  /** Per attempt: an HTTP delivery or a web chat acknowledgement not answered within this is retried. */
  attemptTimeoutMs: number;
}

export interface Load {
  ledger: Ledger;
  /** Users send no new message (they still wait for the one in flight, and retries go on). */
  stopSending(): void;
  /** Everything stops: retries, redeliveries, sockets. */
  stop(): Promise<void>;
  /** Web chat sockets opened (the first one of each visitor included). */
  readonly webchatConnects: number;
}

const token = (prefix: 'w' | 'v', user: number, seq: number) =>
  `${prefix}${String(user).padStart(2, '0')}-${String(seq).padStart(4, '0')}-${randomBytes(3).toString('hex').slice(0, 4)}`;
const jitter = (ms: number) => Math.round(ms * (0.5 + Math.random()));
const tokensOf = (text: string) => [...new Set(text.match(TOKEN_PATTERN) ?? [])];

export function startLoad(options: LoadOptions, graph: FakeGraphApi): Load {
  const ledger = new Ledger();
  const sending = new AbortController();
  const stopping = new AbortController();
  const background = new Set<Promise<unknown>>();
  const keep = <T>(p: Promise<T>) => {
    background.add(p);
    void p.finally(() => background.delete(p)).catch(() => {});
    return p;
  };
  /** wa_ids of this run: 1555, three random digits, the user's number. */
  const waPrefix = `1555${100 + Math.floor(Math.random() * 900)}`;

  // Replies accepted by the fake Graph API, as the WhatsApp users see them.
  const waIds = new Set<string>();
  const delivered = graph.delivered;
  const push = delivered.push.bind(delivered);
  delivered.push = (...items: DeliveredText[]) => {
    const at = Date.now();
    for (const d of items) {
      if (d.channel === 'whatsapp' && waIds.has(d.to)) ledger.reply({ kind: 'whatsapp', user: d.to, at, text: d.text, tokens: tokensOf(d.text), id: d.messageId });
    }
    return push(...items);
  };

  // ---- WhatsApp ---------------------------------------------------------------------------

  const whatsappBody = (from: string, wamid: string, text: string) =>
    whatsappTextBody({ phoneNumberId: options.whatsapp.phoneNumberId, from, id: wamid, text, name: 'Chaos User' });

  /** One delivery, redelivered (same bytes) until a 2xx or the end of the run. */
  async function deliver(m: SentMessage, body: string, forced: boolean): Promise<void> {
    const headers = { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, options.whatsapp.appSecret) };
    for (let failures = 0; !stopping.signal.aborted; failures++) {
      m.attempts++;
      let cause: string;
      try {
        const res = await fetch(`${options.apiUrl}/webhooks/whatsapp`, { method: 'POST', headers, body, signal: AbortSignal.any([AbortSignal.timeout(options.attemptTimeoutMs), stopping.signal]) });
        await res.arrayBuffer();
        if (res.ok) {
          m.acks++;
          m.firstAckAt ??= Date.now();
          if (!forced && Math.random() < options.duplicateRate) {
            m.forcedRedeliveries++;
            keep(sleep(100 + Math.random() * 4900).then(() => deliver(m, body, true)));
          }
          return;
        }
        cause = String(res.status);
      } catch (err) {
        if (stopping.signal.aborted) return;
        cause = (err as Error).name === 'TimeoutError' ? 'timeout' : 'connection';
      }
      m.failures[cause] = (m.failures[cause] ?? 0) + 1;
      await abortableSleep(jitter(Math.min(8_000, 500 * 2 ** failures)), stopping.signal);
    }
  }

  async function whatsappUser(index: number): Promise<void> {
    const from = `${waPrefix}${String(index).padStart(4, '0')}`;
    waIds.add(from);
    for (let seq = 0; !sending.signal.aborted; seq++) {
      const t = token('w', index, seq);
      const m: SentMessage = {
        token: t, kind: 'whatsapp', user: from, seq, externalId: `wamid.${randomBytes(16).toString('base64url')}`,
        text: `Question ${t}: is it in stock?`, firstSentAt: Date.now(), attempts: 0, acks: 0, forcedRedeliveries: 0, failures: {},
      };
      ledger.add(m);
      keep(deliver(m, whatsappBody(from, m.externalId, m.text), false));
      await ledger.waitAnswer(t, options.replyTimeoutMs, stopping.signal);
      await abortableSleep(jitter(options.thinkMs), sending.signal);
    }
  }

  // ---- Web chat ---------------------------------------------------------------------------

  let webchatConnects = 0;

  class Visitor {
    /** The server's, from the visitor token run() asks for first. */
    visitorId = '';
    #token = '';
    readonly outbox = new Map<string, { message: SentMessage; sentAt: number }>();
    readonly seen = new Set<string>();
    #socket: WebSocket | undefined;
    #ready = false;
    #cursor: string | undefined;
    #attempts = 0;
    #pongAt = Date.now();
    #timer: NodeJS.Timeout;
    #reconnect: NodeJS.Timeout | undefined;

    constructor(readonly index: number) {
      // Liveness and resends: pings every 5 s; an acknowledgement overdue on an open socket is resent.
      this.#timer = setInterval(() => this.#tick(), 1000);
    }

    /** A visitor token, as the widget asks for one (retried while the API is away). */
    async #join(): Promise<void> {
      while (!stopping.signal.aborted) {
        const res = await fetch(`${options.apiUrl}/webchat/visitors`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: options.apiUrl },
          body: JSON.stringify({ widgetId: options.webchat.widgetId }),
        }).catch(() => undefined);
        if (res?.status === 201) {
          const body = (await res.json()) as { token: string; visitorId: string };
          this.#token = body.token;
          this.visitorId = body.visitorId;
          return;
        }
        if (res && res.status < 500 && res.status !== 429) {
          ledger.fatal ??= `web chat visitor refused with ${res.status}: the suite's setup is wrong`;
          return;
        }
        await abortableSleep(1000, stopping.signal);
      }
    }

    #connect(): void {
      this.#reconnect = undefined;
      if (stopping.signal.aborted) return;
      const params = new URLSearchParams({ widgetId: options.webchat.widgetId, token: this.#token });
      if (this.#cursor) params.set('after', this.#cursor);
      const ws = new WebSocket(`${options.apiUrl.replace(/^http/, 'ws')}/webchat?${params}`, { origin: options.apiUrl });
      webchatConnects++;
      this.#socket = ws;
      this.#pongAt = Date.now();
      ws.on('message', (data) => {
        if (this.#socket !== ws) return;
        let frame: { type?: string; [k: string]: unknown };
        try {
          frame = JSON.parse(String(data)) as typeof frame;
        } catch {
          return;
        }
        this.#handle(frame);
      });
      ws.on('error', () => undefined);
      ws.on('close', (code) => {
        if (this.#socket !== ws) return;
        this.#socket = undefined;
        this.#ready = false;
        if (stopping.signal.aborted) return;
        if (code === 4401 || code === 4403 || code === 4404) {
          ledger.fatal ??= `web chat socket refused with close code ${code}: the suite's setup is wrong`;
          return;
        }
        const base = Math.min(10_000, 500 * 2 ** this.#attempts++);
        this.#reconnect = setTimeout(() => this.#connect(), Math.round(base / 2 + Math.random() * (base / 2)));
      });
    }

    #handle(frame: { type?: string; [k: string]: unknown }): void {
      switch (frame.type) {
        case 'ready':
          this.#ready = true;
          this.#attempts = 0;
          for (const entry of this.outbox.values()) this.#sendMessage(entry.message);
          return;
        case 'pong':
          this.#pongAt = Date.now();
          return;
        case 'accepted': {
          const entry = this.outbox.get(String(frame.clientMessageId));
          if (!entry) return;
          this.outbox.delete(String(frame.clientMessageId));
          entry.message.acks++;
          entry.message.firstAckAt ??= Date.now();
          return;
        }
        case 'error': {
          const code = String(frame.code);
          for (const entry of this.outbox.values()) entry.message.failures[code] = (entry.message.failures[code] ?? 0) + 1;
          if (code === 'unavailable' || code === 'rate_limited') {
            setTimeout(() => {
              for (const entry of this.outbox.values()) this.#sendMessage(entry.message);
            }, 3000).unref();
          }
          return;
        }
        case 'message': {
          if (typeof frame.cursor === 'string' && frame.cursor) this.#cursor = frame.cursor;
          const id = String(frame.id);
          if (frame.author === 'visitor') return;
          if (this.seen.has(id)) {
            ledger.replayedFrames++;
            return;
          }
          this.seen.add(id);
          const text = String(frame.text ?? '');
          ledger.reply({ kind: 'webchat', user: this.visitorId, at: Date.now(), text, tokens: tokensOf(text), id });
          return;
        }
        default:
      }
    }

    #sendMessage(m: SentMessage): void {
      const ws = this.#socket;
      if (!ws || !this.#ready || ws.readyState !== WebSocket.OPEN) return;
      m.attempts++;
      this.outbox.set(m.clientMessageId!, { message: m, sentAt: Date.now() });
      ws.send(JSON.stringify({ type: 'message', clientMessageId: m.clientMessageId, text: m.text }));
    }

    #tick(): void {
      const ws = this.#socket;
      if (!ws || !this.#ready) return;
      if (Date.now() - this.#pongAt > 15_000) {
        ws.terminate(); // no pong for 15 s: a half-open socket
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping' }));
      for (const entry of this.outbox.values()) {
        if (Date.now() - entry.sentAt > options.attemptTimeoutMs) {
          entry.message.failures.timeout = (entry.message.failures.timeout ?? 0) + 1;
          this.#sendMessage(entry.message);
        }
      }
    }

    async run(): Promise<void> {
      await this.#join();
      if (!this.#token) return;
      this.#connect();
      for (let seq = 0; !sending.signal.aborted; seq++) {
        const t = token('v', this.index, seq);
        const clientMessageId = `c_${randomBytes(10).toString('hex')}`;
        const m: SentMessage = {
          token: t, kind: 'webchat', user: this.visitorId, seq, clientMessageId,
          externalId: visitorMessageId(options.webchat.channelId, this.visitorId, clientMessageId),
          text: `Question ${t}: is it in stock?`, firstSentAt: Date.now(), attempts: 0, acks: 0, forcedRedeliveries: 0, failures: {},
        };
        ledger.add(m);
        // Typed while disconnected, it waits in the outbox for the socket to be back.
        this.outbox.set(clientMessageId, { message: m, sentAt: 0 });
        this.#sendMessage(m);
        await ledger.waitAnswer(t, options.replyTimeoutMs, stopping.signal);
        await abortableSleep(jitter(options.thinkMs), sending.signal);
      }
    }

    close(): void {
      clearInterval(this.#timer);
      clearTimeout(this.#reconnect);
      this.#socket?.close(1000);
      this.#socket = undefined;
    }
  }

  const visitors = Array.from({ length: options.webchatVisitors }, (_, i) => new Visitor(i));
  const users = [
    ...Array.from({ length: options.whatsappUsers }, (_, i) => keep(whatsappUser(i))),
    ...visitors.map((v) => keep(v.run())),
  ];
  void users;

  return {
    ledger,
    get webchatConnects() {
      return webchatConnects;
    },
    stopSending() {
      sending.abort();
    },
    async stop() {
      sending.abort();
      stopping.abort();
      for (const v of visitors) v.close();
      await Promise.race([Promise.allSettled([...background]), sleep(15_000)]);
      delivered.push = push;
    },
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
