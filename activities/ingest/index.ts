// Activities of the ingestion workflow (workflows/ingestion.ts), one document version at a time:
// prepare (parse, normalise and chunk in a bounded thread, ./parse-thread.ts, stopping once the
// chunk quota is passed; keep the chunk plan in storage), embed the planned chunks in batches
// (each batch written in one transaction, identical chunk text reusing an existing embedding of
// the same tenant and model), activate (the version becomes searchable and older versions are
// soft-deleted in one transaction; their files go), fail (the reason on the row; the file goes
// when no retry can help), purge (soft-deleted documents' rows and files, later).
//
// Every step is idempotent: a retry re-plans the same chunks, inserts with ON CONFLICT DO
// NOTHING, and activation re-checks state under row locks. Raw SQL goes on the plain client
// with the tenant id bound, as in activities/rag.ts.
import { randomUUID } from 'node:crypto';
import { Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../../lib/db.ts';
import { formatOfMimeType } from '../../lib/document-formats.ts';
import { releaseReplacedVersionFiles } from '../../lib/documents.ts';
import { planOfTenant } from '../../lib/plans.ts';
import { DEFAULT_EMBEDDING_MODEL, isEmbeddingModel, vectorLiteral } from '../../lib/embedding-models.ts';
import type { Logger } from '../../lib/logger.ts';
import { WorkerMetrics } from '../../lib/metrics/worker-metrics.ts';
import type { DocumentStorage } from '../../lib/storage.ts';
import { recordTenantEvent, tenantEventId, type TenantEventSink } from '../../lib/tenant-events.ts';
import { parseTenantSettings } from '../../lib/tenant-settings.ts';
import type { EmbedderRegistry } from '../embeddings/index.ts';
import { TooManyChunksError, type PlannedChunk } from './parse.ts';
import { ParseThreads, type DocumentParsing } from './parse-thread.ts';
import { tenantTextSearchLanguage } from './text-search.ts';

export interface IngestionDependencies {
  db: Db;
  logger: Logger;
  storage?: DocumentStorage;
  embedders: EmbedderRegistry;
  /** CHUNK_QUOTA_PER_TENANT: the default plan's chunk limit (other plans set their own); unset: no limit is checked. */
  chunkQuota?: number;
  /** Parse limits (DOCUMENT_MAX_PDF_PAGES, …); default: the configuration's defaults. */
  parsing?: DocumentParsing;
  /** Hears of document.indexed / document.failed once their transaction has committed. */
  tenantEvents?: TenantEventSink;
  /** Documents ready or failed, chunks stored, time to ready (default: a private registry). */
  metrics?: WorkerMetrics;
  /** Told of each version that became the tenant's searchable one (an automatic evaluation run). */
  documentsChanged?: (tenantId: string) => Promise<void>;
}

export interface DocumentRef {
  tenantId: string;
  documentId: string;
}

export type PrepareResult =
  | { state: 'planned'; chunkCount: number; models: string[]; version: number }
  | { state: 'skipped'; reason: 'deleted' | 'ready' | 'missing' };

export interface EmbedBatchInput extends DocumentRef {
  models: string[];
  /** First ordinal not yet written (the workflow's progress). */
  from: number;
  batchSize?: number;
  /** Work for about this long, then return progress to the workflow. */
  budgetMs?: number;
}

export interface EmbedBatchResult {
  next: number;
  chunkCount: number;
  /** Chunks (per model) whose vector came from an identical chunk text already embedded. */
  reused: number;
  /** Chunks (per model) sent to the embedding provider. */
  embedded: number;
}

export type ActivateResult = { state: 'ready' } | { state: 'superseded' } | { state: 'deleted' };

export const EMBED_BATCH_SIZE = 128;
/**
 * Batches written at the same time, each in its own transaction on its own connection: the
 * cost of a batch is mostly Postgres inserting into the HNSW index, which it does for several
 * connections in parallel (bench/rag.ts, ingestion chunks/s). The document's progress may run one
 * batch ahead of what is committed while a round is in flight; activation counts the chunks.
 */
export const EMBED_PARALLEL_BATCHES = 2;

const planKey = (tenantId: string, documentId: string) => `${tenantId}/${documentId}.chunks.json`;

/**
 * Failures that retrying the same file cannot fix (its content is at fault): the version's
 * file is deleted with them, and a retry is refused. After the others (quota, embedding
 * provider, a parse that ran out of time) the file stays for POST …/retry.
 */
export const FINAL_FAILURES: ReadonlySet<string> = new Set(['UnreadableDocument', 'EmptyDocument', 'DocumentTooLarge', 'ParseLimitExceeded']);

/** The tenant's active model first, then the wanted one if it differs (a switch in progress). */
export async function tenantEmbeddingModels(db: Db, tenantId: string): Promise<string[]> {
  const [row] = await db.$queryRaw<{ embedding_model: string; settings: unknown }[]>`
    SELECT embedding_model, settings FROM tenants WHERE id = ${tenantId}::uuid`;
  if (!row) return [DEFAULT_EMBEDDING_MODEL];
  const active = isEmbeddingModel(row.embedding_model) ? row.embedding_model : DEFAULT_EMBEDDING_MODEL;
  return [...new Set([active, parseTenantSettings(row.settings).rag.embeddingModel])];
}

/**
 * Writes one batch of chunks for one model with their vectors, and the document's progress, in
 * one transaction. The chunks take the tenant's full-text language, read under a share lock on
 * the tenant row (see ./text-search.ts: a concurrent language change cannot miss them). Returns
 * how many chunks it stored (a retried batch stores none twice).
 */
export async function writeChunkBatch(
  db: Db,
  ref: DocumentRef,
  model: string,
  batch: PlannedChunk[],
  vectors: string[],
  progress?: number,
): Promise<number> {
  return db.$transaction(async (tx) => {
    const language = await tenantTextSearchLanguage(tx, ref.tenantId, { lock: true });
    const stored = await tx.$executeRaw`
      INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_hash, metadata, embedding, embedding_model, fts_config)
      SELECT ${ref.tenantId}::uuid, ${ref.documentId}::uuid, x.o, x.c, x.h, x.m::jsonb, x.e::vector, ${model}, ${language}::regconfig
        FROM unnest(${batch.map((c) => c.ordinal)}::int[], ${batch.map((c) => c.content)}::text[], ${batch.map((c) => c.contentHash)}::text[],
                    ${batch.map((c) => JSON.stringify(c.metadata))}::text[], ${vectors}::text[]) AS x(o, c, h, m, e)
      ON CONFLICT (document_id, embedding_model, ordinal) DO NOTHING`;
    if (progress === undefined) return stored;
    await tx.$executeRaw`
      UPDATE documents SET chunks_embedded = GREATEST(chunks_embedded, ${progress}), stage = 'embedding', updated_at = now()
       WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;
    return stored;
  });
}

/**
 * Vectors (pgvector text) for the chunks, reusing the embedding of identical chunk text that the
 * tenant already has for the model, and embedding each distinct remaining text once.
 */
export async function vectorsFor(db: Db, embedders: EmbedderRegistry, tenantId: string, model: string, batch: PlannedChunk[]): Promise<{ vectors: string[]; reused: number; embedded: number }> {
  const hashes = [...new Set(batch.map((c) => c.contentHash))];
  const known = new Map(
    (
      await db.$queryRaw<{ content_hash: string; embedding: string }[]>`
        SELECT DISTINCT ON (content_hash) content_hash, embedding::text AS embedding
          FROM chunks
         WHERE tenant_id = ${tenantId}::uuid AND embedding_model = ${model}
           AND content_hash = ANY(${hashes}::text[]) AND embedding IS NOT NULL`
    ).map((r) => [r.content_hash, r.embedding]),
  );
  const reused = batch.filter((c) => known.has(c.contentHash)).length;
  const missing = [...new Map(batch.filter((c) => !known.has(c.contentHash)).map((c) => [c.contentHash, c.content])).entries()];
  const provider = embedders(model);
  for (let i = 0; i < missing.length; i += provider.maxBatch) {
    const slice = missing.slice(i, i + provider.maxBatch);
    const { vectors } = await provider.embed(slice.map(([, content]) => content));
    slice.forEach(([hash], j) => known.set(hash, vectorLiteral(vectors[j]!)));
  }
  return { vectors: batch.map((c) => known.get(c.contentHash)!), reused, embedded: batch.length - reused };
}

export function createIngestionActivities(deps: IngestionDependencies) {
  const { db } = deps;
  const metrics = deps.metrics ?? new WorkerMetrics();
  const storage = () => {
    if (!deps.storage) throw ApplicationFailure.nonRetryable('document storage is not configured on this worker', 'StorageNotConfigured');
    return deps.storage;
  };
  const parseThreads = new ParseThreads(deps.parsing);
  // The plan of the document being embedded, so batches do not re-read it from storage.
  const plans = new Map<string, PlannedChunk[]>();
  const loadPlan = async (ref: DocumentRef): Promise<PlannedChunk[]> => {
    const cached = plans.get(ref.documentId);
    if (cached) return cached;
    const plan = JSON.parse((await storage().get(planKey(ref.tenantId, ref.documentId))).toString('utf8')) as PlannedChunk[];
    if (plans.size >= 8) plans.delete(plans.keys().next().value!);
    plans.set(ref.documentId, plan);
    return plan;
  };

  return {
    async prepareDocument(ref: DocumentRef): Promise<PrepareResult> {
      const [doc] = await db.$queryRaw<{ status: string; deleted_at: Date | null; storage_key: string | null; mime_type: string; version: number; document_key: string }[]>`
        SELECT status, deleted_at, storage_key, mime_type, version, document_key FROM documents
         WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;
      if (!doc) return { state: 'skipped', reason: 'missing' };
      if (doc.deleted_at) return { state: 'skipped', reason: 'deleted' };
      if (doc.status === 'ready') return { state: 'skipped', reason: 'ready' };
      const format = formatOfMimeType(doc.mime_type);
      if (!format || !doc.storage_key) throw ApplicationFailure.nonRetryable(`document has no stored file of a known type (${doc.mime_type})`, 'UnreadableDocument');
      await db.$executeRaw`
        UPDATE documents SET status = 'processing', stage = 'parsing', error = NULL, chunks_embedded = 0, updated_at = now()
         WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;

      const models = await tenantEmbeddingModels(db, ref.tenantId);
      // The plan's chunk limit (CHUNK_QUOTA_PER_TENANT on the default plan); null: none.
      const chunkQuota = deps.chunkQuota === undefined ? undefined : ((await planOfTenant(db, ref.tenantId, { documents: 0, chunks: deps.chunkQuota })).limits.chunks ?? undefined);
      // Other live documents' chunks, of the active model; earlier versions of this document do
      // not count, since this version replaces them. Chunking stops as soon as the rest is used.
      let used = 0;
      if (chunkQuota !== undefined) {
        const [row] = await db.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM chunks c JOIN documents d ON d.id = c.document_id
           WHERE c.tenant_id = ${ref.tenantId}::uuid AND c.embedding_model = ${models[0]!}
             AND d.tenant_id = ${ref.tenantId}::uuid AND d.deleted_at IS NULL AND d.document_key <> ${doc.document_key}`;
        used = Number(row?.n ?? 0);
      }
      const bytes = await storage().get(doc.storage_key);
      let chunks: PlannedChunk[];
      try {
        chunks = await parseThreads.plan(bytes, format, {
          maxChunks: chunkQuota === undefined ? undefined : Math.max(0, chunkQuota - used),
          signal: Context.current().cancellationSignal,
        });
      } catch (err) {
        if (!(err instanceof TooManyChunksError)) throw err;
        throw ApplicationFailure.nonRetryable(
          `Chunk quota exceeded: this document has more than ${err.maxChunks} chunks and the tenant's other documents ${used}, above the limit of ${chunkQuota} (parsing stopped there)`,
          'ChunkQuotaExceeded',
        );
      }
      if (chunks.length === 0) throw ApplicationFailure.nonRetryable('No text found in the document (a scanned PDF needs OCR first)', 'EmptyDocument');
      await storage().put(ref.tenantId, `${ref.documentId}.chunks.json`, Buffer.from(JSON.stringify(chunks)));
      // A retry after a change of plan (never expected: parsing is deterministic) leaves no strays.
      await db.$executeRaw`DELETE FROM chunks WHERE document_id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid AND ordinal >= ${chunks.length}`;
      const updated = await db.$executeRaw`
        UPDATE documents SET chunk_count = ${chunks.length}, stage = 'embedding', updated_at = now()
         WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;
      if (updated === 0) {
        // Removed while it was parsed (its tenant deleted): the plan just written is nobody's.
        await storage().delete(planKey(ref.tenantId, ref.documentId));
        return { state: 'skipped', reason: 'missing' };
      }
      plans.set(ref.documentId, chunks);
      return { state: 'planned', chunkCount: chunks.length, models, version: doc.version };
    },

    async embedDocumentChunks(input: EmbedBatchInput): Promise<EmbedBatchResult> {
      const plan = await loadPlan(input);
      // A slow local model takes fewer chunks per batch, so a round ends (and heartbeats) in seconds.
      const batchSize = Math.min(input.batchSize ?? EMBED_BATCH_SIZE, ...input.models.map((m) => deps.embedders(m).maxBatch));
      const started = Date.now();
      const budget = input.budgetMs ?? 2_000;
      // A retried attempt resumes where the last heartbeat said (batches are idempotent anyway).
      const resumed = (Context.current().info.heartbeatDetails as { next?: number } | undefined)?.next;
      let next = Math.max(input.from, resumed ?? 0);
      let reused = 0;
      let embedded = 0;
      const writeBatch = async (from: number) => {
        const batch = plan.slice(from, from + batchSize);
        const end = from + batch.length;
        for (const [i, model] of input.models.entries()) {
          const v = await vectorsFor(db, deps.embedders, input.tenantId, model, batch);
          reused += v.reused;
          embedded += v.embedded;
          // The progress is written with the last model's batch.
          metrics.chunksStored(input.tenantId, await writeChunkBatch(db, input, model, batch, v.vectors, i === input.models.length - 1 ? end : undefined));
        }
        return end;
      };
      while (next < plan.length && (Date.now() - started < budget || next === input.from)) {
        const starts = Array.from({ length: EMBED_PARALLEL_BATCHES }, (_, i) => next + i * batchSize).filter((from) => from < plan.length);
        // `next` moves past a round only when all of its batches are written, so a retry never skips one.
        next = Math.max(...(await Promise.all(starts.map(writeBatch))));
        heartbeat({ next });
      }
      if (next >= plan.length) plans.delete(input.documentId);
      return { next, chunkCount: plan.length, reused, embedded };
    },

    async activateDocument(ref: DocumentRef): Promise<ActivateResult> {
      let indexedEvent: string | null = null;
      let documentKey: string | undefined;
      /** Seconds from the upload stored to ready, when this call made it ready. */
      let becameReadyAfter: number | undefined;
      const result = await db.$transaction(async (tx) => {
        const [doc] = await tx.$queryRaw<{ document_key: string; version: number; deleted_at: Date | null; chunk_count: number; created_at: Date }[]>`
          SELECT document_key, version, deleted_at, chunk_count, created_at FROM documents
           WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid FOR UPDATE`;
        if (!doc) return { state: 'deleted' } as const;
        documentKey = doc.document_key;
        // Every version of the document, locked: two versions finishing at once serialise here.
        const versions = await tx.$queryRaw<{ id: string; version: number; status: string; deleted_at: Date | null }[]>`
          SELECT id, version, status, deleted_at FROM documents
           WHERE tenant_id = ${ref.tenantId}::uuid AND document_key = ${doc.document_key} ORDER BY version FOR UPDATE`;
        const [written] = await tx.$queryRaw<{ n: bigint }[]>`
          SELECT count(DISTINCT ordinal) AS n FROM chunks WHERE document_id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;
        if (Number(written?.n ?? 0) < doc.chunk_count) {
          throw ApplicationFailure.nonRetryable(`only ${written?.n ?? 0} of ${doc.chunk_count} chunks are written`, 'IncompleteDocument');
        }
        const newerReady = versions.some((v) => v.version > doc.version && v.status === 'ready' && !v.deleted_at);
        await tx.$executeRaw`
          UPDATE documents SET status = 'ready', stage = NULL, error = NULL, ready_at = now(), chunks_embedded = chunk_count, updated_at = now(),
                 deleted_at = CASE WHEN ${newerReady} THEN COALESCE(deleted_at, now()) ELSE deleted_at END
           WHERE id = ${ref.documentId}::uuid AND tenant_id = ${ref.tenantId}::uuid`;
        if (doc.deleted_at) return { state: 'deleted' } as const;
        if (newerReady) return { state: 'superseded' } as const;
        // Atomic swap: in the same transaction the older versions stop being searchable.
        await tx.$executeRaw`
          UPDATE documents SET deleted_at = now(), updated_at = now()
           WHERE tenant_id = ${ref.tenantId}::uuid AND document_key = ${doc.document_key} AND version < ${doc.version} AND deleted_at IS NULL`;
        // document.indexed with the change to ready only (a retried activation finds it ready).
        if (versions.find((v) => v.id === ref.documentId)?.status !== 'ready') {
          becameReadyAfter = (Date.now() - doc.created_at.getTime()) / 1000;
          const [{ title } = { title: '' }] = await tx.$queryRaw<{ title: string }[]>`SELECT title FROM documents WHERE id = ${ref.documentId}::uuid`;
          indexedEvent = await recordTenantEvent(tx, {
            id: tenantEventId('document.indexed', ref.documentId),
            tenantId: ref.tenantId,
            type: 'document.indexed',
            subjectType: 'document',
            subjectId: ref.documentId,
            data: { documentId: ref.documentId, documentKey: doc.document_key, version: doc.version, title, chunkCount: doc.chunk_count },
          });
        }
        return { state: 'ready' } as const;
      });
      // Counted once: a retried activation finds the version ready already.
      if (becameReadyAfter !== undefined) metrics.documentIngested('ready', becameReadyAfter);
      if (result.state === 'ready') await deps.documentsChanged?.(ref.tenantId);
      await deps.tenantEvents?.dispatch(indexedEvent);
      if (deps.storage) {
        await deps.storage.delete(planKey(ref.tenantId, ref.documentId));
        // The versions this one replaced (or the newer one that replaced it) need their files no more.
        if (result.state !== 'deleted' && documentKey !== undefined) await releaseReplacedVersionFiles(db, deps.storage, ref.tenantId, documentKey);
      }
      return result;
    },

    /**
     * Marks the version failed with the reason. A version that a newer upload of the document has
     * meanwhile replaced is soft-deleted too, and its file goes; so does the file of a version
     * failed for good (`errorType` in FINAL_FAILURES), since no retry could use it.
     */
    async failDocument(input: DocumentRef & { reason: string; errorType?: string | null }): Promise<void> {
      let failed: { storage_key: string | null; document_key: string } | undefined;
      let becameFailed = false;
      const failedEvent = await db.$transaction(async (tx) => {
        const [before] = await tx.$queryRaw<{ status: string; title: string; version: number; document_key: string }[]>`
          SELECT status, title, version, document_key FROM documents
           WHERE id = ${input.documentId}::uuid AND tenant_id = ${input.tenantId}::uuid FOR UPDATE`;
        await tx.$executeRaw`
          UPDATE documents SET status = 'failed', stage = NULL, error = ${input.reason.slice(0, 2000)}, updated_at = now(),
                 deleted_at = CASE WHEN EXISTS (SELECT 1 FROM documents n WHERE n.tenant_id = documents.tenant_id AND n.document_key = documents.document_key
                                                   AND n.version > documents.version AND n.deleted_at IS NULL)
                                   THEN COALESCE(deleted_at, now()) ELSE deleted_at END
           WHERE id = ${input.documentId}::uuid AND tenant_id = ${input.tenantId}::uuid AND status <> 'ready'`;
        // A failed version is never searchable; its partial chunks only take space.
        await tx.$executeRaw`DELETE FROM chunks WHERE document_id = ${input.documentId}::uuid AND tenant_id = ${input.tenantId}::uuid
                         AND EXISTS (SELECT 1 FROM documents d WHERE d.id = ${input.documentId}::uuid AND d.status = 'failed')`;
        [failed] = await tx.$queryRaw<{ storage_key: string | null; document_key: string }[]>`
          SELECT storage_key, document_key FROM documents
           WHERE id = ${input.documentId}::uuid AND tenant_id = ${input.tenantId}::uuid AND status = 'failed'`;
        // document.failed with the change to failed only (a retried call finds it failed already).
        if (!before || before.status === 'ready' || before.status === 'failed') return null;
        becameFailed = true;
        return recordTenantEvent(tx, {
          id: randomUUID(),
          tenantId: input.tenantId,
          type: 'document.failed',
          subjectType: 'document',
          subjectId: input.documentId,
          data: { documentId: input.documentId, documentKey: before.document_key, version: before.version, title: before.title, error: input.reason.slice(0, 2000) },
        });
      });
      if (becameFailed) metrics.documentIngested('failed');
      await deps.tenantEvents?.dispatch(failedEvent);
      if (!deps.storage) return;
      await deps.storage.delete(planKey(input.tenantId, input.documentId));
      if (!failed) return;
      if (failed.storage_key && input.errorType && FINAL_FAILURES.has(input.errorType)) {
        // The file first, then the key: a retry of this activity after a crash between them finds the key and deletes again.
        await deps.storage.delete(failed.storage_key);
        await db.$executeRaw`UPDATE documents SET storage_key = NULL WHERE id = ${input.documentId}::uuid AND tenant_id = ${input.tenantId}::uuid AND storage_key = ${failed.storage_key}`;
      }
      await releaseReplacedVersionFiles(db, deps.storage, input.tenantId, failed.document_key);
    },

    /**
     * Removes documents soft-deleted more than `olderThanMinutes` ago: their rows (chunks go with
     * them, ON DELETE CASCADE) and stored files. Platform-wide, a bounded batch per call.
     */
    async purgeDeletedDocuments(input: { olderThanMinutes: number; limit?: number }): Promise<{ purged: number }> {
      const rows = await db.$queryRaw<{ id: string; tenant_id: string; storage_key: string | null }[]>`
        DELETE FROM documents WHERE id IN (
          SELECT id FROM documents WHERE deleted_at < now() - make_interval(mins => ${input.olderThanMinutes}) LIMIT ${input.limit ?? 100})
        RETURNING id, tenant_id, storage_key`;
      for (const r of rows) {
        if (r.storage_key) await deps.storage?.delete(r.storage_key);
        await deps.storage?.delete(planKey(r.tenant_id, r.id));
      }
      if (rows.length) deps.logger.info({ purged: rows.length }, 'purged deleted documents');
      return { purged: rows.length };
    },
  };
}

