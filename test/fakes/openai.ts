// A local fake of OpenAI's chat completions API (POST /v1/chat/completions) in its wire format:
// Bearer key, request validation (messages, tool messages answering the assistant's tool_calls),
// chat.completion bodies with `tool_calls`, usage, and OpenAI's error envelope
// `{ error: { message, type, param, code } }` with retry-after on 429.
import { randomBytes } from 'node:crypto';
import { startFakeLlmServer, tokens, type FakeLlmServer, type LlmCall, type VendorFormat } from './llm-server.ts';

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
  error(status, message, code) {
    const type = status === 429 ? 'requests' : status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
    const defaultCode = status === 429 ? 'rate_limit_exceeded' : status === 401 ? 'invalid_api_key' : null;
    return { error: { message, type, param: null, code: code ?? defaultCode } };
  },
};

export function startFakeOpenAi(options: { apiKey?: string } = {}): Promise<FakeLlmServer> {
  return startFakeLlmServer(openAiFormat, { apiKey: options.apiKey ?? FAKE_OPENAI_KEY, basePath: '/v1' });
}
