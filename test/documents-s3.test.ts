// Documents end to end on S3 storage (DOCUMENT_STORAGE=s3, a real S3-compatible server: moto): a
// DOCX uploaded through the API is stored as an object under its tenant's prefix, a real ingestion
// worker reads it back and the document becomes ready and answers retrieval; nothing lands on local
// disk; deleting the document removes its object when the purge runs. A bucket that cannot be
// reached answers the upload 503 and keeps no document. Deleting a tenant empties its prefix and
// leaves the others'. Real Temporal and Postgres.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { loadConfig } from '../lib/config.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { documentPurge } from '../workflows/document-purge.ts';
import { eventually } from './support/conversations.ts';
import { docxFile } from './support/document-files.ts';
import { createDocumentsRig, type DocumentsRig, type DocumentView } from './support/documents.ts';
import { startS3Server, type S3Server } from './support/s3-server.ts';
import { testEnv } from './support/config.ts';

async function multipart(bytes: Uint8Array, filename: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), filename);
  const res = new Response(form);
  return { payload: Buffer.from(await res.arrayBuffer()), headers: { 'content-type': res.headers.get('content-type')! } };
}

describe('documents on S3 storage', () => {
  let s3: S3Server;
  let rig: DocumentsRig;

  const objects = async (prefix: string) =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key);

  beforeAll(async () => {
    s3 = await startS3Server();
    rig = await createDocumentsRig('documents_s3', s3.env);
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    await s3?.stop();
  });

  it('stores an upload in the bucket, ingests it from there, and removes the object once the deleted document is purged', async () => {
    const { tenantId, key } = await rig.tenant();
    const docx = await docxFile();
    const file = await multipart(docx, 'warranty.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    const res = await rig.app.inject({ method: 'POST', url: '/api/v1/documents', headers: { authorization: `Bearer ${key}`, ...file.headers }, payload: file.payload });
    expect(res.statusCode, res.body).toBe(202);
    const { id } = res.json() as DocumentView;

    const storageKey = (await rig.db.document.findUniqueOrThrow({ where: { id } })).storageKey;
    expect(storageKey).toBe(`${tenantId}/${id}`);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: storageKey! }));
    expect(head.ContentLength).toBe(docx.byteLength);
    expect(head.ServerSideEncryption).toBe('AES256');

    const ready = await eventually(async () => {
      const d = (await rig.api(key, 'GET', `/api/v1/documents/${id}`)).json() as DocumentView;
      if (d.status === 'failed') throw new Error(`ingestion failed: ${d.error}`);
      return d.status === 'ready' && d;
    }, 60_000, 'document ready');
    expect(ready.chunkCount).toBeGreaterThan(0);
    const hits = await rig.rag.retrieveContext({ tenantId, question: 'How long are e-bike batteries covered?' });
    expect(JSON.stringify(hits)).toContain('800 charge cycles');
    // The chunk plan ingestion kept beside the file is gone once the document is ready; the
    // local folder was never used.
    expect(await objects(`${tenantId}/`)).toEqual([storageKey]);
    expect(await readdir(rig.config.DOCUMENT_STORAGE_DIR)).toEqual([]);

    expect((await rig.api(key, 'DELETE', `/api/v1/documents/${id}`)).statusCode).toBe(204);
    // Deleted past the grace period, as the hourly purge would find it.
    await rig.db.$executeRaw`UPDATE documents SET deleted_at = now() - interval '25 hours' WHERE id = ${id}::uuid`;
    const purged = await rig.temporal.client.workflow.execute(documentPurge, {
      taskQueue: taskQueueName(rig.config, 'maintenance'),
      workflowId: `document-purge-s3-${randomBytes(4).toString('hex')}`,
      args: [{ olderThanHours: 24 }],
      workflowExecutionTimeout: '2 minutes',
    });
    expect(purged).toEqual({ purged: 1 });
    expect(await objects(`${tenantId}/`)).toEqual([]);
    await expect(rig.storage.get(storageKey!)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("deletes a deleted tenant's objects and nobody else's", async () => {
    const [doomed, kept] = [await rig.tenant(), await rig.tenant()];
    await rig.addDocument(doomed.key, 'Opening hours', 'The shop opens at nine.');
    await rig.addDocument(kept.key, 'Opening hours', 'The workshop opens at ten.');
    expect(await objects(`${doomed.tenantId}/`)).toHaveLength(1);

    const res = await rig.app.inject({ method: 'DELETE', url: `/api/v1/tenants/${doomed.tenantId}`, headers: { authorization: `Bearer ${rig.config.ADMIN_API_KEY}` } });
    expect(res.statusCode, res.body).toBe(204);
    await eventually(async () => (await objects(`${doomed.tenantId}/`)).length === 0, 30_000, "the tenant's objects deleted");
    expect(await objects(`${kept.tenantId}/`)).toHaveLength(1);
  });

  it('answers an upload 503 when the bucket cannot be reached, and keeps no document for it', async () => {
    const { tenantId, key } = await rig.tenant();
    // A port that was just free: nothing listens there, every connection is refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as { port: number };
    await new Promise((r) => closed.close(r));
    const config = loadConfig(testEnv({ ...s3.env, DATABASE_URL: rig.config.DATABASE_URL, TEMPORAL_TASK_QUEUE_PREFIX: rig.config.TEMPORAL_TASK_QUEUE_PREFIX, S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_MAX_ATTEMPTS: '2' }));
    const app = await buildApp({ config, db: rig.db, temporal: rig.temporal.client, logger: pino({ level: 'silent' }) });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/documents',
        headers: { authorization: `Bearer ${key}` },
        payload: { title: 'Opening hours', content: 'The shop opens at nine.', format: 'text' },
      });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'storage_unavailable', message: expect.stringMatching(/could not be stored/) } });
      expect(await rig.db.document.count({ where: { tenantId } })).toBe(0);
    } finally {
      await app.close();
    }
  });
});
