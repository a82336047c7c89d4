// OpenAI chat completions (with function tools) through the official SDK. The same client serves
// any OpenAI-compatible server (OPENAI_BASE_URL). maxRetries: 0 — Temporal retries the activity.
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
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
      try {
        const res = await client.chat.completions.create(
          {
            model: request.model,
            messages,
            temperature: request.temperature,
            max_completion_tokens: request.maxTokens,
            ...(tools.length > 0 && { tools }),
          },
          { timeout: request.timeoutMs, signal: request.signal },
        );
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

/** The SDK's error as a ProviderError (anything else, e.g. a cancellation, passes through). */
export function openAiError(err: unknown): unknown {
  if (err instanceof OpenAI.APIUserAbortError) return err;
  if (!(err instanceof OpenAI.APIError)) return err;
  const status = err.status ?? null;
  const contextLength = err.code === 'context_length_exceeded' || (status === 400 && /maximum context length|context_length/i.test(err.message));
  const kind = contextLength ? 'context_length' : kindOfStatus(status);
  // No answer is one message whatever the cause (refused address, redirect, connection refused,
  // timeout): a tenant's base URL must not map the network, so the SDK's detail is not passed on.
  const message = status === null ? `OpenAI ${UNREACHABLE}` : `OpenAI answered ${status}: ${err.message}`;
  return new ProviderError('openai', kind, status, message, kind === 'throttled' ? retryAfterMs(err.headers) : undefined);
}
