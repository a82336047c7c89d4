// OpenAI embeddings (text-embedding-3-small) through the official SDK against the local fake
// OpenAI server (test/fakes/openai.ts, POST /v1/embeddings in OpenAI's wire format), with the
// platform key and base URL as the worker reads them: ingestion and retrieval on the 1536-d
// partial HNSW index, the background switch from local-hash-384, batching, and the provider's
// 429 with retry-after.
import { Prisma } from '../generated/prisma/client.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBED_BATCH_SIZE } from '../activities/ingest/index.ts';
import { HNSW_EF_SEARCH, vectorQuery } from '../activities/rag.ts';
import { tokens as fakeTokens } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, fakeEmbedding, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { eventually } from './support/conversations.ts';
import { createDocumentsRig, type DocumentsRig, type DocumentView } from './support/documents.ts';

const OPENAI = 'text-embedding-3-small';
const LOCAL = 'local-hash-384';

/** About `n` chunks of distinct Markdown sections. */
function manyChunks(n: number): string {
  const words = ['gear', 'chain', 'saddle', 'spoke', 'brake', 'pedal', 'tyre', 'valve', 'frame', 'crank', 'hub', 'rim', 'fork', 'stem', 'grip'];
  return Array.from({ length: n }, (_, i) => {
    const body = Array.from({ length: 140 }, (_, j) => words[(i * 7 + j * 3 + j * j) % words.length]).join(' ');
    return `## Part ${i}\n\nSection ${i} notes: ${body}.`;
  }).join('\n\n');
}

describe('OpenAI embeddings against the fake OpenAI server', () => {
  let fake: FakeOpenAi;
  let rig: DocumentsRig;

  const modelOf = async (tenantId: string) => (await rig.db.tenant.findUniqueOrThrow({ where: { id: tenantId } })).embeddingModel;
  const chunksByModel = async (tenantId: string) =>
    Object.fromEntries(
      (
        await rig.db.$queryRaw<{ model: string; n: bigint; dims: number }[]>`
          SELECT embedding_model AS model, count(*) AS n, min(vector_dims(embedding)) AS dims FROM chunks
           WHERE tenant_id = ${tenantId}::uuid GROUP BY 1`
      ).map((r) => [r.model, { chunks: Number(r.n), dims: r.dims }]),
    );
  const switchModel = async (key: string, tenantId: string, embeddingModel: string) => {
    const res = await rig.patchSettings(key, { rag: { embeddingModel } });
    expect(res.statusCode, res.body).toBe(200);
    return rig.temporal.client.workflow.getHandle(`embedding-model:${tenantId}`).result();
  };

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    rig = await createDocumentsRig('embeddings_openai', { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.url });
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    await fake?.close();
  });

  it('a text-embedding-3-small tenant ingests and retrieves through the 1536-d partial index', async () => {
    // Vector list only, so the passages come from the OpenAI vectors alone.
    const { tenantId, key } = await rig.tenant({ rag: { textWeight: 0 } });
    expect(await switchModel(key, tenantId, OPENAI)).toEqual({ from: LOCAL, to: OPENAI, documents: 0, dropped: 0 });
    expect(await modelOf(tenantId)).toBe(OPENAI);

    fake.embeddings.reset();
    const battery = await rig.addDocument(key, 'Battery care', 'Store e-bike batteries at room temperature and charge them to sixty percent before the winter.');
    await rig.addDocument(key, 'Tyres', 'Tyre pressure for city bikes is 4.5 bar; check it every two weeks.');
    expect(await chunksByModel(tenantId)).toEqual({ [OPENAI]: { chunks: 2, dims: 1536 } });
    // The stored vector is the provider's (the SDK decoded base64 float32 into numbers).
    const [stored] = await rig.db.$queryRaw<{ embedding: string }[]>`SELECT embedding::text AS embedding FROM chunks WHERE document_id = ${battery.id}::uuid`;
    const expected = fakeEmbedding('Store e-bike batteries at room temperature and charge them to sixty percent before the winter.', 1536);
    const got = JSON.parse(stored!.embedding) as number[];
    expect(got).toHaveLength(1536);
    expect(Math.max(...got.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-6);

    expect(fake.embeddings.requests.length).toBeGreaterThan(0);
    for (const r of fake.embeddings.requests) {
      expect(r.status).toBe(200);
      expect(r.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_KEY}`);
      // What the official SDK asks for when the caller names no encoding.
      expect(r.body).toMatchObject({ model: OPENAI, encoding_format: 'base64' });
    }

    const before = fake.embeddings.requests.length;
    const passages = await rig.rag.retrieveContext({ tenantId, question: 'How should I store the batteries over winter?' });
    expect(passages[0]?.documentId).toBe(battery.id);
    expect(fake.embeddings.requests.slice(before).map((r) => r.inputs)).toEqual([['How should I store the batteries over winter?']]);

    // The kNN statement retrieval runs is answered by the model's own partial HNSW index.
    const plan = await rig.db.$transaction(async (tx) => {
      // As retrieval sets them above 10K chunks: sorts priced out, so the planner cannot fall back to an exact scan.
      await tx.$executeRawUnsafe(`SET LOCAL hnsw.ef_search = ${HNSW_EF_SEARCH}`);
      await tx.$executeRawUnsafe('SET LOCAL enable_sort = off');
      const query = vectorQuery({ tenantId, model: OPENAI, vector: fakeEmbedding('batteries winter', 1536), k: 5 });
      return tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${query}`);
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('chunks_embedding_text_embedding_3_small_idx');
  });

  it("meters each question's embedding in the tenant's usage, where it counts against the daily budget", async () => {
    const { tenantId, key } = await rig.tenant();
    await switchModel(key, tenantId, OPENAI);
    await rig.addDocument(key, 'Rentals', 'City bikes can be rented by the hour at the front desk.');
    const row = () => rig.db.usage.findFirst({ where: { tenantId, provider: 'openai', model: OPENAI } });
    const before = await row();

    fake.embeddings.reset();
    for (const question of ['Can I rent a city bike?', 'Where is the front desk for rentals?']) await rig.rag.retrieveContext({ tenantId, question });
    const tokens = fake.embeddings.requests.flatMap((r) => r.inputs).reduce((sum, t) => sum + fakeTokens(t), 0);
    expect(fake.embeddings.requests).toHaveLength(2);
    // Written off the reply's path: wait for both writes.
    const after = await eventually(async () => {
      const r = await row();
      return r !== null && r.requests - (before?.requests ?? 0) === 2 && r;
    }, 10_000, 'two metered embedding requests');
    expect(after.promptTokens - (before?.promptTokens ?? 0)).toBe(tokens);
    expect(after.completionTokens).toBe(0);
    // Each costs well under a micro-dollar and is counted as one (rounded up, never to nothing).
    expect(Number(after.costUsd) - Number(before?.costUsd ?? 0)).toBeCloseTo(0.000002, 9);
  });

  it('switches local-hash-384 to text-embedding-3-small in the background: the old model answers until every document is re-embedded in batches', async () => {
    const { tenantId, key } = await rig.tenant();
    const manual = await rig.addDocument(key, 'Parts list', manyChunks(300), 'markdown');
    const hours = await rig.addDocument(key, 'Opening hours', 'The workshop opens at eight on weekdays.');
    const total = manual.chunkCount + hours.chunkCount;
    expect(manual.chunkCount).toBeGreaterThan(EMBED_BATCH_SIZE * 2);
    expect(await chunksByModel(tenantId)).toEqual({ [LOCAL]: { chunks: total, dims: 384 } });

    fake.embeddings.reset();
    fake.embeddings.hold();
    let released = false;
    try {
      const res = await rig.patchSettings(key, { rag: { embeddingModel: OPENAI } });
      expect(res.statusCode, res.body).toBe(200);
      await eventually(() => fake.embeddings.waiting > 0, 30_000, 'the switch asking for embeddings');

      // Half-way: retrieval still runs on the old model, whose vectors are all there.
      expect(await modelOf(tenantId)).toBe(LOCAL);
      expect((await chunksByModel(tenantId))[LOCAL]).toEqual({ chunks: total, dims: 384 });
      const during = await rig.rag.retrieveContext({ tenantId, question: 'When does the workshop open?' });
      expect(during[0]?.documentId).toBe(hours.id);
      expect(fake.embeddings.requests).toHaveLength(0); // the question went to the local model

      fake.embeddings.release();
      released = true;
    } finally {
      if (!released) fake.embeddings.release();
    }
    const result = await rig.temporal.client.workflow.getHandle(`embedding-model:${tenantId}`).result();
    expect(result).toEqual({ from: LOCAL, to: OPENAI, documents: 2, dropped: total });
    expect(await modelOf(tenantId)).toBe(OPENAI);
    expect(await chunksByModel(tenantId)).toEqual({ [OPENAI]: { chunks: total, dims: 1536 } });

    // Batched: many texts per request, never more than a batch.
    const sizes = fake.embeddings.requests.map((r) => r.inputs.length);
    expect(fake.embeddings.requests.every((r) => r.status === 200)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
    expect(Math.max(...sizes)).toBe(EMBED_BATCH_SIZE);
    expect(sizes.length).toBeLessThan(total / 10);

    const after = await rig.rag.retrieveContext({ tenantId, question: 'When does the workshop open?' });
    expect(after[0]?.documentId).toBe(hours.id);
    expect(fake.embeddings.requests.at(-1)!.inputs).toEqual(['When does the workshop open?']);
  });

  it("retries the provider's 429 after its retry-after, and fails a document the provider rejects", async () => {
    const { tenantId, key } = await rig.tenant();
    await switchModel(key, tenantId, OPENAI);

    fake.embeddings.reset();
    fake.embeddings.failNext(1, { status: 429, retryAfterSeconds: 1 });
    const doc = await rig.addDocument(key, 'Rentals', 'City bikes can be rented by the hour at the front desk.');
    expect(fake.embeddings.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(fake.embeddings.requests[1]!.body?.input).toEqual(fake.embeddings.requests[0]!.body?.input);
    expect(await rig.db.chunk.count({ where: { documentId: doc.id, embeddingModel: OPENAI } })).toBe(1);

    // A 400 cannot get better by retrying: the document fails at once, saying why.
    fake.embeddings.reset();
    fake.embeddings.failNext(1, { status: 400, message: 'This model does not accept that input.' });
    const res = await rig.api(key, 'POST', '/api/v1/documents', { title: 'Rejected', content: 'Some text the provider refuses.', format: 'text' });
    expect(res.statusCode, res.body).toBe(202);
    const failed = await eventually(async () => {
      const d = (await rig.api(key, 'GET', `/api/v1/documents/${(res.json() as DocumentView).id}`)).json() as DocumentView;
      return d.status === 'failed' && d;
    }, 30_000, 'the rejected document failed');
    expect(failed.error).toContain('embedding provider answered 400');
    expect(fake.embeddings.requests.map((r) => r.status)).toEqual([400]);
  });
});
