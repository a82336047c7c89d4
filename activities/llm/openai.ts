// OpenAI chat completions (with function tools) through the official SDK. The same client serves
// any OpenAI-compatible server (OPENAI_BASE_URL). maxRetries: 0 — Temporal retries the activity.
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { kindOfStatus, ProviderError, retryAfterMs, type ChatProvider, type ChatRequest, type ChatResult } from './provider.ts';
import { UNREACHABLE } from '../../lib/tenant-urls.ts';

export interface OpenAiProviderOptions {
  apiKey: string;
  baseURL?: string;
  /** A tenant's own base URL: lib/tenant-urls.ts's tenantFetch (connect-time address check, no redirects). */
  fetch?: typeof fetch;
}

export function createOpenAiProvider(options: OpenAiProviderOptions): ChatProvider {
  const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, ...(options.fetch && { fetch: options.fetch }) });
  return {
    name: 'openai',
    async complete(request: ChatRequest): Promise<ChatResult> {
      const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: request.system }];
      for (const m of request.messages) {
        if (m.role === 'user') {
          // Images as content parts beside the text (data URLs: the file never leaves the platform otherwise).
          const images = (m.images ?? []).map((i) => ({ type: 'image_url' as const, image_url: { url: `data:${i.mimeType};base64,${i.base64}` } }));
          messages.push({ role: 'user', content: images.length > 0 ? [{ type: 'text', text: m.text }, ...images] : m.text });
        }
        else if (m.role === 'tool') messages.push({ role: 'tool', tool_call_id: m.callId, content: m.content });
        else if (m.toolCalls?.length) {
          messages.push({
            role: 'assistant',
            content: m.text || null,
            tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
          });
        } else messages.push({ role: 'assistant', content: m.text });
      }
      const tools: ChatCompletionTool[] = request.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
      const body = {
        model: request.model,
        messages,
        temperature: request.temperature,
        max_completion_tokens: request.maxTokens,
        ...(tools.length > 0 && { tools }),
      };
      try {
        if (request.onText) return await streamed(client, body, request);
        const res = await client.chat.completions.create(body, { timeout: request.timeoutMs, signal: request.signal });
        const message = res.choices[0]?.message;
        const toolCalls = (message?.tool_calls ?? []).flatMap((c) =>
          c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
        );
        return {
          text: message?.content ?? '',
          toolCalls,
          promptTokens: res.usage?.prompt_tokens ?? 0,
          completionTokens: res.usage?.completion_tokens ?? 0,
          model: res.model || request.model,
        };
      } catch (err) {
        throw openAiError(err);
      }
    },
  };
}

/**
 * The same call with `stream: true`: text deltas go to `onText` as they arrive, tool calls are
 * assembled from their indexed deltas, usage comes in the last chunk (include_usage). The SDK's
 * timeout ends at the response's headers, so the whole stream is bounded here; a stream that
 * ends without a finish_reason (cut, timed out) is a transient failure, never a short answer.
 */
async function streamed(client: OpenAI, body: ChatCompletionCreateParamsNonStreaming, request: ChatRequest): Promise<ChatResult> {
  const stream = await client.chat.completions.create(
    { ...body, stream: true, stream_options: { include_usage: true } },
    { timeout: request.timeoutMs, signal: request.signal },
  );
  const timer = setTimeout(() => stream.controller.abort(), request.timeoutMs);
  let text = '';
  let model = '';
  let finished = false;
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  const calls: { id: string; name: string; arguments: string }[] = [];
  try {
    for await (const chunk of stream) {
      model ||= chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const d of choice.delta.tool_calls ?? []) {
        if (calls.length === 0) request.onToolCall?.();
        const call = (calls[d.index] ??= { id: '', name: '', arguments: '' });
        if (d.id) call.id = d.id;
        if (d.function?.name) call.name += d.function.name;
        if (d.function?.arguments) call.arguments += d.function.arguments;
      }
      const delta = choice.delta.content;
      if (delta) {
        text += delta;
        if (calls.length === 0) request.onText?.(delta);
      }
      if (choice.finish_reason) finished = true;
    }
  } catch (err) {
    if (err instanceof OpenAI.APIError) throw err;
    if (request.signal?.aborted) throw new OpenAI.APIUserAbortError();
    throw new ProviderError('openai', 'transient', null, `OpenAI's stream broke off: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
  if (request.signal?.aborted) throw new OpenAI.APIUserAbortError();
  if (!finished) throw new ProviderError('openai', 'transient', null, `OpenAI's stream ended before the answer did`);
  return {
    text,
    toolCalls: calls.filter((c) => c.id && c.name),
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    model: model || request.model,
  };
}

/** The SDK's error as a ProviderError (anything else, e.g. a cancellation, passes through). */
export function openAiError(err: unknown): unknown {
  if (err instanceof OpenAI.APIUserAbortError || err instanceof ProviderError) return err;
  if (!(err instanceof OpenAI.APIError)) return err;
  const status = err.status ?? null;
  const contextLength = err.code === 'context_length_exceeded' || (status === 400 && /maximum context length|context_length/i.test(err.message));
  const kind = contextLength ? 'context_length' : kindOfStatus(status);
  // No answer is one message whatever the cause (refused address, redirect, connection refused,
  // timeout): a tenant's base URL must not map the network, so the SDK's detail is not passed on.
  const message = status === null ? `OpenAI ${UNREACHABLE}` : `OpenAI answered ${status}: ${err.message}`;
  return new ProviderError('openai', kind, status, message, kind === 'throttled' ? retryAfterMs(err.headers) : undefined);
}
