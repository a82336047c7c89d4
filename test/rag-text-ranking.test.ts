// Full-text ranking on the real Postgres, with the planner's statistics of a small table (a new
// platform's first tenant): every word selects candidates there, and a chunk ranks by how rare
// the words it matches are (BM25's idf), not by how often it repeats the shop's everyday words.
// A file (and database) of its own: retrieval reads the statistics once per pool for 10 minutes,
// so they must exist before the pool's first question.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentsRig, type DocumentsRig } from './support/documents.ts';

// Full text only: the local embedder is lexical too, but this is about the text ranking.
const TEXT_ONLY = { vectorWeight: 0 };

describe('full-text ranking', () => {
  let rig: DocumentsRig;

  beforeAll(async () => {
    rig = await createDocumentsRig('rag_text_ranking');
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('finds the chunk with the rare word of a question no chunk holds every word of, and ranks it first', async () => {
    const tenant = await rig.tenant({ rag: TEXT_ONLY });
    const delivery = await rig.addDocument(tenant.key, 'Delivery', 'Bikes are delivered by a courier team and arrive assembled.');
    const warranty = await rig.addDocument(
      tenant.key,
      'Warranty',
      'Every bike frame has a lifetime warranty. A bike that comes back is checked by our bike workshop. Bike batteries come with two years of cover.',
    );
    await rig.addDocument(tenant.key, 'Sizes', 'Each bike page shows the bike sizes, and a bike fitting comes free with every bike.');
    await rig.addDocument(tenant.key, 'Test rides', 'Test rides are free for any bike in stock, so come and ride a bike.');
    // The statistics retrieval reads (pg_stats, pg_class), as autovacuum would make them: in these
    // four chunks "bike" is in all, "come" in three, "assembled" in one.
    await rig.db.$executeRawUnsafe('ANALYZE chunks');

    const passages = await rig.rag.retrieveContext({ tenantId: tenant.tenantId, question: 'Does the bike come assembled?' });
    // Every word is in a large share of so few chunks: had they to be all in one, none would be
    // found; each selects, and the one chunk with "assembled" outranks three with "bike" and "come".
    expect(passages.map((p) => p.documentId)).toHaveLength(4);
    expect(passages[0]!.documentId).toBe(delivery.id);
    expect(passages.map((p) => p.documentId)).toContain(warranty.id);
  });
});
