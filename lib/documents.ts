// Documents as tenants manage them: create a document (or a new version of one) from uploaded
// bytes, with quotas; list, get, soft-delete; and which stored files a document no longer needs.
// Every read and write of a tenant's rows goes through the tenant-scoped client; the few
// aggregate counts and the file bookkeeping are raw SQL with the tenant id bound. Starting
// ingestion is the caller's (the API starts workflows/ingestion.ts).
import { createHash, randomUUID } from 'node:crypto';
import { Prisma, type Document } from '../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { MIME_TYPES, formatOfMimeType, type DocumentFormat } from './document-formats.ts';
import type { DocumentStorage } from './storage.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';

export class DocumentQuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentQuotaError';
  }
}

/** The upload's bytes could not be stored (the storage is unreachable or failing); nothing was kept. */
export class DocumentStorageError extends Error {
  constructor(cause: unknown) {
    super('the document could not be stored', { cause });
    this.name = 'DocumentStorageError';
  }
}

export interface DocumentQuotas {
  maxDocuments: number;
  maxChunks: number;
}

export interface NewDocumentInput {
  title: string;
  format: DocumentFormat;
  bytes: Uint8Array;
  filename?: string | null;
  tags?: string[];
}

/**
 * Live (not deleted) documents — logical documents, not versions — and their chunks of any
 * version. A failed version counts while it keeps its file for a retry: it takes disk like any other.
 */
export async function documentUsage(db: Db, tenantId: string): Promise<{ documents: number; chunks: number }> {
  const [row] = await db.$queryRaw<{ documents: bigint; chunks: bigint }[]>`
    SELECT count(DISTINCT document_key) AS documents, COALESCE(sum(chunk_count) FILTER (WHERE status = 'ready'), 0)::bigint AS chunks
      FROM documents WHERE tenant_id = ${tenantId}::uuid AND deleted_at IS NULL AND (status <> 'failed' OR storage_key IS NOT NULL)`;
  return { documents: Number(row?.documents ?? 0), chunks: Number(row?.chunks ?? 0) };
}

/**
 * Adds a document version: version 1 of a new document, or the next version of `documentKey`.
 * The row is created (pending), the bytes stored, then the row points at them; a failed write
 * removes the row again (DocumentStorageError). Earlier failed versions of
 * the document are replaced by the new one: soft-deleted, and their files deleted.
 */
export async function createDocumentVersion(
  db: Db,
  tdb: TenantDb,
  storage: DocumentStorage,
  quotas: DocumentQuotas,
  tenantId: string,
  input: NewDocumentInput & { documentKey?: string },
): Promise<Document> {
  const usage = await documentUsage(db, tenantId);
  if (!input.documentKey && usage.documents >= quotas.maxDocuments) {
    throw new DocumentQuotaError(`Document quota reached: the tenant has ${usage.documents} documents (limit ${quotas.maxDocuments}); delete some first`);
  }
  if (usage.chunks >= quotas.maxChunks) {
    throw new DocumentQuotaError(`Chunk quota reached: the tenant's documents have ${usage.chunks} chunks (limit ${quotas.maxChunks}); delete some first`);
  }
  let version = 1;
  const documentKey = input.documentKey ?? randomUUID();
  if (input.documentKey) {
    const latest = await tdb.document.findFirst({ where: { documentKey: input.documentKey }, orderBy: { version: 'desc' }, select: { version: true } });
    version = (latest?.version ?? 0) + 1;
  }
  const doc = await tdb.document.create({
    data: tenantData<Prisma.DocumentUncheckedCreateInput>({
      documentKey,
      version,
      title: input.title,
      filename: input.filename ?? null,
      mimeType: MIME_TYPES[input.format],
      tags: [...new Set(input.tags ?? [])],
      contentHash: createHash('sha256').update(input.bytes).digest('hex'),
      sizeBytes: input.bytes.byteLength,
      stage: 'pending',
    }),
  });
  let storageKey: string;
  try {
    storageKey = await storage.put(tenantId, doc.id, input.bytes);
  } catch (err) {
    // Nothing points at the file yet: the row goes too, so a failed write (an object store
    // unreachable) leaves no pending version without bytes that no ingestion could read.
    await tdb.document.delete({ where: { id: doc.id } }).catch(() => undefined);
    throw new DocumentStorageError(err);
  }
  const created = await tdb.document.update({ where: { id: doc.id }, data: { storageKey } });
  if (input.documentKey) {
    await tdb.document.updateMany({ where: { documentKey, version: { lt: version }, status: 'failed', deletedAt: null }, data: { deletedAt: new Date() } });
    // Best effort, so that the upload still starts its ingestion: a file this leaves behind is
    // soft-deleted with its row, and the purge removes both.
    await releaseReplacedVersionFiles(db, storage, tenantId, documentKey).catch(() => 0);
  }
  return created;
}

/**
 * Deletes the stored files of the document's versions that a newer live version replaced (the
 * version it superseded, a failed one before it), and clears their storage keys. Their rows and
 * chunks stay until the purge, so an operator can still restore such a version; only a new
 * ingestion would read its file. A document the tenant deleted has no live version, and keeps
 * its files for the purge's grace period. Idempotent: the file goes first, then the key.
 */
export async function releaseReplacedVersionFiles(db: Db, storage: DocumentStorage, tenantId: string, documentKey: string): Promise<number> {
  const replaced = await db.$queryRaw<{ id: string; storage_key: string }[]>`
    SELECT d.id, d.storage_key FROM documents d
     WHERE d.tenant_id = ${tenantId}::uuid AND d.document_key = ${documentKey} AND d.deleted_at IS NOT NULL AND d.storage_key IS NOT NULL
       AND EXISTS (SELECT 1 FROM documents n WHERE n.tenant_id = ${tenantId}::uuid AND n.document_key = ${documentKey}
                      AND n.version > d.version AND n.deleted_at IS NULL)`;
  for (const r of replaced) {
    await storage.delete(r.storage_key);
    await db.$executeRaw`UPDATE documents SET storage_key = NULL WHERE id = ${r.id}::uuid AND tenant_id = ${tenantId}::uuid AND storage_key = ${r.storage_key}`;
  }
  return replaced.length;
}

export interface DocumentView {
  id: string;
  documentKey: string;
  version: number;
  title: string;
  filename: string | null;
  format: DocumentFormat | null;
  mimeType: string;
  status: Document['status'];
  stage: string | null;
  error: string | null;
  tags: string[];
  sizeBytes: number;
  chunkCount: number;
  chunksEmbedded: number;
  /** 0..1: chunks embedded of chunks planned (1 when ready). */
  progress: number;
  createdAt: Date;
  updatedAt: Date;
  readyAt: Date | null;
  deletedAt: Date | null;
}

export function documentView(d: Document): DocumentView {
  const progress = d.status === 'ready' ? 1 : d.chunkCount > 0 ? Math.min(1, d.chunksEmbedded / d.chunkCount) : 0;
  return {
    id: d.id,
    documentKey: d.documentKey,
    version: d.version,
    title: d.title,
    filename: d.filename,
    format: formatOfMimeType(d.mimeType) ?? null,
    mimeType: d.mimeType,
    status: d.status,
    stage: d.stage,
    error: d.error,
    tags: d.tags,
    sizeBytes: d.sizeBytes,
    chunkCount: d.chunkCount,
    chunksEmbedded: d.chunksEmbedded,
    progress: Math.round(progress * 1000) / 1000,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    readyAt: d.readyAt,
    deletedAt: d.deletedAt,
  };
}

/** Soft-deletes every version of the document `id` belongs to; false when there is none live. */
export async function deleteDocument(tdb: TenantDb, id: string): Promise<boolean> {
  const doc = await tdb.document.findUnique({ where: { id }, select: { documentKey: true } });
  if (!doc) return false;
  const { count } = await tdb.document.updateMany({ where: { documentKey: doc.documentKey, deletedAt: null }, data: { deletedAt: new Date() } });
  return count > 0;
}
