// The tenant's full-text language (settings.rag.language): chunks are indexed with it
// (chunks.fts_config, the generated tsv follows), questions are parsed with it, and a change
// re-indexes the tenant's chunks in the background (workflow textSearchReindex), through the
// settings API, real workers and the real Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/conversations.ts';
import { createDocumentsRig, type DocumentsRig } from './support/documents.ts';

// Full text only: the local embedder is lexical too, but these tests are about the text index.
const TEXT_ONLY = { vectorWeight: 0 };
const SHUTTLE = 'The airport shuttle runs every twenty minutes from platform four.';
const QUESTION = 'Is it running?';

describe('full-text language per tenant', () => {
  let rig: DocumentsRig;

  const ftsConfigs = async (tenantId: string) =>
    (await rig.db.$queryRaw<{ fts_config: string; n: bigint }[]>`
      SELECT fts_config::text AS fts_config, count(*) AS n FROM chunks WHERE tenant_id = ${tenantId}::uuid GROUP BY 1 ORDER BY 1`).map(
      (r) => [r.fts_config, Number(r.n)] as const,
    );

  beforeAll(async () => {
    rig = await createDocumentsRig('rag_language');
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('an English tenant finds "running" where the document says "runs"; a simple tenant does not', async () => {
    const english = await rig.tenant();
    expect((await rig.patchSettings(english.key, { rag: { ...TEXT_ONLY, language: 'english' } })).statusCode).toBe(200);
    const simple = await rig.tenant({ rag: TEXT_ONLY });

    const ours = await rig.addDocument(english.key, 'Shuttle', SHUTTLE);
    const theirs = await rig.addDocument(simple.key, 'Shuttle', SHUTTLE);
    expect(await ftsConfigs(english.tenantId)).toEqual([['english', 1]]);
    expect(await ftsConfigs(simple.tenantId)).toEqual([['simple', 1]]);

    const found = await rig.rag.retrieveContext({ tenantId: english.tenantId, question: QUESTION });
    expect(found.map((p) => p.documentId)).toEqual([ours.id]);
    expect(await rig.rag.retrieveContext({ tenantId: simple.tenantId, question: QUESTION })).toEqual([]);
    // The simple tenant still finds the exact word.
    expect((await rig.rag.retrieveContext({ tenantId: simple.tenantId, question: 'Which shuttle runs?' })).map((p) => p.documentId)).toEqual([theirs.id]);
    // Any of the words is enough (OR), each stemmed: "minute" and "platforms" are in no other form in the text.
    expect((await rig.rag.retrieveContext({ tenantId: english.tenantId, question: 'How many minute platforms?' })).map((p) => p.documentId)).toEqual([ours.id]);
  });

  it('changing the language re-indexes the tenant\'s chunks in the background, and then stemming applies', async () => {
    const tenant = await rig.tenant({ rag: TEXT_ONLY });
    const doc = await rig.addDocument(tenant.key, 'Timetable', `${SHUTTLE}\n\nThe night bus stops running at two.`);
    const other = await rig.tenant({ rag: TEXT_ONLY });
    await rig.addDocument(other.key, 'Theirs', SHUTTLE);
    expect(await rig.rag.retrieveContext({ tenantId: tenant.tenantId, question: 'When does it run?' })).toEqual([]);

    const res = await rig.patchSettings(tenant.key, { rag: { language: 'english' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().settings.rag.language).toBe('english');
    const result = await rig.temporal.client.workflow.getHandle(`text-search:${tenant.tenantId}`).result();
    expect(result).toEqual({ language: 'english', updated: doc.chunkCount });

    expect(await ftsConfigs(tenant.tenantId)).toEqual([['english', doc.chunkCount]]);
    const [lexemes] = await rig.db.$queryRaw<{ tsv: string }[]>`SELECT tsv::text AS tsv FROM chunks WHERE document_id = ${doc.id}::uuid`;
    expect(lexemes!.tsv).toContain("'run'");
    expect(lexemes!.tsv).not.toContain("'runs'");
    expect((await rig.rag.retrieveContext({ tenantId: tenant.tenantId, question: 'When does it run?' })).map((p) => p.documentId)).toEqual([doc.id]);
    // Another tenant's chunks are not touched.
    expect(await ftsConfigs(other.tenantId)).toEqual([['simple', 1]]);

    // Back to simple: the same way back, and stemming is gone again.
    expect((await rig.patchSettings(tenant.key, { rag: { language: null } })).statusCode).toBe(200);
    await eventually(async () => {
      const configs = await ftsConfigs(tenant.tenantId);
      return configs.length === 1 && configs[0]![0] === 'simple';
    }, 30_000, 'chunks back in simple');
    expect(await rig.rag.retrieveContext({ tenantId: tenant.tenantId, question: 'When does it run?' })).toEqual([]);
  });

  it('chunks written after a change are in the new language, without waiting for the re-index', async () => {
    const tenant = await rig.tenant({ rag: TEXT_ONLY });
    expect((await rig.patchSettings(tenant.key, { rag: { language: 'german' } })).statusCode).toBe(200);
    const doc = await rig.addDocument(tenant.key, 'Fahrplan', 'Der Flughafenbus fährt alle zwanzig Minuten.');
    expect(await ftsConfigs(tenant.tenantId)).toEqual([['german', doc.chunkCount]]);
    // German stemming: "Minute" and "Minuten" are one lexeme.
    expect((await rig.rag.retrieveContext({ tenantId: tenant.tenantId, question: 'Wie oft pro Minute?' })).map((p) => p.documentId)).toEqual([doc.id]);
  });

  it('refuses an unknown language with 400 and keeps the settings', async () => {
    const tenant = await rig.tenant();
    for (const language of ['klingon', 'English', 'pg_catalog.english', '']) {
      const res = await rig.patchSettings(tenant.key, { rag: { language } });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_error', requestId: expect.any(String) });
      expect(res.json().error.message).toContain('rag.language');
    }
    const after = (await rig.api(tenant.key, 'GET', '/api/v1/settings')).json() as { version: number; settings: { rag: { language: string } } };
    expect(after.settings.rag.language).toBe('simple');
    expect(after.version).toBe(1);
  });
});
