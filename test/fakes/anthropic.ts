// A local fake of Anthropic's Messages API (POST /v1/messages) in its wire format: the key (x-api-key
// or Bearer) and anthropic-version headers, request validation (max_tokens, alternating roles starting with
// the user, tool_result blocks answering the previous turn's tool_use blocks), message bodies
// with `tool_use` content blocks and usage, and Anthropic's error envelope
// `{ type: "error", error: { type, message }, request_id }` with retry-after on 429. With
// `stream: true`, the message as its server-sent events (message_start … message_stop).
import { randomBytes } from 'node:crypto';
import { startFakeLlmServer, textPieces, tokens, type FakeLlmServer, type LlmCall, type VendorFormat } from './llm-server.ts';

export const FAKE_ANTHROPIC_KEY = 'sk-ant-test-fake';

type Block = { type?: unknown; text?: unknown; id?: unknown; name?: unknown; input?: unknown; tool_use_id?: unknown; content?: unknown; is_error?: unknown };

const blockText = (content: unknown) =>
  typeof content === 'string' ? content : Array.isArray(content) ? (content as Block[]).map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('') : '';

export const anthropicFormat: VendorFormat = {
  path: '/v1/messages',
  // The SDK sends the API key as x-api-key (older) or as a Bearer token (1.x); anthropic-version always.
  key: (h) => (h['anthropic-version'] ? (typeof h['x-api-key'] === 'string' ? h['x-api-key'] : /^Bearer (.+)$/.exec(h.authorization ?? '')?.[1]) : undefined),
  parse(body) {
    const b = body as { model?: unknown; max_tokens?: unknown; system?: unknown; messages?: { role?: unknown; content?: unknown }[]; tools?: { name?: unknown; input_schema?: unknown }[] } | undefined;
    if (typeof b?.model !== 'string' || !b.model) return 'model: Field required';
    if (typeof b.max_tokens !== 'number') return 'max_tokens: Field required';
    if (!Array.isArray(b.messages) || b.messages.length === 0) return 'messages: at least one message is required';
    const call: LlmCall = { model: b.model, system: blockText(b.system), messages: [], toolResults: [], tools: [] };
    let previous: unknown;
    let pendingToolUses = new Set<string>();
    for (const [i, m] of b.messages.entries()) {
      if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
      if (i === 0 && m.role !== 'user') return 'messages: first message must use the "user" role';
      if (m.role === previous) return 'messages: roles must alternate between "user" and "assistant"';
      previous = m.role;
      const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Block[]) : [];
      if (m.role === 'assistant') {
        pendingToolUses = new Set();
        for (const bl of blocks) {
          if (bl.type === 'tool_use') {
            if (typeof bl.id !== 'string' || typeof bl.name !== 'string' || typeof bl.input !== 'object' || bl.input === null) return `messages.${i}: invalid tool_use block`;
            pendingToolUses.add(bl.id);
          }
        }
        call.messages.push({ role: 'assistant', text: blockText(blocks) });
      } else {
        for (const bl of blocks) {
          if (bl.type === 'tool_result') {
            if (typeof bl.tool_use_id !== 'string' || !pendingToolUses.delete(bl.tool_use_id)) {
              return `messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(bl.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
            }
            call.toolResults.push({ callId: bl.tool_use_id, content: blockText(bl.content), isError: bl.is_error === true });
          }
        }
        if (pendingToolUses.size) return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after`;
        const t = blockText(blocks);
        if (t) call.messages.push({ role: 'user', text: t });
      }
    }
    for (const t of b.tools ?? []) {
      if (typeof t.name !== 'string' || typeof t.input_schema !== 'object') return 'tools: invalid tool';
      call.tools.push(t.name);
    }
    return call;
  },
  success(reply, call, body) {
    const content = [
      ...(reply.text ? [{ type: 'text', text: reply.text }] : []),
      ...(reply.toolCalls ?? []).map((c) => ({ type: 'tool_use', id: `toolu_${randomBytes(8).toString('hex')}`, name: c.name, input: typeof c.arguments === 'string' ? JSON.parse(c.arguments) : c.arguments })),
    ];
    return {
      id: `msg_${randomBytes(8).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model: call.model,
      content,
      stop_reason: reply.toolCalls?.length ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: tokens(JSON.stringify(body)), output_tokens: tokens(JSON.stringify(content)) },
    };
  },
  stream(reply, call, body) {
    // Anthropic's message events: message_start, each content block (start, deltas, stop), message_delta with the stop reason, message_stop.
    const message = anthropicFormat.success(reply, call, body) as { id: string; content: { type: string; text?: string; id?: string; name?: string; input?: unknown }[]; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
    const ev = (event: string, data: object) => ({ event, data: { type: event, ...data } });
    const events = [ev('message_start', { message: { ...message, content: [], stop_reason: null, usage: { input_tokens: message.usage.input_tokens, output_tokens: 1 } } })];
    message.content.forEach((b, index) => {
      if (b.type === 'text') {
        events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
        for (const text of textPieces(b.text ?? '')) events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text } }));
      } else {
        events.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
        events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } }));
      }
      events.push(ev('content_block_stop', { index }));
    });
    events.push(ev('message_delta', { delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: message.usage.output_tokens } }));
    events.push(ev('message_stop', {}));
    return events;
  },
  error(status, message, code) {
    const type =
      code ??
      (status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : status === 403 ? 'permission_error' : status === 404 ? 'not_found_error' : status === 529 ? 'overloaded_error' : status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message }, request_id: `req_${randomBytes(8).toString('hex')}` };
  },
};

export function startFakeAnthropic(options: { apiKey?: string } = {}): Promise<FakeLlmServer> {
  return startFakeLlmServer(anthropicFormat, { apiKey: options.apiKey ?? FAKE_ANTHROPIC_KEY, basePath: '' });
}
