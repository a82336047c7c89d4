// A local fake of OpenAI's API in its wire format, on one base URL as the SDK expects:
// - chat completions (POST /v1/chat/completions): Bearer key, request validation (messages, tool
//   messages answering the assistant's tool_calls), chat.completion bodies with `tool_calls`,
//   usage, and OpenAI's error envelope `{ error: { message, type, param, code } }` with
//   retry-after on 429 (the shared fake LLM server, ./llm-server.ts); with `stream: true`,
//   chat.completion.chunk server-sent events ending in `data: [DONE]`;
// - embeddings (POST /v1/embeddings): a string or an array of strings, deterministic vectors of
//   the model's dimensions (or `dimensions`), as float arrays or as base64 of little-endian
//   float32 (`encoding_format: "base64"`, what the official SDK asks for by default), usage,
//   the same error envelope, injected failures, and a hold that keeps requests waiting until
//   released (to look at a switch half-way).
// - audio transcriptions (POST /v1/audio/transcriptions): multipart `file` and `model`, answered
//   `{ text }` (or the bare text for response_format=text), the text a test chose for the file;
// The embedding vectors are lexical (the local feature-hashing embedder at the requested
// dimensions), so nearest neighbours are meaningful in tests.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { embedLocalHash } from '../../activities/embeddings/local-hash.ts';
import { startFakeLlmServer, textPieces, tokens, type FakeLlmError, type FakeLlmServer, type LlmCall, type VendorFormat } from './llm-server.ts';

export const FAKE_OPENAI_KEY = 'sk-test-fake-openai';

type Msg = { role?: unknown; content?: unknown; tool_calls?: { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } }[]; tool_call_id?: unknown };

const text = (content: unknown) => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: { text?: string }) => p.text ?? '').join('') : '');

export const openAiFormat: VendorFormat = {
  path: '/chat/completions',
  key: (h) => /^Bearer (.+)$/.exec(h.authorization ?? '')?.[1],
  parse(body) {
    const b = body as { model?: unknown; messages?: Msg[]; tools?: { type?: unknown; function?: { name?: unknown } }[] } | undefined;
    if (typeof b?.model !== 'string' || !b.model) return "you must provide a model parameter";
    if (!Array.isArray(b.messages) || b.messages.length === 0) return "'messages' must contain at least one message";
    const call: LlmCall = { model: b.model, system: '', messages: [], toolResults: [], tools: [] };
    const pending = new Set<string>();
    for (const m of b.messages) {
      if (m.role === 'system') call.system += text(m.content);
      else if (m.role === 'user') call.messages.push({ role: 'user', text: text(m.content) });
      else if (m.role === 'assistant') {
        if (pending.size) return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.";
        for (const c of m.tool_calls ?? []) {
          if (c.type !== 'function' || typeof c.id !== 'string' || typeof c.function?.name !== 'string' || typeof c.function.arguments !== 'string') return 'Invalid tool_calls';
          pending.add(c.id);
        }
        call.messages.push({ role: 'assistant', text: text(m.content) });
      } else if (m.role === 'tool') {
        if (typeof m.tool_call_id !== 'string' || !pending.delete(m.tool_call_id)) {
          return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
        }
        call.toolResults.push({ callId: m.tool_call_id, content: text(m.content), isError: false });
      } else return `Invalid value for 'role': ${String(m.role)}`;
    }
    if (pending.size) return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.";
    for (const t of b.tools ?? []) {
      if (t.type !== 'function' || typeof t.function?.name !== 'string') return 'Invalid tools';
      call.tools.push(t.function.name);
    }
    return call;
  },
  success(reply, call, body) {
    const toolCalls = (reply.toolCalls ?? []).map((c) => ({
      id: `call_${randomBytes(8).toString('hex')}`,
      type: 'function',
      function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
    }));
    const promptTokens = tokens(JSON.stringify(body));
    const completionTokens = tokens((reply.text ?? '') + JSON.stringify(toolCalls));
    return {
      id: `chatcmpl-${randomBytes(8).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: call.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: reply.text ?? null, refusal: null, ...(toolCalls.length && { tool_calls: toolCalls }) },
          finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  },
  stream(reply, call, body) {
    // chat.completion.chunk events: the role, the text in pieces, each tool call's name then its
    // arguments (by index), the finish_reason, then usage when stream_options.include_usage; then [DONE].
    const id = `chatcmpl-${randomBytes(8).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null = null) => ({ data: { id, object: 'chat.completion.chunk', created, model: call.model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] } });
    const pieces = reply.text ? textPieces(reply.text) : [];
    const toolCalls = reply.toolCalls ?? [];
    const events: { data: unknown }[] = [chunk({ role: 'assistant', content: '', refusal: null }), ...pieces.map((content) => chunk({ content }))];
    toolCalls.forEach((c, index) => {
      const args = typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments);
      events.push(chunk({ tool_calls: [{ index, id: `call_${randomBytes(8).toString('hex')}`, type: 'function', function: { name: c.name, arguments: '' } }] }));
      events.push(chunk({ tool_calls: [{ index, function: { arguments: args } }] }));
    });
    events.push(chunk({}, toolCalls.length ? 'tool_calls' : 'stop'));
    if ((body as { stream_options?: { include_usage?: unknown } }).stream_options?.include_usage === true) {
      const promptTokens = tokens(JSON.stringify(body));
      const completionTokens = tokens((reply.text ?? '') + JSON.stringify(toolCalls));
      events.push({ data: { id, object: 'chat.completion.chunk', created, model: call.model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } } });
    }
    return [...events, { data: '[DONE]' }];
  },
  error(status, message, code) {
    const type = status === 429 ? 'requests' : status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
    const defaultCode = status === 429 ? 'rate_limit_exceeded' : status === 401 ? 'invalid_api_key' : null;
    return { error: { message, type, param: null, code: code ?? defaultCode } };
  },
};

/** Dimensions of OpenAI's embedding models (text-embedding-3-* also take `dimensions`). */
const EMBEDDING_DIMENSIONS: Record<string, number> = { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 };

export interface RecordedEmbeddingRequest {
  headers: IncomingHttpHeaders;
  body: { model?: unknown; input?: unknown; encoding_format?: unknown; dimensions?: unknown } | undefined;
  /** The texts of a well-formed request (one per input). */
  inputs: string[];
  status: number;
  at: number;
}

export interface FakeEmbeddings {
  requests: RecordedEmbeddingRequest[];
  /** Requests answered with vectors. */
  readonly answered: number;
  failNext(count: number, error: FakeLlmError): void;
  /** Requests wait (unanswered) from now until release(); `waiting` counts them. */
  hold(): void;
  release(): void;
  readonly waiting: number;
  reset(): void;
}

export interface RecordedTranscription {
  headers: IncomingHttpHeaders;
  model: string | undefined;
  filename: string | undefined;
  mimeType: string | undefined;
  bytes: Buffer | undefined;
  status: number;
}

export interface FakeTranscriptions {
  requests: RecordedTranscription[];
  /** What every transcription answers from now on (default "hello"). */
  respond(text: string): void;
  failNext(count: number, error: FakeLlmError): void;
}

export interface FakeOpenAi extends FakeLlmServer {
  embeddings: FakeEmbeddings;
  transcriptions: FakeTranscriptions;
}

/** The vector the fake answers for a text: deterministic, unit length. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  return embedLocalHash(text, dimensions);
}

function float32Base64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

function embeddingsAnswer(apiKey: string, headers: IncomingHttpHeaders, body: RecordedEmbeddingRequest['body'], injected: FakeLlmError | undefined): { answer: Answer; inputs: string[] } {
  const fail = (e: FakeLlmError): { answer: Answer; inputs: string[] } => ({
    answer: {
      status: e.status,
      body: openAiFormat.error(e.status, e.message ?? (e.status === 429 ? 'Rate limit reached for requests' : 'Invalid request'), e.code),
      headers: e.retryAfterSeconds !== undefined ? { 'retry-after': String(e.retryAfterSeconds) } : undefined,
    },
    inputs: [],
  });
  if (openAiFormat.key(headers) !== apiKey) return fail({ status: 401, message: 'Incorrect API key provided' });
  if (injected) return fail(injected);
  const model = body?.model;
  if (typeof model !== 'string' || !model) return fail({ status: 400, message: 'you must provide a model parameter' });
  const known = EMBEDDING_DIMENSIONS[model];
  if (!known) return fail({ status: 404, message: `The model \`${model}\` does not exist or you do not have access to it.`, code: 'model_not_found' });
  const inputs = typeof body?.input === 'string' ? [body.input] : body?.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 2048 || !inputs.every((t) => typeof t === 'string' && t.length > 0)) {
    return fail({ status: 400, message: "'input' must be a non-empty string or an array of 1 to 2048 non-empty strings" });
  }
  const dimensions = body?.dimensions === undefined ? known : body.dimensions;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > known) {
    return fail({ status: 400, message: `'dimensions' must be an integer from 1 to ${known}` });
  }
  const format = body?.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return fail({ status: 400, message: "'encoding_format' must be 'float' or 'base64'" });
  const promptTokens = inputs.reduce((sum: number, t: string) => sum + tokens(t), 0);
  return {
    inputs,
    answer: {
      status: 200,
      body: {
        object: 'list',
        data: inputs.map((t: string, index: number) => {
          const vector = fakeEmbedding(t, dimensions);
          return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector };
        }),
        model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      },
    },
  };
}

/**
 * The fake OpenAI API. Embeddings are answered here; every other request goes on to the fake
 * chat completions server behind it (whose `requests` therefore hold chat requests only).
 */
export async function startFakeOpenAi(options: { apiKey?: string } = {}): Promise<FakeOpenAi> {
  const apiKey = options.apiKey ?? FAKE_OPENAI_KEY;
  const chat = await startFakeLlmServer(openAiFormat, { apiKey, basePath: '/v1' });
  const chatUrl = new URL(chat.url);
  const requests: RecordedEmbeddingRequest[] = [];
  let queued: FakeLlmError[] = [];
  let answered = 0;
  let held: (() => void)[] | undefined;

  const transcriptionRequests: RecordedTranscription[] = [];
  let transcript = 'hello';
  let transcriptionFailures: FakeLlmError[] = [];

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (req.method === 'POST' && path === '/v1/audio/transcriptions') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => void transcribe(req.headers, Buffer.concat(parts)).then((a) => res.writeHead(a.status, a.headers).end(a.body)));
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/embeddings') {
      // Everything else is the chat fake's.
      const forward = httpRequest(
        { host: chatUrl.hostname, port: chatUrl.port, method: req.method, path: req.url, headers: { ...req.headers, host: chatUrl.host } },
        (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.pipe(res);
          // A stream the chat fake cut is cut here too.
          upstream.on('close', () => {
            if (!upstream.complete) res.destroy();
          });
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      req.pipe(forward);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        let body: RecordedEmbeddingRequest['body'];
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedEmbeddingRequest['body'];
        } catch {
          body = undefined;
        }
        const { answer: a, inputs } = embeddingsAnswer(apiKey, req.headers, body, queued.shift());
        if (a.status === 200) answered++;
        requests.push({ headers: req.headers, body, inputs, status: a.status, at: Date.now() });
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(JSON.stringify(a.body));
      };
      if (held) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  /** OpenAI's transcription endpoint: Bearer key, multipart `file` and `model`, `{ text }`. */
  async function transcribe(headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const json = (status: number, value: unknown) => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
    const recorded: RecordedTranscription = { headers, model: undefined, filename: undefined, mimeType: undefined, bytes: undefined, status: 0 };
    transcriptionRequests.push(recorded);
    const answer = (status: number, value: unknown) => ((recorded.status = status), json(status, value));
    if (/^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] !== apiKey) return answer(401, openAiFormat.error(401, 'Incorrect API key provided'));
    const failure = transcriptionFailures.shift();
    if (failure) return answer(failure.status, openAiFormat.error(failure.status, failure.message ?? 'The server had an error', failure.code));
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { 'content-type': headers['content-type'] ?? '' } }).formData();
    } catch {
      return answer(400, openAiFormat.error(400, 'Could not parse multipart form'));
    }
    const file = form.get('file');
    const model = form.get('model');
    if (typeof model !== 'string' || !model) return answer(400, openAiFormat.error(400, 'you must provide a model parameter'));
    if (!(file instanceof Blob)) return answer(400, openAiFormat.error(400, "1 validation error for Request\nbody -> file\n  field required"));
    Object.assign(recorded, { model, filename: (file as File).name, mimeType: file.type, bytes: Buffer.from(await file.arrayBuffer()) });
    if (form.get('response_format') === 'text') return ((recorded.status = 200), { status: 200, headers: { 'content-type': 'text/plain' }, body: transcript });
    return answer(200, { text: transcript, usage: { type: 'duration', seconds: 3 } });
  }

  const release = () => {
    const waiting = held ?? [];
    held = undefined;
    for (const answer of waiting) answer();
  };
  const embeddings: FakeEmbeddings = {
    requests,
    get answered() {
      return answered;
    },
    failNext(count, error) {
      for (let i = 0; i < count; i++) queued.push(error);
    },
    hold() {
      held ??= [];
    },
    release,
    get waiting() {
      return held?.length ?? 0;
    },
    reset() {
      release();
      requests.length = 0;
      queued = [];
      answered = 0;
    },
  };

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests: chat.requests,
    get answered() {
      return chat.answered;
    },
    failNext: chat.failNext,
    failAll: chat.failAll,
    recover: chat.recover,
    respond: chat.respond,
    cutStreams: chat.cutStreams,
    embeddings,
    transcriptions: {
      requests: transcriptionRequests,
      respond(text) {
        transcript = text;
      },
      failNext(count, error) {
        for (let i = 0; i < count; i++) transcriptionFailures.push(error);
      },
    },
    reset() {
      chat.reset();
      embeddings.reset();
      transcriptionRequests.length = 0;
      transcriptionFailures = [];
      transcript = 'hello';
    },
    async close() {
      release();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await chat.close();
    },
  };
}
