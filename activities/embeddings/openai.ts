// OpenAI embeddings through the official SDK; the same client serves any OpenAI-compatible
// server (OPENAI_BASE_URL). The SDK's own retries are off (maxRetries: 0): Temporal retries the
// activity, and a provider's verdict becomes a Temporal failure here — 429/5xx/network errors
// retry (a retry-after becomes nextRetryDelay), other 4xx (bad key, unknown model, input too
// long) are non-retryable.
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import type { EmbeddingProvider } from './index.ts';

export interface OpenAiEmbeddingOptions {
  apiKey?: string;
  baseURL?: string;
  model: string;
  dimensions: number;
  timeoutMs?: number;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const raw = headers?.get('retry-after-ms') ?? undefined;
  if (raw && Number.isFinite(Number(raw))) return Number(raw);
  const seconds = headers?.get('retry-after');
  if (seconds && Number.isFinite(Number(seconds))) return Number(seconds) * 1000;
  return undefined;
}

/** The SDK's error as the Temporal failure that says whether retrying can help. */
export function embeddingFailure(err: unknown): Error {
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const message = `embedding provider answered ${err.status}: ${err.message}`;
    if (err.status === 429 || err.status === 408 || err.status === 409 || err.status >= 500) {
      const delay = retryAfterMs(err.headers);
      return ApplicationFailure.create({ message, type: 'EmbeddingProviderUnavailable', ...(delay !== undefined ? { nextRetryDelay: delay } : {}) });
    }
    return ApplicationFailure.nonRetryable(message, 'EmbeddingProviderRejected');
  }
  if (err instanceof OpenAI.APIError) return ApplicationFailure.retryable(`embedding provider unreachable: ${err.message}`, 'EmbeddingProviderUnavailable');
  return err instanceof Error ? err : new Error(String(err));
}

export function createOpenAiEmbedder(options: OpenAiEmbeddingOptions): EmbeddingProvider {
  let client: OpenAI | undefined;
  const sdk = () => {
    if (!options.apiKey) throw ApplicationFailure.nonRetryable(`embedding model ${options.model} needs OPENAI_API_KEY`, 'EmbeddingProviderNotConfigured');
    client ??= new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, timeout: options.timeoutMs ?? 60_000 });
    return client;
  };
  return {
    model: options.model,
    dimensions: options.dimensions,
    maxBatch: 256,
    async embed(texts) {
      if (texts.length === 0) return { vectors: [], tokens: 0 };
      try {
        // No encoding_format: the SDK then asks for base64 (a quarter of the bytes of decimal
        // text) and decodes it into numbers.
        const res = await sdk().embeddings.create({ model: options.model, input: texts });
        const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
        if (vectors.length !== texts.length || vectors.some((v) => v.length !== options.dimensions)) {
          throw ApplicationFailure.nonRetryable(
            `embedding provider returned ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions; expected ${texts.length} of ${options.dimensions}`,
            'EmbeddingProviderRejected',
          );
        }
        return { vectors, tokens: res.usage?.prompt_tokens ?? 0 };
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw embeddingFailure(err);
      }
    },
  };
}
