// Uploads that cannot stall the platform or leak disk, end to end (API, ingestion worker with its
// parse threads, Temporal, Postgres, local storage): a zip-bomb DOCX and a PDF over its page
// limit fail with the limit as their reason and lose their file (no retry could use it); a
// document over the chunk quota stops while it is chunked, keeps its file for a retry and
// counts against the document quota meanwhile; a version that a newer one replaced loses its
// file at once, while a document the tenant deleted keeps its files for the purge's grace period.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createIngestionActivities } from '../activities/ingest/index.ts';
import { documentUsage } from '../lib/documents.ts';
import { docxWithParagraphs, pdfFile } from './support/document-files.ts';
import { createDocumentsRig, type DocumentsRig, type DocumentView } from './support/documents.ts';
import { eventually } from './support/conversations.ts';

const CHUNK_QUOTA = 30;

async function multipart(bytes: Uint8Array, filename: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), filename);
  const res = new Response(form);
  return { payload: Buffer.from(await res.arrayBuffer()), headers: { 'content-type': res.headers.get('content-type')! } };
}

/** Paragraphs of distinct text, about `n` chunks' worth. */
const chunksOfText = (n: number, seed: string) =>
  Array.from({ length: n }, (_, i) => `Paragraph ${seed} ${i}: ${`${seed}${i} spoke tension and rim trueness notes `.repeat(24)}`).join('\n\n');

describe('upload limits', () => {
  let rig: DocumentsRig;
  let tenant: { tenantId: string; key: string };

  const upload = async (bytes: Uint8Array, filename: string, type: string, url = '/api/v1/documents') => {
    const file = await multipart(bytes, filename, type);
    const res = await rig.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${tenant.key}`, ...file.headers }, payload: file.payload });
    expect(res.statusCode, res.body).toBe(202);
    return res.json() as DocumentView;
  };
  const settled = (id: string) =>
    eventually(async () => {
      const d = (await rig.api(tenant.key, 'GET', `/api/v1/documents/${id}`)).json() as DocumentView;
      return (d.status === 'failed' || d.status === 'ready') && d;
    }, 60_000, `document ${id} settled`);
  const row = (id: string) => rig.db.document.findUniqueOrThrow({ where: { id } });
  const stored = (key: string) => rig.storage.get(key).then(() => true, () => false);

  beforeAll(async () => {
    rig = await createDocumentsRig('upload_limits', { CHUNK_QUOTA_PER_TENANT: String(CHUNK_QUOTA), DOCUMENT_MAX_PDF_PAGES: '5' });
  }, 180_000);

  beforeEach(async () => {
    tenant = await rig.tenant();
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('fails a zip-bomb DOCX with the limit as its reason, deletes its file and refuses a retry', async () => {
    const bomb = await docxWithParagraphs(1_500_000); // 60 MiB of XML in about 300 KB
    const doc = await upload(bomb, 'bomb.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    const storageKey = (await row(doc.id)).storageKey!;
    const failed = await settled(doc.id);
    expect(failed).toMatchObject({ status: 'failed', error: 'The DOCX file inflates to more than 32 MiB, the limit', chunkCount: 0 });
    await eventually(async () => (await row(doc.id)).storageKey === null, 10_000, 'the file released');
    expect(await stored(storageKey)).toBe(false);
    // It no longer takes disk, so it no longer counts.
    expect(await documentUsage(rig.db, tenant.tenantId)).toEqual({ documents: 0, chunks: 0 });
    const retry = await rig.api(tenant.key, 'POST', `/api/v1/documents/${doc.id}/retry`, {});
    expect(retry.statusCode).toBe(409);
    expect(retry.json().error.message).toContain('upload a corrected file as a new version');
  });

  it('fails a PDF over the page limit before reading it, and deletes its file', async () => {
    const doc = await upload(await pdfFile(Array.from({ length: 6 }, (_, i) => `Page ${i + 1}`)), 'long.pdf', 'application/pdf');
    const failed = await settled(doc.id);
    expect(failed).toMatchObject({ status: 'failed', error: 'The PDF has 6 pages, above the limit of 5' });
    await eventually(async () => (await row(doc.id)).storageKey === null, 10_000, 'the file released');
    // Within the limit, the same kind of file is read page by page.
    const ok = await upload(await pdfFile(['Brake pads wear out.', 'Chains stretch.']), 'short.pdf', 'application/pdf');
    expect(await settled(ok.id)).toMatchObject({ status: 'ready', chunkCount: 2 });
  });

  it('stops a document over the chunk quota while chunking it, keeps its file for a retry and counts it; a new version replaces it', async () => {
    const big = await rig.api(tenant.key, 'POST', '/api/v1/documents', { title: 'Workshop manual', content: chunksOfText(80, 'm'), format: 'text' });
    const doc = big.json() as DocumentView;
    const failed = await settled(doc.id);
    expect(failed.error).toBe(`Chunk quota exceeded: this document has more than ${CHUNK_QUOTA} chunks and the tenant's other documents 0, above the limit of ${CHUNK_QUOTA} (parsing stopped there)`);
    const storageKey = (await row(doc.id)).storageKey!;
    expect(storageKey).not.toBeNull();
    expect(await stored(storageKey)).toBe(true);
    expect(await documentUsage(rig.db, tenant.tenantId)).toEqual({ documents: 1, chunks: 0 });
    // The file is there for a retry (which fails the same way while the quota is full).
    expect((await rig.api(tenant.key, 'POST', `/api/v1/documents/${doc.id}/retry`, {})).statusCode).toBe(202);
    expect((await settled(doc.id)).error).toBe(failed.error);

    // A smaller upload of the same document replaces the failed version and its file at once.
    const v2 = (await rig.api(tenant.key, 'POST', `/api/v1/documents/${doc.id}/versions`, { content: chunksOfText(3, 's'), format: 'text' })).json() as DocumentView;
    expect((await row(doc.id)).deletedAt).not.toBeNull();
    expect((await row(doc.id)).storageKey).toBeNull();
    expect(await stored(storageKey)).toBe(false);
    expect(await settled(v2.id)).toMatchObject({ status: 'ready', chunkCount: 3 });
    expect(await documentUsage(rig.db, tenant.tenantId)).toEqual({ documents: 1, chunks: 3 });
  });

  it('deletes the file of a version a newer one replaced, keeping its rows for the grace period; a deleted document keeps its files', async () => {
    const v1 = await rig.addDocument(tenant.key, 'Opening hours', 'The shop opens at nine.');
    const v1Key = (await row(v1.id)).storageKey!;
    const res = await rig.api(tenant.key, 'POST', `/api/v1/documents/${v1.id}/versions`, { content: 'The shop opens at ten.', format: 'text' });
    const v2 = await settled((res.json() as DocumentView).id);
    expect(v2.status).toBe('ready');
    await eventually(async () => (await row(v1.id)).storageKey === null, 10_000, 'the replaced file released');
    expect(await stored(v1Key)).toBe(false);
    const replaced = await row(v1.id);
    expect(replaced.deletedAt).not.toBeNull();
    expect(await rig.db.chunk.count({ where: { documentId: v1.id } })).toBe(1);

    // The tenant deletes the document: what is left stays until the purge (an operator may restore it).
    const v2Key = (await row(v2.id)).storageKey!;
    expect((await rig.api(tenant.key, 'DELETE', `/api/v1/documents/${v2.id}`)).statusCode).toBe(204);
    expect(await stored(v2Key)).toBe(true);
    expect((await row(v2.id)).storageKey).toBe(v2Key);
  });

  it('soft-deletes an older version that fails after a newer upload, with its file; failing again changes nothing', async () => {
    const v1 = await rig.addDocument(tenant.key, 'Prices', 'Tubes cost 5 EUR.');
    const res = await rig.api(tenant.key, 'POST', `/api/v1/documents/${v1.id}/versions`, { content: 'Tubes cost 6 EUR.', format: 'text' });
    await settled((res.json() as DocumentView).id);
    // v1 as if it were still being ingested when v2 arrived, with its file.
    const v1Key = await rig.storage.put(tenant.tenantId, v1.id, Buffer.from('Tubes cost 5 EUR.'));
    await rig.db.document.update({ where: { id: v1.id }, data: { status: 'processing', deletedAt: null, storageKey: v1Key } });
    const activities = createIngestionActivities({ db: rig.db, logger: pino({ level: 'silent' }), storage: rig.storage, embedders: () => { throw new Error('not used'); } });
    for (let attempt = 0; attempt < 2; attempt++) {
      await activities.failDocument({ tenantId: tenant.tenantId, documentId: v1.id, reason: 'The embedding provider refused', errorType: 'EmbeddingProviderRejected' });
      expect(await row(v1.id)).toMatchObject({ status: 'failed', error: 'The embedding provider refused', storageKey: null, deletedAt: expect.any(Date) });
      expect(await stored(v1Key)).toBe(false);
    }
  });
});
