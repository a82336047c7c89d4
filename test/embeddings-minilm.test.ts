// The offline semantic embedder all-minilm-l6-v2-int8 (activities/embeddings/minilm.ts) on the
// real model files that `npm run setup` provisions: what makes it semantic (a question that shares
// no word with its passage still finds it, where local-hash-384 cannot), that a text's vector does
// not depend on its batch, that it refuses missing or altered model files, and a tenant that
// switches to it ingesting and retrieving through its own partial HNSW index.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../generated/prisma/client.ts';
import { localHashEmbedder } from '../activities/embeddings/index.ts';
import { createMiniLmEmbedder, MINILM_DIMENSIONS, MINILM_MODEL } from '../activities/embeddings/minilm.ts';
import { HNSW_EF_SEARCH, vectorQuery } from '../activities/rag.ts';
import { MINILM_DIR } from '../lib/local-embedding-files.ts';
import { createDocumentsRig, type DocumentsRig } from './support/documents.ts';

const REFUND = 'Unused items returned within 30 days are reimbursed in full to the original card.';
const TYRES = 'Tyre pressure for city bikes is 4.5 bar; check it every two weeks.';
const HOURS = 'The workshop opens at nine and closes at six, Monday to Saturday.';
const QUESTION = 'Can I get my money back?';

const cosine = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

describe('all-minilm-l6-v2-int8, the offline semantic embedder', () => {
  // One thread: this file shares the machine's two cores with the rest of the suite.
  const embedder = createMiniLmEmbedder({ threads: 1 });

  it('ranks a passage by meaning: a question sharing no word with it finds it, where the lexical hash cannot', async () => {
    const { vectors } = await embedder.embed([QUESTION, REFUND, TYRES, HOURS]);
    const [q, refund, tyres, hours] = vectors as [number[], number[], number[], number[]];
    for (const v of vectors) {
      expect(v).toHaveLength(MINILM_DIMENSIONS);
      expect(cosine(v, v)).toBeCloseTo(1, 6);
    }
    expect(cosine(q, refund)).toBeGreaterThan(cosine(q, tyres) + 0.1);
    expect(cosine(q, refund)).toBeGreaterThan(cosine(q, hours) + 0.1);

    // No shared word: the lexical hash sees only its collisions.
    const lexical = (await localHashEmbedder.embed([QUESTION, REFUND])).vectors;
    expect(cosine(lexical[0]!, lexical[1]!)).toBeLessThan(0.1);
  });

  it("gives a text the same vector alone and in a batch of longer texts, and cuts long texts at the model's 256 tokens", async () => {
    const long = `${HOURS} `.repeat(60);
    const alone = (await embedder.embed([QUESTION])).vectors[0]!;
    const { vectors } = await embedder.embed([long, REFUND, QUESTION, `${long} and then some more words that fall beyond the cut`]);
    expect(Math.max(...alone.map((v, i) => Math.abs(v - vectors[2]![i]!)))).toBeLessThan(1e-6);
    // Everything past token 256 is cut, so the two long texts embed alike.
    expect(cosine(vectors[0]!, vectors[3]!)).toBeCloseTo(1, 6);
  });

  it('refuses to run without the model files, or on files that are not the pinned ones', async () => {
    const missing = createMiniLmEmbedder({ dir: join(tmpdir(), 'no-such-model-dir') });
    await expect(missing.embed(['hello'])).rejects.toSatisfy(
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === true && err.type === 'EmbeddingModelNotInstalled' && /npm run setup/.test(err.message),
    );

    const dir = await mkdtemp(join(tmpdir(), 'minilm-'));
    try {
      await cp(MINILM_DIR, dir, { recursive: true });
      await writeFile(join(dir, 'tokenizer.json'), '{"version":"1.0"}');
      await expect(createMiniLmEmbedder({ dir }).embed(['hello'])).rejects.toSatisfy(
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'EmbeddingModelNotInstalled' && /sha256/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('as a tenant model', () => {
    let rig: DocumentsRig;

    beforeAll(async () => {
      rig = await createDocumentsRig('embeddings_minilm');
    }, 180_000);

    afterAll(async () => {
      await rig?.close();
    });

    it('a tenant switched to it ingests and retrieves by meaning through its 384-d partial index, and is not metered', async () => {
      // Vector list only, so the passages come from the model's vectors alone.
      const { tenantId, key } = await rig.tenant({ rag: { textWeight: 0 } });
      const res = await rig.patchSettings(key, { rag: { embeddingModel: MINILM_MODEL } });
      expect(res.statusCode, res.body).toBe(200);
      expect(await rig.temporal.client.workflow.getHandle(`embedding-model:${tenantId}`).result()).toMatchObject({ to: MINILM_MODEL, documents: 0 });

      const [refund] = await Promise.all([rig.addDocument(key, 'Returns', REFUND), rig.addDocument(key, 'Tyres', TYRES), rig.addDocument(key, 'Opening hours', HOURS)]);
      const stored = await rig.db.$queryRaw<{ model: string; dims: number }[]>`
        SELECT DISTINCT embedding_model AS model, vector_dims(embedding) AS dims FROM chunks WHERE tenant_id = ${tenantId}::uuid`;
      expect(stored).toEqual([{ model: MINILM_MODEL, dims: MINILM_DIMENSIONS }]);

      const passages = await rig.rag.retrieveContext({ tenantId, question: QUESTION });
      expect(passages[0]?.documentId).toBe(refund!.id);
      expect(await rig.db.usage.count({ where: { tenantId } })).toBe(0);

      const question = (await embedder.embed([QUESTION])).vectors[0]!;
      const plan = await rig.db.$transaction(async (tx) => {
        // As retrieval sets them above 10K chunks: sorts priced out, so the planner cannot fall back to an exact scan.
        await tx.$executeRawUnsafe(`SET LOCAL hnsw.ef_search = ${HNSW_EF_SEARCH}`);
        await tx.$executeRawUnsafe('SET LOCAL enable_sort = off');
        return tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${vectorQuery({ tenantId, model: MINILM_MODEL, vector: question, k: 5 })}`);
      });
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('chunks_embedding_all_minilm_l6_v2_int8_idx');
    });
  });
});
