// Retrieval of the tenant's document passages for a question: Postgres full text over the
// chunks of ready, not deleted documents, always filtered by tenant. (Vector search and rank
// fusion join this when documents are embedded; the contract stays the same.)
import { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';

export interface Passage {
  chunkId: string;
  documentId: string;
  title: string;
  page: number | null;
  content: string;
  score: number;
}

/**
 * Question words as an OR query: a question rarely contains every word of the passage that
 * answers it, so websearch_to_tsquery's AND would miss most answers. Tokens are letters and
 * digits only, so nothing in them can act as tsquery syntax.
 */
export function questionTerms(question: string): string[] {
  const words = question.toLocaleLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 3))].slice(0, 24);
}

export function createRagActivities(db: Db) {
  return {
    async retrieveContext(input: { tenantId: string; question: string; limit?: number }): Promise<Passage[]> {
      const terms = questionTerms(input.question);
      if (terms.length === 0) return [];
      const limit = Math.min(Math.max(input.limit ?? 5, 1), 20);
      // Raw SQL (the tenant-scoped client has no words for tsquery): tenant_id is bound below.
      const rows = await db.$queryRaw<{ id: string; document_id: string; title: string; content: string; metadata: Prisma.JsonValue; score: number }[]>`
        SELECT c.id, c.document_id, d.title, c.content, c.metadata, ts_rank_cd(c.tsv, q)::float8 AS score
          FROM chunks c
          JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id,
               to_tsquery('simple', ${terms.join(' | ')}) q
         WHERE c.tenant_id = ${input.tenantId}::uuid
           AND d.status = 'ready' AND d.deleted_at IS NULL
           AND c.tsv @@ q
         ORDER BY score DESC, c.id
         LIMIT ${limit}`;
      return rows.map((r) => {
        const page = (r.metadata as { page?: unknown } | null)?.page;
        return { chunkId: r.id, documentId: r.document_id, title: r.title, page: typeof page === 'number' ? page : null, content: r.content, score: r.score };
      });
    },
  };
}
