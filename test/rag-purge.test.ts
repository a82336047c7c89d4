// The document purge (workflow documentPurge, run hourly by the document-purge Schedule): rows,
// chunks and stored files of documents deleted longer ago than the grace period go; documents
// deleted more recently, and live ones, stay. Real maintenance worker, Temporal and Postgres.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskQueueName } from '../lib/temporal.ts';
import { documentPurge, DOCUMENT_PURGE_BATCH } from '../workflows/document-purge.ts';
import { createDocumentsRig, type DocumentsRig } from './support/documents.ts';

describe('document purge', () => {
  let rig: DocumentsRig;

  const stored = async (key: string) => rig.storage.get(key).then(() => true, () => false);
  const row = (id: string) => rig.db.document.findUnique({ where: { id } });
  const purge = (olderThanHours: number) =>
    rig.temporal.client.workflow.execute(documentPurge, {
      taskQueue: taskQueueName(rig.config, 'maintenance'),
      workflowId: `document-purge-test-${randomBytes(4).toString('hex')}`,
      args: [{ olderThanHours }],
      workflowExecutionTimeout: '2 minutes',
    });

  beforeAll(async () => {
    rig = await createDocumentsRig('rag_purge');
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('purges rows, chunks and files of documents deleted over the grace period ago, and leaves the others', async () => {
    const { tenantId, key } = await rig.tenant();
    const old = await rig.addDocument(key, 'Old price list', 'Winter tyres cost 40 EUR each.');
    const recent = await rig.addDocument(key, 'Recent price list', 'Summer tyres cost 35 EUR each.');
    const live = await rig.addDocument(key, 'Opening hours', 'The shop opens at nine.');
    for (const d of [old, recent]) expect((await rig.api(key, 'DELETE', `/api/v1/documents/${d.id}`)).statusCode).toBe(204);
    // Deleted 25 hours ago (past a 24-hour grace period) and one hour ago (within it).
    await rig.db.$executeRaw`UPDATE documents SET deleted_at = now() - interval '25 hours' WHERE id = ${old.id}::uuid`;
    await rig.db.$executeRaw`UPDATE documents SET deleted_at = now() - interval '1 hour' WHERE id = ${recent.id}::uuid`;
    const keys = Object.fromEntries(
      await Promise.all([old, recent, live].map(async (d) => [d.id, (await row(d.id))!.storageKey!] as const)),
    );
    for (const k of Object.values(keys)) expect(await stored(k)).toBe(true);

    expect(await purge(24)).toEqual({ purged: 1 });

    expect(await row(old.id)).toBeNull();
    expect(await rig.db.chunk.count({ where: { documentId: old.id } })).toBe(0);
    expect(await stored(keys[old.id]!)).toBe(false);
    for (const d of [recent, live]) {
      expect(await row(d.id)).not.toBeNull();
      expect(await rig.db.chunk.count({ where: { documentId: d.id } })).toBeGreaterThan(0);
      expect(await stored(keys[d.id]!)).toBe(true);
    }
    expect((await row(recent.id))!.deletedAt).not.toBeNull();
    expect(await rig.db.document.count({ where: { tenantId } })).toBe(2);

    // A shorter grace period reaches the recent one too; nothing left: nothing purged.
    expect(await purge(1)).toEqual({ purged: 1 });
    expect(await row(recent.id)).toBeNull();
    expect(await stored(keys[recent.id]!)).toBe(false);
    expect(await purge(1)).toEqual({ purged: 0 });
    expect(await row(live.id)).not.toBeNull();
  });

  it('pages through more deleted documents than one batch until none is left', async () => {
    const { tenantId } = await rig.tenant();
    const count = DOCUMENT_PURGE_BATCH * 2 + 7;
    const keys: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      keys.push(await rig.storage.put(tenantId, id, Buffer.from(`document ${i}`)));
    }
    await rig.db.$executeRaw`
      INSERT INTO documents (id, tenant_id, document_key, title, mime_type, status, content_hash, size_bytes, storage_key, deleted_at)
      SELECT split_part(k, '/', 2)::uuid, ${tenantId}::uuid, 'bulk-' || i, 'Bulk ' || i, 'text/plain', 'ready', md5(k), 10, k, now() - interval '3 days'
        FROM unnest(${keys}::text[]) WITH ORDINALITY AS x(k, i)`;

    expect(await purge(24)).toEqual({ purged: count });
    expect(await rig.db.document.count({ where: { tenantId } })).toBe(0);
    expect((await Promise.all(keys.map(stored))).filter(Boolean)).toHaveLength(0);
  });
});
