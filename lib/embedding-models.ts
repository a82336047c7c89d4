// The embedding models the platform knows. Each has a fixed dimension and its own partial HNSW
// index on (embedding::vector(N)) WHERE embedding_model = name (see the migrations); retrieval
// interpolates the dimension into SQL, so only names listed here are ever used as models.
export const EMBEDDING_MODELS = {
  /** Offline, deterministic, lexical (feature hashing): activities/embeddings/local-hash.ts. */
  'local-hash-384': { provider: 'local', dimensions: 384 },
  /** Offline, deterministic, semantic (all-MiniLM-L6-v2, int8 ONNX): activities/embeddings/minilm.ts. */
  'all-minilm-l6-v2-int8': { provider: 'local', dimensions: 384 },
  /** OpenAI (or any OpenAI-compatible server at OPENAI_BASE_URL serving this model name). */
  'text-embedding-3-small': { provider: 'openai', dimensions: 1536 },
} as const;

export type EmbeddingModelName = keyof typeof EMBEDDING_MODELS;
export const EMBEDDING_MODEL_NAMES = Object.keys(EMBEDDING_MODELS) as [EmbeddingModelName, ...EmbeddingModelName[]];
export const DEFAULT_EMBEDDING_MODEL: EmbeddingModelName = 'local-hash-384';

export function isEmbeddingModel(name: string): name is EmbeddingModelName {
  return Object.hasOwn(EMBEDDING_MODELS, name);
}

export function embeddingDimensions(model: EmbeddingModelName): number {
  return EMBEDDING_MODELS[model].dimensions;
}

/** pgvector's text form of a vector ('[0.1,0.2,…]'), rounded to float4-ish precision. */
export function vectorLiteral(vector: readonly number[]): string {
  let out = '[';
  for (let i = 0; i < vector.length; i++) {
    if (i) out += ',';
    const v = vector[i]!;
    out += v === 0 ? '0' : v.toPrecision(7);
  }
  return `${out}]`;
}
