// Activities of the embedding model switch (workflows/embedding-model-switch.ts). A tenant's
// chunks for the new model are written beside the old ones (chunks are unique per document,
// model and ordinal), copied from the active model's chunks and embedded in batches; only when
// every searchable document has them does tenants.embedding_model move (retrieval follows it),
// and only then are the old model's chunks deleted. Nothing is dropped before its replacement
// is complete, and every step is idempotent.
import { heartbeat } from '@temporalio/activity';
import type { Db } from '../../lib/db.ts';
import { isEmbeddingModel } from '../../lib/embedding-models.ts';
import type { EmbedderRegistry } from '../embeddings/index.ts';
import { EMBED_BATCH_SIZE, tenantEmbeddingModels, vectorsFor, writeChunkBatch } from './index.ts';
import type { PlannedChunk } from './parse.ts';

export function createModelSwitchActivities(deps: { db: Db; embedders: EmbedderRegistry }) {
  const { db } = deps;
  return {
    /** The active model and the one the tenant's settings want. */
    async tenantModels(input: { tenantId: string }): Promise<{ active: string; wanted: string }> {
      const [active, wanted] = await tenantEmbeddingModels(db, input.tenantId);
      return { active: active!, wanted: wanted ?? active! };
    },

    /** Searchable (or soon searchable) documents that lack chunks for `model`. */
    async documentsMissingModel(input: { tenantId: string; model: string; limit?: number }): Promise<string[]> {
      const rows = await db.$queryRaw<{ id: string }[]>`
        SELECT d.id FROM documents d
         WHERE d.tenant_id = ${input.tenantId}::uuid AND d.deleted_at IS NULL AND d.status = 'ready'
           AND d.chunk_count > (SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.embedding_model = ${input.model})
         ORDER BY d.created_at LIMIT ${input.limit ?? 100}`;
      return rows.map((r) => r.id);
    },

    /** Writes `model` chunks for one document, copying the text of its `fromModel` chunks. */
    async embedDocumentForModel(input: { tenantId: string; documentId: string; fromModel: string; model: string }): Promise<{ written: number }> {
      let after = -1;
      let written = 0;
      for (;;) {
        const rows = await db.$queryRaw<{ ordinal: number; content: string; content_hash: string; metadata: PlannedChunk['metadata'] }[]>`
          SELECT s.ordinal, s.content, s.content_hash, s.metadata FROM chunks s
           WHERE s.document_id = ${input.documentId}::uuid AND s.tenant_id = ${input.tenantId}::uuid AND s.embedding_model = ${input.fromModel}
             AND s.ordinal > ${after}
             AND NOT EXISTS (SELECT 1 FROM chunks t WHERE t.document_id = s.document_id AND t.embedding_model = ${input.model} AND t.ordinal = s.ordinal)
           ORDER BY s.ordinal LIMIT ${Math.min(EMBED_BATCH_SIZE, deps.embedders(input.model).maxBatch)}`;
        if (rows.length === 0) return { written };
        const batch: PlannedChunk[] = rows.map((r) => ({ ordinal: r.ordinal, content: r.content, contentHash: r.content_hash, metadata: r.metadata ?? {} }));
        const { vectors } = await vectorsFor(db, deps.embedders, input.tenantId, input.model, batch);
        await writeChunkBatch(db, input, input.model, batch, vectors);
        written += batch.length;
        after = rows.at(-1)!.ordinal;
        heartbeat({ after });
      }
    },

    /**
     * Moves the tenant to `model` if every ready document has its chunks (checked under the
     * tenant row's lock); false when something is still missing (a document became ready
     * meanwhile: the workflow embeds it and tries again).
     */
    async activateEmbeddingModel(input: { tenantId: string; model: string }): Promise<{ switched: boolean; previous: string | null }> {
      if (!isEmbeddingModel(input.model)) return { switched: false, previous: null };
      return db.$transaction(async (tx) => {
        const [tenant] = await tx.$queryRaw<{ embedding_model: string }[]>`SELECT embedding_model FROM tenants WHERE id = ${input.tenantId}::uuid FOR UPDATE`;
        if (!tenant) return { switched: false, previous: null };
        if (tenant.embedding_model === input.model) return { switched: true, previous: null };
        const [missing] = await tx.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM documents d
           WHERE d.tenant_id = ${input.tenantId}::uuid AND d.deleted_at IS NULL AND d.status = 'ready'
             AND d.chunk_count > (SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.embedding_model = ${input.model})`;
        if (Number(missing?.n ?? 0) > 0) return { switched: false, previous: null };
        await tx.$executeRaw`UPDATE tenants SET embedding_model = ${input.model}, updated_at = now() WHERE id = ${input.tenantId}::uuid`;
        return { switched: true, previous: tenant.embedding_model };
      });
    },

    /** Deletes the tenant's chunks of a model it no longer uses (never the active or wanted one). */
    async dropEmbeddingModelChunks(input: { tenantId: string; model: string }): Promise<{ deleted: number }> {
      const { active, wanted } = await currentModels(db, input.tenantId);
      if (input.model === active || input.model === wanted) return { deleted: 0 };
      let deleted = 0;
      for (;;) {
        const n = await db.$executeRaw`
          DELETE FROM chunks WHERE id IN (
            SELECT id FROM chunks WHERE tenant_id = ${input.tenantId}::uuid AND embedding_model = ${input.model} LIMIT 5000)`;
        deleted += n;
        heartbeat({ deleted });
        if (n === 0) return { deleted };
      }
    },
  };
}

async function currentModels(db: Db, tenantId: string) {
  const [active, wanted] = await tenantEmbeddingModels(db, tenantId);
  return { active: active!, wanted: wanted ?? active! };
}
