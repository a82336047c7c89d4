// Restoring an earlier version of a document. A version that a newer one replaced loses its file
// at once (lib/documents.ts releaseReplacedVersionFiles) but keeps its row and its chunks, with
// their vectors, until the purge (DOCUMENT_PURGE_AFTER_HOURS after it was replaced). Restoring
// therefore reuses those chunks instead of ingesting again: in one transaction the version
// becomes the live one and every other live version of the document is soft-deleted, the same
// atomic swap ingestion's activation makes, so a retrieval sees either version, never neither.
import { Prisma, type Document } from '../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { parseTenantSettings } from './tenant-settings.ts';

export class VersionRestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionRestoreError';
  }
}

/**
 * Makes version `id` the live version of its document. Null when there is no such version or
 * its document was deleted (no live version left); VersionRestoreError when it cannot be
 * restored (it never became ready, its chunks are not of the tenant's embedding model any more,
 * or it would pass the chunk quota). Restoring the live version again changes nothing.
 */
export async function restoreDocumentVersion(db: Db, tenantId: string, id: string, maxChunks: number): Promise<Document | null> {
  // An activation locks its own version before the others: meeting this transaction's locks,
  // one of the two is chosen as a deadlock victim (P2034), and this one simply runs again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await restoreOnce(db, tenantId, id, maxChunks);
    } catch (err) {
      if (attempt < 3 && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2034') continue;
      throw err;
    }
  }
}

async function restoreOnce(db: Db, tenantId: string, id: string, maxChunks: number): Promise<Document | null> {
  return db.$transaction(async (tx) => {
    // A share lock, as ingestion takes: a concurrent language change waits, then re-indexes these chunks too.
    const [tenant] = await tx.$queryRaw<{ settings: unknown; embedding_model: string }[]>`
      SELECT settings, embedding_model FROM tenants WHERE id = ${tenantId}::uuid FOR SHARE`;
    if (!tenant) return null;
    const [target] = await tx.$queryRaw<{ document_key: string; version: number; status: string; deleted_at: Date | null; chunk_count: number }[]>`
      SELECT document_key, version, status, deleted_at, chunk_count FROM documents WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    if (!target) return null;
    // Every version locked, in version order as activation locks them: the two serialise.
    const versions = await tx.$queryRaw<{ id: string; deleted_at: Date | null }[]>`
      SELECT id, deleted_at FROM documents WHERE tenant_id = ${tenantId}::uuid AND document_key = ${target.document_key} ORDER BY version FOR UPDATE`;
    const live = versions.filter((v) => !v.deleted_at);
    if (!live.length) return null;
    if (target.status !== 'ready') throw new VersionRestoreError(`Version ${target.version} never became ready (it is ${target.status}): only a version that was ready can be restored`);
    if (!(live.length === 1 && live[0]!.id === id)) {
      const [written] = await tx.$queryRaw<{ n: bigint }[]>`
        SELECT count(DISTINCT ordinal) AS n FROM chunks WHERE document_id = ${id}::uuid AND tenant_id = ${tenantId}::uuid AND embedding_model = ${tenant.embedding_model}`;
      if (Number(written?.n ?? 0) < target.chunk_count) {
        throw new VersionRestoreError(`Version ${target.version} was embedded with a model the tenant no longer uses (now ${tenant.embedding_model}): upload it again as a new version`);
      }
      const [others] = await tx.$queryRaw<{ n: bigint }[]>`
        SELECT COALESCE(sum(chunk_count) FILTER (WHERE status = 'ready'), 0)::bigint AS n FROM documents
         WHERE tenant_id = ${tenantId}::uuid AND deleted_at IS NULL AND document_key <> ${target.document_key}`;
      if (Number(others?.n ?? 0) + target.chunk_count > maxChunks) {
        throw new VersionRestoreError(`Chunk quota reached: restoring version ${target.version} (${target.chunk_count} chunks) would pass the limit of ${maxChunks}; delete some documents first`);
      }
      await tx.$executeRaw`
        UPDATE documents SET deleted_at = now(), updated_at = now()
         WHERE tenant_id = ${tenantId}::uuid AND document_key = ${target.document_key} AND deleted_at IS NULL AND id <> ${id}::uuid`;
      await tx.$executeRaw`UPDATE documents SET deleted_at = NULL, updated_at = now() WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
      const language = parseTenantSettings(tenant.settings).rag.language;
      await tx.$executeRaw`
        UPDATE chunks SET fts_config = ${language}::regconfig
         WHERE document_id = ${id}::uuid AND tenant_id = ${tenantId}::uuid AND fts_config IS DISTINCT FROM ${language}::regconfig`;
    }
    // The id is this tenant's: the target was read with the tenant id bound.
    return tx.document.findUniqueOrThrow({ where: { id } });
  });
}
