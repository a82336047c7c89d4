// What the Knowledge page reads and does beyond upload: a version's chunks (paged), a document's
// versions and restoring one, and the retrieval preview, which must answer exactly what the
// conversation's retrieval gives the assistant. Real ingestion and conversations workers on the
// Temporal dev server, real Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi } from './support/api.ts';
import { eventually } from './support/conversations.ts';
import { createDocumentsRig, type DocumentsRig, type DocumentView } from './support/documents.ts';
import { createTenant } from '../lib/tenants.ts';

interface Chunk { id: string; position: number; content: string; characters: number; page: number | null; section: string | null }
interface Version extends DocumentView { version: number; documentKey: string }

describe('documents: chunks, versions and the retrieval preview', () => {
  let rig: DocumentsRig;

  beforeAll(async () => {
    rig = await createDocumentsRig('documents_knowledge', {}, ['ingestion', 'conversations']);
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
  });

  async function ready(key: string, id: string): Promise<Version> {
    return eventually(async () => {
      const d = (await rig.api(key, 'GET', `/api/v1/documents/${id}`)).json() as Version;
      if (d.status === 'failed') throw new Error(`ingestion failed: ${d.error}`);
      return d.status === 'ready' && d;
    }, 60_000, `document ${id} ready`);
  }

  it('lists the chunks of a version in document order, a page at a time', async () => {
    const { key } = await rig.tenant();
    const paragraphs = Array.from({ length: 6 }, (_, i) => `Paragraph ${i + 1}. ` + `Section ${i + 1} of the handbook explains step ${i + 1} in detail. `.repeat(12));
    const doc = await rig.addDocument(key, 'Handbook', paragraphs.join('\n\n'));
    expect(doc.chunkCount).toBeGreaterThan(3);

    const seen: Chunk[] = [];
    let cursor: string | null = null;
    do {
      const res = await rig.api(key, 'GET', `/api/v1/documents/${doc.id}/chunks?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { items: Chunk[]; nextCursor: string | null; total: number; embeddingModel: string };
      expect(body.items.length).toBeLessThanOrEqual(2);
      expect(body.total).toBe(doc.chunkCount);
      expect(body.embeddingModel).toBe('local-hash-384');
      seen.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.map((c) => c.position)).toEqual([...Array(doc.chunkCount).keys()]);
    expect(seen[0]!.content).toContain('Paragraph 1.');
    for (const c of seen) expect(c.characters).toBe(c.content.length);
    const stored = await rig.db.chunk.findMany({ where: { documentId: doc.id }, orderBy: { ordinal: 'asc' }, select: { content: true } });
    expect(seen.map((c) => c.content)).toEqual(stored.map((c) => c.content));

    const past = Buffer.from(JSON.stringify([1e12, seen[0]!.id])).toString('base64url');
    for (const bad of ['bm90LWEtY3Vyc29y', past]) expect((await rig.api(key, 'GET', `/api/v1/documents/${doc.id}/chunks?cursor=${bad}`)).statusCode).toBe(400);
    expect((await rig.api(key, 'GET', '/api/v1/documents/00000000-0000-4000-8000-000000000009/chunks')).statusCode).toBe(404);
  });

  it('lists the versions and restores an earlier one from its kept chunks, and back again', async () => {
    const { tenantId, key } = await rig.tenant();
    const v1 = await rig.addDocument(key, 'Opening hours', 'The shop opens at nine in the morning.');
    const upload = await rig.api(key, 'POST', `/api/v1/documents/${v1.id}/versions`, { content: 'The shop opens at eleven, after the delivery.', format: 'text' });
    expect(upload.statusCode).toBe(202);
    const v2 = await ready(key, (upload.json() as Version).id);
    const question = 'When does the shop open?';
    expect((await rig.rag.retrieveContext({ tenantId, question })).map((p) => p.content)).toEqual(['The shop opens at eleven, after the delivery.']);

    const versions = (await rig.api(key, 'GET', `/api/v1/documents/${v2.id}/versions`)).json() as { items: Version[] };
    expect(versions.items.map((v) => [v.version, v.deletedAt === null])).toEqual([[2, true], [1, false]]);

    const restored = await rig.api(key, 'POST', `/api/v1/documents/${v1.id}/restore`);
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ id: v1.id, version: 1, status: 'ready', deletedAt: null });
    expect((await rig.rag.retrieveContext({ tenantId, question })).map((p) => p.content)).toEqual(['The shop opens at nine in the morning.']);
    const rows = await rig.db.document.findMany({ where: { tenantId }, orderBy: { version: 'asc' } });
    expect(rows.map((r) => [r.version, r.deletedAt === null])).toEqual([[1, true], [2, false]]);
    // No second ingestion: the restored version's chunks are the ones it kept.
    expect(await rig.db.chunk.count({ where: { documentId: v1.id } })).toBe(v1.chunkCount);

    // Restoring the live version changes nothing; the replaced one is restorable in turn.
    expect((await rig.api(key, 'POST', `/api/v1/documents/${v1.id}/restore`)).statusCode).toBe(200);
    expect((await rig.api(key, 'POST', `/api/v1/documents/${v2.id}/restore`)).json()).toMatchObject({ id: v2.id, deletedAt: null });
    expect((await rig.rag.retrieveContext({ tenantId, question })).map((p) => p.content)).toEqual(['The shop opens at eleven, after the delivery.']);

    // Once retrieval uses another model (a switch finished), a version without its chunks is refused, and nothing changes.
    await rig.db.$executeRaw`UPDATE tenants SET embedding_model = 'text-embedding-3-small' WHERE id = ${tenantId}::uuid`;
    const stale = await rig.api(key, 'POST', `/api/v1/documents/${v1.id}/restore`);
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.message).toMatch(/model the tenant no longer uses/);
    expect((await rig.db.document.findUnique({ where: { id: v2.id } }))!.deletedAt).toBeNull();

    // A deleted document has nothing to restore into.
    expect((await rig.api(key, 'DELETE', `/api/v1/documents/${v2.id}`)).statusCode).toBe(204);
    expect((await rig.api(key, 'POST', `/api/v1/documents/${v1.id}/restore`)).statusCode).toBe(404);
  });

  it('refuses to restore a version that never became ready', async () => {
    const { key } = await rig.tenant();
    const good = await rig.addDocument(key, 'Prices', 'Tyres cost 40 EUR.');
    const broken = await rig.api(key, 'POST', `/api/v1/documents/${good.id}/versions`, { content: '   \n  ', format: 'text' });
    expect(broken.statusCode).toBe(202);
    const failed = await eventually(async () => {
      const d = (await rig.api(key, 'GET', `/api/v1/documents/${(broken.json() as Version).id}`)).json() as Version;
      return d.status === 'failed' && d;
    }, 60_000, 'the empty version failed');
    const res = await rig.api(key, 'POST', `/api/v1/documents/${failed.id}/restore`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/never became ready/);
  });

  it('previews exactly the passages the conversation retrieval gives the assistant, under the tenant settings', async () => {
    const { tenantId, key } = await rig.tenant({ rag: { topK: 2 } });
    await rig.addDocument(key, 'Returns', 'Returns are accepted within 30 days with the receipt.');
    await rig.addDocument(key, 'Shipping', 'Shipping takes three days within the country.');
    await rig.addDocument(key, 'Payment', 'We accept cards and bank transfers for returns of large orders.');
    const question = 'Are returns accepted without a receipt?';

    const res = await rig.api(key, 'POST', '/api/v1/documents/search', { question });
    expect(res.statusCode).toBe(200);
    const { passages } = res.json() as { passages: { title: string; content: string; score: number; documentId: string }[] };
    expect(passages).toHaveLength(2);
    expect(passages[0]).toMatchObject({ title: 'Returns', content: 'Returns are accepted within 30 days with the receipt.', score: 1 });
    expect(passages).toEqual(await rig.rag.retrieveContext({ tenantId, question }));

    const empty = await rig.api(key, 'POST', '/api/v1/documents/search', { question: '   ' });
    expect(empty.statusCode).toBe(400);
    const { key: otherKey } = await rig.tenant();
    expect((await rig.api(otherKey, 'POST', '/api/v1/documents/search', { question })).json()).toEqual({ passages: [] });
  });

  it('limits previews per key to a tenth of the API limit', async () => {
    const api = await startTestApi('documents_preview_limit', { RATE_LIMIT_API_PER_MINUTE: '10' });
    try {
      const { apiKey } = await createTenant(api.db, { name: 'Limited', slug: `limited-${Date.now()}` });
      const ask = () => api.app.inject({ method: 'POST', url: '/api/v1/documents/search', headers: bearer(apiKey.key), payload: { question: 'Opening hours?' } });
      expect((await ask()).statusCode).toBe(200);
      const limited = await ask();
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.code).toBe('rate_limited');
      expect((await api.app.inject({ url: '/api/v1/documents', headers: bearer(apiKey.key) })).statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });
});
