// The one interface every model provider implements, and the provider-neutral shapes of a chat.
// A provider turns a ChatRequest into its vendor's wire format (OpenAI chat completions,
// Anthropic messages), calls the vendor once — no SDK retries: Temporal owns retries — and
// either returns a ChatResult or throws a ProviderError saying what kind of failure it was.
import type { ToolCall } from '../../workflows/types.ts';

export type ProviderName = 'openai' | 'anthropic';

/** An image the customer sent, for a vision-capable model. */
export interface ChatImage {
  mimeType: string;
  base64: string;
  filename: string;
}

export type ChatMessage =
  | { role: 'user'; text: string; images?: ChatImage[] }
  | { role: 'assistant'; text: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; callId: string; name: string; content: string; isError: boolean };

/** A function the model may call: name, description and JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  model: string;
  system: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  temperature: number;
  maxTokens: number;
  /** Per call; the SDK aborts the request after it. */
  timeoutMs: number;
  /** The activity's cancellation. */
  signal?: AbortSignal;
  /**
   * Asks for the answer streamed: the text of the answer as it is generated, in pieces (the
   * result is still the whole answer). A provider stops calling it once the model starts a tool
   * call, and then calls `onToolCall` once, so a listener can drop what it showed of that round.
   */
  onText?: (delta: string) => void;
  onToolCall?: () => void;
}

export interface ChatResult {
  text: string;
  toolCalls: ToolCall[];
  promptTokens: number;
  completionTokens: number;
  /** The model the vendor says answered (may be a dated snapshot of the one asked for). */
  model: string;
}

export interface ChatProvider {
  readonly name: ProviderName;
  complete(request: ChatRequest): Promise<ChatResult>;
}

/**
 * - throttled: 429 (and Anthropic's 529 overloaded) — retry after `retryAfterMs` if given;
 * - transient: 5xx, 408/409, timeouts, connection errors — retry with backoff;
 * - context_length: the prompt is too long — trim and retry once, in the activity;
 * - rejected: any other 4xx (bad request, bad key, no permission, unknown model) — never retry.
 */
export type ProviderErrorKind = 'throttled' | 'transient' | 'context_length' | 'rejected';

export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    readonly status: number | null,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** `retry-after-ms` (OpenAI's) or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms')?.trim();
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const raw = headers?.get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The decision on an HTTP status (null: no response at all). */
export function kindOfStatus(status: number | null): ProviderErrorKind {
  if (status === null) return 'transient';
  if (status === 429 || status === 529) return 'throttled';
  if (status === 408 || status === 409 || status >= 500) return 'transient';
  return 'rejected';
}
