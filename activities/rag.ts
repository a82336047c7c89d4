// Retrieval of the tenant's document passages for a question: hybrid search over the chunks of
// ready, not deleted documents, always filtered by tenant (raw SQL on the plain client with the
// tenant id bound: the tenant-scoped client has no words for tsquery or pgvector).
//
// - Full text: the question's words as an OR query through websearch_to_tsquery in the tenant's
//   language (settings.rag.language: stemming and stop words of that Postgres text search
//   configuration), over the generated `tsv` (GIN index), ranked by the question's words each
//   chunk contains, each weighing its inverse document frequency (BM25's idf from the table's
//   statistics: "bike" in every chunk of a bike shop counts next to nothing, "assembled" in one
//   counts most), then by ts_rank_cd (how often and how close together they occur). Only chunks
//   indexed in that language match: while a language change re-indexes in the background, the
//   chunks not yet rewritten are found by the vector list alone (a query in one language
//   against lexemes of another would match by accident, or not at all). Words that occur in a
//   large share of all chunks and in many of them (the planner's own lexeme statistics, pg_stats,
//   and the table's row estimate) still count in the ranking but select candidates only all
//   together: otherwise one such word makes the statement read and rank a large part of the
//   chunks (hundreds of milliseconds at 100K chunks). In a small table no word is that costly, and
//   every word selects: there, most words are in a large share of the few chunks, and requiring
//   them all would find nothing. At most TEXT_CANDIDATES_MAX candidates are ranked.
// - Vector: the question embedded with the tenant's active model (tenants.embedding_model),
//   kNN on that model's partial HNSW index: `WHERE embedding_model = M ORDER BY
//   embedding::vector(N) <=> q LIMIT k`. Other tenants' chunks share the index, so pgvector's
//   iterative scan (0.8) keeps walking the graph until k rows pass the tenant/document filters,
//   and hnsw.ef_search is raised for the query with SET LOCAL.
// - Reciprocal rank fusion (weights, k and threshold from tenant settings `rag`), then exactly
//   top-K (fewer only when fewer passages match at all).
// If the embedding provider is down the answer still comes from full text (logged). A paid
// question embedding is metered in `usage` (activities/llm/usage.ts), so it counts against the
// tenant's daily budget like a model call.
import { log } from '@temporalio/activity';
import { Prisma } from '../generated/prisma/client.ts';
import type pg from 'pg';
import { poolOf, type Db } from '../lib/db.ts';
import { DEFAULT_EMBEDDING_MODEL, EMBEDDING_MODELS, embeddingDimensions, isEmbeddingModel, vectorLiteral, type EmbeddingModelName } from '../lib/embedding-models.ts';
import { parseTenantSettings, type PlatformDefaults, type TenantSettings, type TextSearchLanguage } from '../lib/tenant-settings.ts';
import { createEmbedderRegistry, type EmbedderRegistry } from './embeddings/index.ts';
import { createRedaction, localeCountry } from '../lib/pii.ts';
import { createUsageLedger } from './llm/usage.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';

export interface Passage {
  chunkId: string;
  documentId: string;
  title: string;
  /** 1-based page of a PDF (or null), for citations. */
  page: number | null;
  /** The heading path the passage sits under (Markdown/HTML/DOCX), when known. */
  section: string | null;
  content: string;
  /** Fused score, normalised to 0..1 (1 = first in every list that has a weight). */
  score: number;
}

export interface RetrieveInput {
  tenantId: string;
  question: string;
  limit?: number;
  /** Only documents carrying at least one of these tags. */
  tags?: string[];
}

/** HNSW candidate list size for a query (pgvector's default is 40). */
export const HNSW_EF_SEARCH = 100;
/** Candidates taken from each list before fusion. */
const CANDIDATES = 40;

/**
 * Question words for an OR query: a question rarely contains every word of the passage that
 * answers it, so websearch_to_tsquery's implicit AND would miss most answers. Tokens are letters
 * and digits only, so nothing in them can act as query syntax.
 */
export function questionTerms(question: string): string[] {
  const words = question.toLocaleLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 3))].slice(0, 24);
}

/**
 * Words that match nearly every chunk make the OR query rank (and read) half the corpus while
 * adding nothing to the ranking; they are left out of the full-text query (not of the vector).
 */
const STOPWORDS = new Set(
  ('the and for are but not you your yours with this that these those from have has had was were will would can could should ' +
    'what when where which who whom why how does did doing done any all our out about into over under than then there their they them ' +
    'its his her she him hers been being also just only very more most some such same other own too may might must shall' +
    ' que para por com uma uns das dos nas nos como mais mas ele ela isso esta este del las los una por con para como pero').split(' '),
);

export function searchTerms(question: string): string[] {
  return questionTerms(question).filter((w) => !STOPWORDS.has(w));
}

/**
 * The text websearch_to_tsquery reads as "any of these words": its `or` is the OR operator
 * (terms are at least three letters or digits, so none of them is `or` or an operator itself).
 * The language's own stemming and stop words then apply to each word.
 */
export function websearchAnyOf(terms: string[]): string {
  return terms.join(' or ');
}

export interface Row {
  id: string;
  document_id: string;
  title: string;
  content: string;
  metadata: Prisma.JsonValue;
  rank: number;
}

export interface FusionOptions {
  vectorWeight: number;
  textWeight: number;
  rrfK: number;
  minScore: number;
  limit: number;
}

/**
 * Reciprocal rank fusion of ranked lists of ids: Σ weight / (k + rank), normalised by the best
 * possible score so that thresholds read the same whatever the weights. Ties (first in one list
 * and third in the other, against the reverse): better best rank, then the better rank in the
 * list of most weight (the first of equals), and only then id. Ids are random, so a tie left
 * to them would give the same question on the same documents different passages after each
 * ingestion.
 */
export function fuseRanks(lists: { ids: string[]; weight: number }[], options: Omit<FusionOptions, 'vectorWeight' | 'textWeight'>): { id: string; score: number }[] {
  const best = lists.reduce((sum, l) => sum + (l.weight > 0 ? l.weight / (options.rrfK + 1) : 0), 0);
  if (best <= 0) return [];
  const weighted = lists.filter((l) => l.weight > 0);
  // List positions by weight, heaviest first (stable: the first of equal weights leads).
  const byWeight = weighted.map((l, i) => ({ weight: l.weight, i })).sort((a, b) => b.weight - a.weight).map((x) => x.i);
  const scores = new Map<string, { score: number; ranks: number[] }>();
  weighted.forEach((list, li) => {
    list.ids.forEach((id, i) => {
      const entry = scores.get(id) ?? { score: 0, ranks: weighted.map(() => Infinity) };
      entry.score += list.weight / (options.rrfK + i + 1);
      entry.ranks[li] = i + 1;
      scores.set(id, entry);
    });
  });
  const byHeaviestList = (a: number[], b: number[]) => {
    for (const li of byWeight) if (a[li] !== b[li]) return a[li]! < b[li]! ? -1 : 1;
    return 0;
  };
  return [...scores.entries()]
    .map(([id, e]) => ({ id, score: e.score / best, bestRank: Math.min(...e.ranks), ranks: e.ranks }))
    .filter((e) => e.score >= options.minScore)
    .sort((a, b) => b.score - a.score || a.bestRank - b.bestRank || byHeaviestList(a.ranks, b.ranks) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, options.limit)
    .map(({ id, score }) => ({ id, score }));
}

function documentFilter(tenantId: string, tags: string[] | undefined): Prisma.Sql {
  return Prisma.sql`d.tenant_id = ${tenantId}::uuid AND d.status = 'ready' AND d.deleted_at IS NULL${
    tags && tags.length ? Prisma.sql` AND d.tags && ${tags}::text[]` : Prisma.empty
  }`;
}

/** kNN on the model's partial HNSW index, within one tenant's searchable documents. */
export function vectorQuery(input: { tenantId: string; model: EmbeddingModelName; vector: number[]; k: number; tags?: string[] }): Prisma.Sql {
  const dims = Prisma.raw(String(embeddingDimensions(input.model)));
  const q = vectorLiteral(input.vector);
  // The ORDER BY expression must be exactly the indexed one (embedding::vector(N)) with the
  // index's predicate repeated, or the planner cannot use the partial index.
  return Prisma.sql`
    SELECT c.id, c.document_id, d.title, c.content, c.metadata,
           (c.embedding::vector(${dims}) <=> ${q}::vector(${dims}))::float8 AS rank
      FROM chunks c
      JOIN documents d ON d.id = c.document_id
     WHERE c.tenant_id = ${input.tenantId}::uuid
       AND c.embedding_model = ${input.model}
       AND ${documentFilter(input.tenantId, input.tags)}
     ORDER BY c.embedding::vector(${dims}) <=> ${q}::vector(${dims})
     LIMIT ${input.k}`;
}

/** How the question's words are used by the full-text statement (see chooseTextTerms). */
export interface TextTerms {
  /** websearch_to_tsquery text selecting the candidates. */
  select: string;
  /** Every word with its weight (wordWeight), for the ranking. */
  rank: { word: string; weight: number }[];
}

/** In more than this share of all chunks and more than COMMON_WORD_CHUNKS of them, a word alone does not select candidates. */
export const COMMON_WORD_SHARE = 0.05;
export const COMMON_WORD_CHUNKS = 1000;
/** At most this many candidates are ranked per question: the bound on the statement's work. */
export const TEXT_CANDIDATES_MAX = 5000;

/** How many chunks there are, and each frequent lexeme's share of them (pg_class and pg_stats). */
export interface LexemeStats {
  chunks: number;
  shares: Map<string, number>;
}

/** In more than COMMON_WORD_SHARE of the chunks and more than COMMON_WORD_CHUNKS of them (one missing from the statistics is not). */
export function isCommonLexeme(stats: LexemeStats, lexeme: string): boolean {
  const share = stats.shares.get(lexeme) ?? 0;
  return share > COMMON_WORD_SHARE && share * stats.chunks > COMMON_WORD_CHUNKS;
}

/**
 * BM25's inverse document frequency, ln(1 + (N − n + ½) / (n + ½)), of a word's rarest lexeme:
 * N chunks, n of them with the lexeme (its share of them). A lexeme missing from the statistics
 * is in fewer chunks than any listed one; without statistics every word weighs the same.
 */
export function wordWeight(stats: LexemeStats, lexemes: string[]): number {
  const floor = stats.shares.size ? Math.min(...stats.shares.values()) : 0;
  const share = Math.min(...lexemes.map((l) => stats.shares.get(l) ?? floor));
  const n = share * stats.chunks;
  return Math.log(1 + (stats.chunks - n + 0.5) / (n + 0.5));
}

/**
 * Candidates are the chunks containing any rare word of the question, or all of its common
 * ones (isCommonLexeme); every word ranks, with its weight (wordWeight). Words that are stop
 * words of the language (no lexeme) are left out altogether.
 */
export function chooseTextTerms(words: { word: string; lexemes: string[] }[], stats: LexemeStats): TextTerms | null {
  const meaningful = words.filter((w) => w.lexemes.length > 0);
  if (!meaningful.length) return null;
  const isRare = (w: { lexemes: string[] }) => w.lexemes.some((l) => !isCommonLexeme(stats, l));
  const rare = meaningful.filter(isRare).map((w) => w.word);
  const common = meaningful.filter((w) => !isRare(w)).map((w) => w.word);
  // websearch_to_tsquery: words side by side must all match, `or` separates alternatives.
  const select = websearchAnyOf([...rare, ...(common.length ? [common.join(' ')] : [])]);
  return { select, rank: meaningful.map((w) => ({ word: w.word, weight: wordWeight(stats, w.lexemes) })) };
}

export function textQuery(input: { tenantId: string; model: string; language: TextSearchLanguage; terms: TextTerms; k: number; tags?: string[] }): Prisma.Sql {
  const { select, rank } = input.terms;
  const language = Prisma.sql`${input.language}::regconfig`;
  const weighted = Prisma.join(
    rank.map((t) => Prisma.sql`${t.weight}::float8 * (c.tsv @@ websearch_to_tsquery(${language}, ${t.word}))::int`),
    ' + ',
  );
  return Prisma.sql`
    WITH candidates AS MATERIALIZED (
      SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
       WHERE c.tenant_id = ${input.tenantId}::uuid
         AND c.embedding_model = ${input.model}
         AND c.fts_config = ${input.language}::regconfig
         AND ${documentFilter(input.tenantId, input.tags)}
         AND c.tsv @@ websearch_to_tsquery(${input.language}::regconfig, ${select})
       LIMIT ${TEXT_CANDIDATES_MAX})
    SELECT c.id, c.document_id, d.title, c.content, c.metadata, (${weighted})::float8 AS rank
      FROM candidates x
      JOIN chunks c ON c.id = x.id
      JOIN documents d ON d.id = c.document_id,
           websearch_to_tsquery(${language}, ${websearchAnyOf(rank.map((t) => t.word))}) q
     -- Equals in document and chunk order: ids are random, and would order them anew at each ingestion.
     ORDER BY rank DESC, ts_rank_cd(c.tsv, q) DESC, d.created_at, c.ordinal, c.id
     LIMIT ${input.k}`;
}

/** The lexemes of each word in the tenant's language (none for the language's stop words). */
async function wordLexemes(client: SearchClient, language: TextSearchLanguage, words: string[]): Promise<{ word: string; lexemes: string[] }[]> {
  const { rows } = await client.query<{ word: string; lexemes: string[] }>(
    sql(Prisma.sql`SELECT w AS word, tsvector_to_array(to_tsvector(${language}::regconfig, w)) AS lexemes FROM unnest(${words}::text[]) w`),
  );
  return rows;
}

/** The chunks' row estimate and lexeme shares (pg_class, pg_stats), per database, read at most every 10 minutes. */
const LEXEME_STATS_TTL_MS = 10 * 60_000;
const lexemeStatsCache = new WeakMap<pg.Pool, { at: number; stats: Promise<LexemeStats> }>();

function lexemeStats(pool: pg.Pool): Promise<LexemeStats> {
  const cached = lexemeStatsCache.get(pool);
  if (cached && Date.now() - cached.at < LEXEME_STATS_TTL_MS) return cached.stats;
  const stats = pool
    .query<{ chunks: number; lexemes: string[] | null; shares: number[] | null }>(
      // most_common_elem_freqs ends with three summary numbers after one share per lexeme;
      // reltuples is -1 before the first ANALYZE (no shares then either).
      `SELECT greatest(c.reltuples, 0)::float8 AS chunks, s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS shares
         FROM pg_class c
         LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'tsv'
        WHERE c.oid = to_regclass('chunks')`,
    )
    .then(({ rows: [row] }) => ({
      chunks: row?.chunks ?? 0,
      shares: new Map((row?.lexemes ?? []).map((l, i) => [l, row!.shares![i] ?? 0] as const)),
    }))
    .catch(() => ({ chunks: 0, shares: new Map<string, number>() }));
  lexemeStatsCache.set(pool, { at: Date.now(), stats });
  return stats;
}

function toPassage(r: Row, score: number): Passage {
  const meta = (r.metadata ?? {}) as { page?: unknown; section?: unknown };
  return {
    chunkId: r.id,
    documentId: r.document_id,
    title: r.title,
    page: typeof meta.page === 'number' ? meta.page : null,
    section: typeof meta.section === 'string' && meta.section ? meta.section : null,
    content: r.content,
    score,
  };
}

/** What retrieval needs of the tenant's row. */
export interface RetrievalTenant {
  model: EmbeddingModelName;
  /** All of the tenant's settings (a caller that reads them anyway reads the row once). */
  settings: TenantSettings;
  rag: TenantSettings['rag'];
  chunks: number;
}

/** The tenant's active embedding model, settings and searchable chunk count; null when there is no such tenant. */
export async function tenantRetrievalSettings(db: Db, tenantId: string, platform: PlatformDefaults = {}): Promise<RetrievalTenant | null> {
  const { rows: [row] } = await poolOf(db).query<{ embedding_model: string; settings: unknown; chunks: string }>({
    name: 'tenant-retrieval-settings',
    ...sql(Prisma.sql`
      SELECT t.embedding_model, t.settings,
             (SELECT COALESCE(sum(d.chunk_count), 0) FROM documents d
               WHERE d.tenant_id = t.id AND d.status = 'ready' AND d.deleted_at IS NULL)::bigint AS chunks
        FROM tenants t WHERE t.id = ${tenantId}::uuid`),
  });
  if (!row) return null;
  const settings = parseTenantSettings(row.settings, platform);
  return {
    model: isEmbeddingModel(row.embedding_model) ? row.embedding_model : DEFAULT_EMBEDDING_MODEL,
    settings,
    rag: settings.rag,
    chunks: Number(row.chunks),
  };
}

/**
 * Up to this many searchable chunks, the planner's choice stands: it usually reads the tenant's
 * rows by the btree and sorts them (exact, about a millisecond per few thousand 384-d rows).
 * Above it, exact search costs tens of milliseconds, yet the planner keeps misjudging the
 * partial HNSW index (its cost model knows nothing of iterative scans), so sorts are priced
 * out for the kNN statement: the only plan left without a sort is the HNSW index scan.
 */
export const EXACT_SEARCH_MAX_CHUNKS = 10_000;

/** A Prisma.Sql template as a pg query config ($1… placeholders). */
export const sql = (q: Prisma.Sql) => ({ text: q.text, values: q.values });

/** A pooled pg connection inside the retrieval transaction. */
export type SearchClient = Pick<pg.PoolClient, 'query'>;

/**
 * Runs the statements of one retrieval in a REPEATABLE READ transaction on the pg pool: one
 * snapshot for every list (under READ COMMITTED each statement has its own, and a version swap
 * committing between them would mix the old and the new version), and SET LOCAL settings that
 * never reach the next borrower of the connection. Plain pg rather than Prisma: its interactive
 * transaction and per-statement overhead cost more than the queries themselves (bench/rag.ts).
 */
export async function inSearchTransaction<T>(db: Db, work: (client: SearchClient) => Promise<T>): Promise<T> {
  const client = await poolOf(db).connect();
  // A connection whose ROLLBACK failed may still be in the transaction: it is destroyed, not pooled.
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * The HNSW and planner settings of the kNN statement, in one round trip. Above
 * EXACT_SEARCH_MAX_CHUNKS sorts are priced out for the rest of the transaction, so the kNN
 * statement runs last.
 */
export function vectorSearchSettings(tenantChunks: number): Prisma.Sql {
  const approximate = tenantChunks > EXACT_SEARCH_MAX_CHUNKS;
  return Prisma.sql`SELECT set_config('hnsw.ef_search', ${String(HNSW_EF_SEARCH)}, true),
                           set_config('hnsw.iterative_scan', 'relaxed_order', true),
                           set_config('enable_sort', ${approximate ? 'off' : 'on'}, true)`;
}

/** The kNN candidates, as the last statement of the retrieval transaction; sorted by distance (ascending). */
export async function nearestChunks(
  client: SearchClient,
  input: { tenantId: string; model: EmbeddingModelName; vector: number[]; k: number; tags?: string[]; tenantChunks: number },
): Promise<Row[]> {
  await client.query(sql(vectorSearchSettings(input.tenantChunks)));
  const { rows } = await client.query<Row>(sql(vectorQuery(input)));
  // relaxed_order may return slightly out of order: re-sort by distance.
  return rows.sort((a, b) => a.rank - b.rank);
}

export function createRagActivities(db: Db, embedders: EmbedderRegistry = createEmbedderRegistry(), metrics = new WorkerMetrics()) {
  const usage = createUsageLedger(db);
  return {
    /** `tenant`: the row as the caller read it already (generateReply reads it once for its settings too). */
    async retrieveContext(input: RetrieveInput, given?: RetrievalTenant | null): Promise<Passage[]> {
      const started = performance.now();
      const passages = await retrieve(input, given);
      metrics.retrieval((performance.now() - started) / 1000, passages.length);
      return passages;
    },
  };

  async function retrieve(input: RetrieveInput, given?: RetrievalTenant | null): Promise<Passage[]> {
    const tenant = given === undefined ? await tenantRetrievalSettings(db, input.tenantId) : given;
    if (!tenant || tenant.chunks === 0 || !input.question.trim()) return []; // nothing ready to search
    const { model, rag } = tenant;
    const limit = Math.min(Math.max(input.limit ?? rag.topK, 1), 20);
    const words = searchTerms(input.question);
    const stats = await lexemeStats(poolOf(db));

    let vector: number[] | undefined;
    if (rag.vectorWeight > 0) {
      try {
        // A provider's embedding of the customer's words gets no personal data (privacy.redactPii);
        // a local model's never leave the machine.
        const leaves = EMBEDDING_MODELS[model].provider !== 'local' && tenant.settings.privacy.redactPii;
        const text = leaves ? createRedaction(localeCountry(tenant.settings.locale)).redact(input.question) : input.question;
        const embedded = await embedders(model).embed([text]);
        vector = embedded.vectors[0];
        // Metered off the reply's path: a lost write costs a fraction of a cent, a wait costs every reply.
        usage.recordEmbedding(input.tenantId, model, embedded.tokens).catch((err: unknown) => log.error('embedding usage not recorded', { model, tokens: embedded.tokens, error: String(err) }));
      } catch (err) {
        log.warn('question embedding failed; answering from full text only', { model, error: err instanceof Error ? err.message : String(err) });
      }
    }
    const k = Math.max(CANDIDATES, limit);
    const [vectorRows, textRows] = await inSearchTransaction(db, async (client) => {
      const textTerms = words.length && rag.textWeight > 0 ? chooseTextTerms(await wordLexemes(client, rag.language, words), stats) : null;
      const byText = textTerms
        ? (await client.query<Row>(sql(textQuery({ tenantId: input.tenantId, model, language: rag.language, terms: textTerms, k, tags: input.tags })))).rows
        : [];
      const byVector = vector
        ? (await nearestChunks(client, { tenantId: input.tenantId, model, vector, k, tags: input.tags, tenantChunks: tenant.chunks })).filter(
            (r) => 1 - r.rank >= rag.minSimilarity,
          )
        : [];
      return [byVector, byText];
    });

    const rows = new Map<string, Row>();
    for (const r of [...vectorRows, ...textRows]) rows.set(r.id, r);
    const fused = fuseRanks(
      [
        { ids: vectorRows.map((r) => r.id), weight: rag.vectorWeight },
        { ids: textRows.map((r) => r.id), weight: rag.textWeight },
      ],
      { rrfK: rag.rrfK, minScore: rag.minScore, limit },
    );
    return fused.map((f) => toPassage(rows.get(f.id)!, f.score));
  }
}
