// Anthropic messages (with tool use) through the official SDK; ANTHROPIC_BASE_URL points it at
// any compatible server. maxRetries: 0 — Temporal retries the activity. The Messages API this SDK
// speaks has no `temperature` (the model decides sampling), so the tenant's temperature applies
// to OpenAI only.
import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlockParam, MessageCreateParamsNonStreaming, MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages/messages';
import { kindOfStatus, ProviderError, retryAfterMs, type ChatMessage, type ChatProvider, type ChatRequest, type ChatResult } from './provider.ts';
import { UNREACHABLE } from '../../lib/tenant-urls.ts';

export interface AnthropicProviderOptions {
  apiKey: string;
  baseURL?: string;
  /** A tenant's own base URL: lib/tenant-urls.ts's tenantFetch (connect-time address check, no redirects). */
  fetch?: typeof fetch;
}

function parseArguments(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Anthropic wants alternating user/assistant messages starting with the user; tool results are
 * `tool_result` blocks of a user message. Consecutive messages of one role are merged.
 */
export function toAnthropicMessages(messages: ChatMessage[]): MessageParam[] {
  const out: { role: 'user' | 'assistant'; content: ContentBlockParam[] }[] = [];
  for (const m of messages) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks: ContentBlockParam[] =
      m.role === 'tool'
        ? [{ type: 'tool_result', tool_use_id: m.callId, content: m.content, is_error: m.isError }]
        : m.role === 'assistant'
          ? [
              ...(m.text ? [{ type: 'text' as const, text: m.text }] : []),
              ...(m.toolCalls ?? []).map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.name, input: parseArguments(c.arguments) })),
            ]
          : [
              // Images first: Anthropic recommends the image before the text about it.
              ...(m.images ?? []).map((i) => ({
                type: 'image' as const,
                source: { type: 'base64' as const, media_type: i.mimeType as 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp', data: i.base64 },
              })),
              { type: 'text' as const, text: m.text },
            ];
    if (blocks.length === 0) continue;
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else if (out.length > 0 || role === 'user') out.push({ role, content: blocks });
  }
  return out;
}

export function createAnthropicProvider(options: AnthropicProviderOptions): ChatProvider {
  const client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, ...(options.fetch && { fetch: options.fetch }) });
  return {
    name: 'anthropic',
    async complete(request: ChatRequest): Promise<ChatResult> {
      const tools: Tool[] = request.tools.map((t) => ({
        name: t.name,
        description: t.description,
        input_schema: { type: 'object', ...t.parameters } as Tool['input_schema'],
      }));
      const body: MessageCreateParamsNonStreaming = {
        model: request.model,
        system: request.system,
        messages: toAnthropicMessages(request.messages),
        max_tokens: request.maxTokens,
        ...(tools.length > 0 && { tools }),
      };
      try {
        if (request.onText) return await streamed(client, body, request);
        const res = await client.messages.create(body, { timeout: request.timeoutMs, signal: request.signal });
        const text = res.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
        const toolCalls = res.content.flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, arguments: JSON.stringify(b.input ?? {}) }] : []));
        return {
          text,
          toolCalls,
          promptTokens: res.usage?.input_tokens ?? 0,
          completionTokens: res.usage?.output_tokens ?? 0,
          model: res.model || request.model,
        };
      } catch (err) {
        throw anthropicError(err);
      }
    },
  };
}

/**
 * The same call with `stream: true` (Anthropic's message events): text_delta pieces go to
 * `onText`, a tool_use block's input is its input_json_delta pieces joined. The SDK's timeout
 * ends at the response's headers, so the whole stream is bounded here; a stream without its
 * message_stop (cut, timed out, or an `error` event) is a transient failure, never a short answer.
 */
async function streamed(client: Anthropic, body: MessageCreateParamsNonStreaming, request: ChatRequest): Promise<ChatResult> {
  const stream = await client.messages.create({ ...body, stream: true }, { timeout: request.timeoutMs, signal: request.signal });
  const timer = setTimeout(() => stream.controller.abort(), request.timeoutMs);
  let model = '';
  let stopped = false;
  let promptTokens = 0;
  let completionTokens = 0;
  const blocks: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; json: string })[] = [];
  try {
    for await (const event of stream) {
      if (event.type === 'message_start') {
        model = event.message.model;
        promptTokens = event.message.usage.input_tokens;
        completionTokens = event.message.usage.output_tokens;
      } else if (event.type === 'content_block_start') {
        const b = event.content_block;
        if (b.type === 'tool_use') {
          if (!blocks.some((x) => x.type === 'tool_use')) request.onToolCall?.();
          blocks[event.index] = { type: 'tool_use', id: b.id, name: b.name, json: '' };
        } else if (b.type === 'text') blocks[event.index] = { type: 'text', text: b.text };
      } else if (event.type === 'content_block_delta') {
        const b = blocks[event.index];
        if (event.delta.type === 'text_delta' && b?.type === 'text') {
          b.text += event.delta.text;
          if (!blocks.some((x) => x.type === 'tool_use')) request.onText?.(event.delta.text);
        } else if (event.delta.type === 'input_json_delta' && b?.type === 'tool_use') b.json += event.delta.partial_json;
      } else if (event.type === 'message_delta') completionTokens = event.usage.output_tokens;
      else if (event.type === 'message_stop') stopped = true;
    }
  } catch (err) {
    if (err instanceof Anthropic.APIError) throw err;
    if (request.signal?.aborted) throw new Anthropic.APIUserAbortError();
    throw new ProviderError('anthropic', 'transient', null, `Anthropic's stream broke off: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
  if (request.signal?.aborted) throw new Anthropic.APIUserAbortError();
  if (!stopped) throw new ProviderError('anthropic', 'transient', null, `Anthropic's stream ended before the answer did`);
  return {
    text: blocks.flatMap((b) => (b?.type === 'text' ? [b.text] : [])).join(''),
    toolCalls: blocks.flatMap((b) => (b?.type === 'tool_use' ? [{ id: b.id, name: b.name, arguments: JSON.stringify(parseArguments(b.json || '{}')) }] : [])),
    promptTokens,
    completionTokens,
    model: model || request.model,
  };
}

/** The SDK's error as a ProviderError (anything else, e.g. a cancellation, passes through). */
export function anthropicError(err: unknown): unknown {
  if (err instanceof Anthropic.APIUserAbortError || err instanceof ProviderError) return err;
  if (!(err instanceof Anthropic.APIError)) return err;
  const status = err.status ?? null;
  const contextLength = status === 400 && /prompt is too long|context window|context length/i.test(err.message);
  const kind = contextLength ? 'context_length' : kindOfStatus(status);
  // No answer is one message whatever the cause (refused address, redirect, connection refused,
  // timeout): a tenant's base URL must not map the network, so the SDK's detail is not passed on.
  const message = status === null ? `Anthropic ${UNREACHABLE}` : `Anthropic answered ${status}: ${err.message}`;
  return new ProviderError('anthropic', kind, status, message, kind === 'throttled' ? retryAfterMs(err.headers) : undefined);
}
