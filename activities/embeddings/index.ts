// Embedding providers behind one interface, chosen by model name (lib/embedding-models.ts):
// the offline local-hash-384 (lexical) and all-minilm-l6-v2-int8 (semantic), and OpenAI's
// text-embedding-3-small (or an OpenAI-compatible server at OPENAI_BASE_URL).
import { ApplicationFailure } from '@temporalio/common';
import { EMBEDDING_MODELS, isEmbeddingModel } from '../../lib/embedding-models.ts';
import { embedLocalHash, LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from './local-hash.ts';
import { createMiniLmEmbedder, MINILM_MODEL } from './minilm.ts';
import { createOpenAiEmbedder } from './openai.ts';

export interface EmbeddingProvider {
  model: string;
  dimensions: number;
  /** Texts per request the provider accepts. */
  maxBatch: number;
  embed(texts: string[]): Promise<{ vectors: number[][]; tokens: number }>;
}

export interface EmbeddingConfig {
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
}

export const localHashEmbedder: EmbeddingProvider = {
  model: LOCAL_HASH_MODEL,
  dimensions: LOCAL_HASH_DIMENSIONS,
  maxBatch: 10_000,
  async embed(texts) {
    return { vectors: texts.map((t) => embedLocalHash(t)), tokens: 0 };
  },
};

export type EmbedderRegistry = (model: string) => EmbeddingProvider;

/** The provider for each known model; unknown names are a non-retryable failure. */
export function createEmbedderRegistry(config: EmbeddingConfig = {}): EmbedderRegistry {
  const providers = new Map<string, EmbeddingProvider>([[LOCAL_HASH_MODEL, localHashEmbedder], [MINILM_MODEL, createMiniLmEmbedder()]]);
  return (model) => {
    const known = providers.get(model);
    if (known) return known;
    if (!isEmbeddingModel(model)) throw ApplicationFailure.nonRetryable(`unknown embedding model ${model}`, 'UnknownEmbeddingModel');
    const spec = EMBEDDING_MODELS[model];
    const provider = createOpenAiEmbedder({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, model, dimensions: spec.dimensions });
    providers.set(model, provider);
    return provider;
  };
}
