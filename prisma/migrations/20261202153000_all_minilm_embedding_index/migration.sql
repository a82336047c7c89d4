-- [raw] The partial HNSW index (cosine) for all-minilm-l6-v2-int8 (384 dimensions), the offline
-- semantic model a tenant can choose; queries must repeat the cast and the filter:
--   WHERE embedding_model = 'all-minilm-l6-v2-int8' ORDER BY embedding::vector(384) <=> $1 LIMIT k
CREATE INDEX "chunks_embedding_all_minilm_l6_v2_int8_idx" ON "chunks"
  USING hnsw ((embedding::vector(384)) vector_cosine_ops)
  WHERE embedding_model = 'all-minilm-l6-v2-int8';
