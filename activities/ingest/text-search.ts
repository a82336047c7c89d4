// The full-text language of a tenant's chunks (settings.rag.language, a Postgres text search
// configuration stored per chunk in chunks.fts_config; the generated tsv follows it).
//
// Chunk writes read the language under a share lock on the tenant row, in the transaction of
// the insert: a settings write that changes the language waits for the insert to commit (and
// the re-index it then starts sees those chunks), or the insert waits for the settings write
// and reads the new language. Either way no chunk keeps a language the tenant has left.
//
// The re-index (workflow textSearchReindex) rewrites fts_config in batches, reading the
// language again for every batch, so a run overtaken by another change still ends on the
// newest language.
import { heartbeat } from '@temporalio/activity';
import type { Db } from '../../lib/db.ts';
import { parseTenantSettings, type TextSearchLanguage } from '../../lib/tenant-settings.ts';

type Querier = Pick<Db, '$queryRaw'>;

/** The tenant's full-text language; `lock` takes a share lock on the tenant row (inside a transaction). */
export async function tenantTextSearchLanguage(db: Querier, tenantId: string, options: { lock?: boolean } = {}): Promise<TextSearchLanguage> {
  const [row] = options.lock
    ? await db.$queryRaw<{ settings: unknown }[]>`SELECT settings FROM tenants WHERE id = ${tenantId}::uuid FOR SHARE`
    : await db.$queryRaw<{ settings: unknown }[]>`SELECT settings FROM tenants WHERE id = ${tenantId}::uuid`;
  return parseTenantSettings(row?.settings).rag.language;
}

export const REINDEX_BATCH_SIZE = 1000;

export function createTextSearchActivities(deps: { db: Db }) {
  const { db } = deps;
  return {
    /**
     * Rewrites fts_config of the tenant's chunks that are not in its language, a batch at a time
     * (each UPDATE regenerates the tsv and its GIN entries), until none is left.
     */
    async reindexTextSearch(input: { tenantId: string; batchSize?: number }): Promise<{ language: TextSearchLanguage; updated: number }> {
      let updated = 0;
      for (;;) {
        const language = await tenantTextSearchLanguage(db, input.tenantId);
        const n = await db.$executeRaw`
          UPDATE chunks SET fts_config = ${language}::regconfig
           WHERE id IN (SELECT id FROM chunks
                         WHERE tenant_id = ${input.tenantId}::uuid AND fts_config IS DISTINCT FROM ${language}::regconfig
                         LIMIT ${input.batchSize ?? REINDEX_BATCH_SIZE})`;
        updated += n;
        heartbeat({ updated });
        if (n === 0) return { language, updated };
      }
    },
  };
}
