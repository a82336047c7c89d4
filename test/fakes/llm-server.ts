// What the fake OpenAI and Anthropic servers share: an HTTP server on 127.0.0.1 that records
// every request, checks the key, answers injected failures (status, vendor error body,
// retry-after) and otherwise asks a responder — scripted by the test, or a default that answers
// from the numbered passages in the system prompt, citing them. Each vendor's file turns its
// wire format into the neutral request below and the reply back into its wire format. A request
// with `stream: true` is answered as the vendor streams (server-sent events, the text a few
// words per event, STREAM_EVENT_GAP_MS apart); cutStreams() makes the next streams break off
// half-way, as a dropped connection does.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the responder sees it, whatever the vendor's format. */
export interface LlmCall {
  model: string;
  system: string;
  /** user/assistant texts in order (tool results not included). */
  messages: { role: 'user' | 'assistant'; text: string }[];
  /** Results of tool calls sent back in this request, in order. */
  toolResults: { callId: string; content: string; isError: boolean }[];
  /** Names of the tools offered. */
  tools: string[];
}

export interface FakeReply {
  text?: string;
  toolCalls?: { name: string; arguments: unknown }[];
}

export interface FakeLlmError {
  status: number;
  message?: string;
  /** Sets `retry-after` (seconds). */
  retryAfterSeconds?: number;
  /** Vendor error type/code override (e.g. context_length_exceeded). */
  code?: string;
}

export interface RecordedLlmRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  status: number;
  at: number;
}

export type Responder = (call: LlmCall, n: number) => FakeReply | FakeLlmError;

export interface FakeLlmServer {
  /** The SDK's baseURL for this fake. */
  url: string;
  requests: RecordedLlmRequest[];
  /** Requests that reached the model endpoint and were answered with a success. */
  readonly answered: number;
  failNext(count: number, error: FakeLlmError): void;
  /** Every request fails with `error` until `recover()` or `reset()`. */
  failAll(error: FakeLlmError): void;
  recover(): void;
  /** Replaces the default responder (n counts successful answers, from 0). */
  respond(responder: Responder): void;
  /** The next `count` streamed answers stop after half their events, the connection cut. */
  cutStreams(count: number): void;
  reset(): void;
  close(): Promise<void>;
}

export interface VendorFormat {
  /** The model endpoint's path. */
  path: string;
  /** The key from the request headers. */
  key(headers: IncomingHttpHeaders): string | undefined;
  /** The neutral view of a request body, or a message for a 400 when it is malformed. */
  parse(body: unknown): LlmCall | string;
  success(reply: FakeReply, call: LlmCall, body: unknown): unknown;
  /** The same reply as the vendor's stream events (`event` names the SSE event, when the vendor names them). */
  stream(reply: FakeReply, call: LlmCall, body: unknown): { event?: string; data: unknown }[];
  error(status: number, message: string, code?: string): unknown;
}

export function isError(r: FakeReply | FakeLlmError): r is FakeLlmError {
  return typeof (r as FakeLlmError).status === 'number';
}

/** The default model: answers from passage [1] of the system prompt, citing it; else does not know. */
export function groundedReply(call: LlmCall): FakeReply {
  const passage = /\[1\] \(([^)]*)\)\n([^\n]+)/.exec(call.system);
  if (!passage) return { text: "I don't know that, sorry." };
  const sentence = passage[2]!.split(/(?<=[.!?])\s/)[0]!;
  return { text: `${sentence} [1]` };
}

export const tokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

/** Time between two events of a streamed answer: the reader sees it grow. */
export const STREAM_EVENT_GAP_MS = 40;

/** A text as a model streams it: a few words at a time. */
export function textPieces(text: string): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < words.length; i += 2) out.push(words.slice(i, i + 2).join(''));
  return out;
}

export async function startFakeLlmServer(format: VendorFormat, options: { apiKey: string; basePath: string }): Promise<FakeLlmServer> {
  const requests: RecordedLlmRequest[] = [];
  let queued: FakeLlmError[] = [];
  let failing: FakeLlmError | undefined;
  let responder: Responder = groundedReply;
  let answered = 0;
  let cuts = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      const answer = handle(req.method ?? 'GET', path, req.headers, body);
      requests.push({ path, headers: req.headers, body, status: answer.status, at: Date.now() });
      if (answer.events) return void writeEvents(res, answer.events, answer.cut ?? false);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.body));
    });
  });

  function fail(e: FakeLlmError) {
    return {
      status: e.status,
      body: format.error(e.status, e.message ?? defaultMessage(e.status), e.code),
      headers: e.retryAfterSeconds !== undefined ? { 'retry-after': String(e.retryAfterSeconds) } : undefined,
    };
  }

  /** Server-sent events, one every STREAM_EVENT_GAP_MS; a cut stream stops half-way and drops the connection. */
  async function writeEvents(res: ServerResponse, events: { event?: string; data: unknown }[], cut: boolean): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const last = cut ? Math.ceil(events.length / 2) : events.length;
    for (const [i, e] of events.slice(0, last).entries()) {
      if (i > 0) await new Promise((r) => setTimeout(r, STREAM_EVENT_GAP_MS));
      if (res.destroyed) return;
      res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`);
    }
    if (cut) res.destroy();
    else res.end();
  }

  function handle(method: string, path: string, headers: IncomingHttpHeaders, body: unknown): { status: number; body: unknown; headers?: Record<string, string>; events?: { event?: string; data: unknown }[]; cut?: boolean } {
    if (method !== 'POST' || path !== `${options.basePath}${format.path}`) return fail({ status: 404, message: `Unknown request URL: ${method} ${path}` });
    const key = format.key(headers);
    if (key !== options.apiKey) return fail({ status: 401, message: 'Incorrect API key provided' });
    const injected = queued.shift() ?? failing;
    if (injected) return fail(injected);
    const call = format.parse(body);
    if (typeof call === 'string') return fail({ status: 400, message: call });
    const reply = responder(call, answered);
    if (isError(reply)) return fail(reply);
    if ((body as { stream?: unknown }).stream === true) {
      const cut = cuts > 0;
      if (cut) cuts--;
      else answered++;
      return { status: 200, body: undefined, events: format.stream(reply, call, body), cut };
    }
    answered++;
    return { status: 200, body: format.success(reply, call, body) };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${options.basePath}`,
    requests,
    get answered() {
      return answered;
    },
    failNext(count, error) {
      for (let i = 0; i < count; i++) queued.push(error);
    },
    failAll(error) {
      failing = error;
    },
    recover() {
      failing = undefined;
    },
    respond(r) {
      responder = r;
    },
    cutStreams(count) {
      cuts += count;
    },
    reset() {
      cuts = 0;
      requests.length = 0;
      queued = [];
      failing = undefined;
      responder = groundedReply;
      answered = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function defaultMessage(status: number): string {
  if (status === 429) return 'Rate limit reached for requests';
  if (status === 401) return 'Invalid authentication';
  if (status >= 500) return 'The server had an error while processing your request. Sorry about that!';
  return 'Invalid request';
}
