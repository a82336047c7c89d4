// Documents end to end on a fresh migrated database: the API (app.inject), real ingestion and
// maintenance workers on isolated task queues of the shared Temporal dev server, local document
// storage in a folder of its own, and tenants with their API keys.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Worker } from '@temporalio/worker';
import { createEmbedderRegistry } from '../../activities/embeddings/index.ts';
import { vectorsFor, writeChunkBatch } from '../../activities/ingest/index.ts';
import { createRagActivities } from '../../activities/rag.ts';
import { buildApp, type App } from '../../api/app.ts';
import type { Config, TaskQueue } from '../../lib/config.ts';
import { DEFAULT_EMBEDDING_MODEL } from '../../lib/embedding-models.ts';
import { createDb, type Db } from '../../lib/db.ts';
import { createDocumentStorage, type DocumentStorage } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { createTestWorkers } from './workers.ts';
import { eventually } from './conversations.ts';
import { testConfig } from './config.ts';
import { createMigratedDatabase } from './database.ts';
import { connectTestTemporal } from './temporal.ts';

export interface DocumentView {
  id: string;
  status: string;
  error: string | null;
  chunkCount: number;
  workflowId: string;
  deletedAt: string | null;
}

type Injected = Promise<Awaited<ReturnType<App['inject']>>>;

export interface DocumentsRig {
  config: Config;
  db: Db;
  app: App;
  temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  storage: DocumentStorage;
  /** Retrieval as the conversation workers run it (same embedders as the workers). */
  rag: ReturnType<typeof createRagActivities>;
  tenant(settings?: Record<string, unknown>): Promise<{ tenantId: string; key: string }>;
  api(key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Injected;
  /** PATCHes settings at their current version; returns the response. */
  patchSettings(key: string, settings: Record<string, unknown>): Injected;
  /** Uploads a text document and waits until it is ready. */
  addDocument(key: string, title: string, content: string, format?: 'text' | 'markdown'): Promise<DocumentView>;
  close(): Promise<void>;
}

/** `taskQueues`: the queues the rig's workers poll (the retrieval preview runs on `conversations`). */
export async function createDocumentsRig(name: string, overrides: Record<string, string> = {}, taskQueues: TaskQueue[] = ['ingestion', 'maintenance']): Promise<DocumentsRig> {
  const temporal = await connectTestTemporal();
  const storageDir = await mkdtemp(join(tmpdir(), `metachat-${name}-`));
  const config = testConfig({
    DATABASE_URL: await createMigratedDatabase(name),
    TEMPORAL_TASK_QUEUE_PREFIX: `${name}-${randomBytes(4).toString('hex')}-`,
    DOCUMENT_STORAGE_DIR: storageDir,
    RATE_LIMIT_API_PER_MINUTE: '100000',
    ...overrides,
  });
  const db = createDb(config, `${name}-test`);
  const logger = pino({ level: 'silent' });
  const storage = createDocumentStorage(config);
  const embedders = createEmbedderRegistry(config);
  const workers: Worker[] = await createTestWorkers({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueues,
    tuning: config,
    deps: {
      db, logger, keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL,
      documentStorage: storage, embedders, chunkQuota: config.CHUNK_QUOTA_PER_TENANT, documentParsing: config,
    },
    queueName: (q) => taskQueueName(config, q),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const app = await buildApp({ config, db, temporal: temporal.client, logger });
  await app.ready();

  const api: DocumentsRig['api'] = (key, method, url, body) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });

  return {
    config,
    db,
    app,
    temporal,
    storage,
    rag: createRagActivities(db, embedders),
    async tenant(settings = {}) {
      const { tenant, apiKey } = await createTenant(db, { name: 'Docs tenant', slug: `docs-${randomBytes(5).toString('hex')}`, settings });
      return { tenantId: tenant.id, key: apiKey.key };
    },
    api,
    async patchSettings(key, settings) {
      const { version } = (await api(key, 'GET', '/api/v1/settings')).json() as { version: number };
      return api(key, 'PATCH', '/api/v1/settings', { version, settings });
    },
    async addDocument(key, title, content, format = 'text') {
      const res = await api(key, 'POST', '/api/v1/documents', { title, content, format });
      if (res.statusCode !== 202) throw new Error(`upload answered ${res.statusCode}: ${res.body}`);
      const { id } = res.json() as DocumentView;
      return eventually(async () => {
        const d = (await api(key, 'GET', `/api/v1/documents/${id}`)).json() as DocumentView;
        if (d.status === 'failed') throw new Error(`ingestion failed: ${d.error}`);
        return d.status === 'ready' && d;
      }, 60_000, `document ${title} ready`);
    },
    async close() {
      await app.close();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await db.$disconnect();
      await temporal.close();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

/**
 * One ready document of one chunk, written as ingestion leaves it (no workflow): for conversation
 * tests that retrieve. With `original`, its uploaded file is stored too (what send_file sends).
 */
export async function seedReadyDocument(
  db: Db,
  tenantId: string,
  doc: { key: string; title: string; content: string; original?: { storage: DocumentStorage; bytes: Uint8Array; mimeType: string; filename: string } },
): Promise<string> {
  const { original } = doc;
  const stored = original && { storageKey: await original.storage.put(tenantId, `seed-${doc.key}`, Buffer.from(original.bytes)), mimeType: original.mimeType, filename: original.filename, sizeBytes: original.bytes.byteLength };
  const row = await forTenant(db, tenantId).document.create({
    data: { tenantId, documentKey: doc.key, title: doc.title, mimeType: 'text/plain', status: 'ready', contentHash: 'h', sizeBytes: doc.content.length, chunkCount: 1, readyAt: new Date(), ...stored },
  });
  const planned = [{ ordinal: 0, content: doc.content, contentHash: createHash('sha256').update(doc.content).digest('hex'), metadata: {} }];
  const { vectors } = await vectorsFor(db, createEmbedderRegistry(), tenantId, DEFAULT_EMBEDDING_MODEL, planned);
  await writeChunkBatch(db, { tenantId, documentId: row.id }, DEFAULT_EMBEDDING_MODEL, planned, vectors);
  return row.id;
}
