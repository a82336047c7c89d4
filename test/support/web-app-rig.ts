// The web app on the real paths, as the browser tests of its pages need it: an API listening on
// a loopback port (APP_BASE_URL naming it, so addresses the API hands out are reachable) over the
// test database, a document storage folder of its own, and real ingestion and conversations
// workers on the Temporal dev server under task queues of their own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { createEmbedderRegistry } from '../../activities/embeddings/index.ts';
import type { llmEndpoints } from '../../activities/llm/index.ts';
import { createDocumentStorage } from '../../lib/storage.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { createTestWorkers } from './workers.ts';
import { startTestApi, type TestApi } from './api.ts';
import { freePort } from './browser.ts';
import { connectTestTemporal, uniqueQueuePrefix } from './temporal.ts';

export interface WebAppRig {
  api: TestApi;
  /** The API's origin (http://127.0.0.1:<port>). */
  base: string;
  temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  close(): Promise<void>;
}

export async function startWebAppRig(name: string, options: { overrides?: Record<string, string>; llm?: ReturnType<typeof llmEndpoints> } = {}): Promise<WebAppRig> {
  const storageDir = await mkdtemp(join(tmpdir(), `metachat-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const api = await startTestApi(name.replace(/-/g, '_'), {
    APP_BASE_URL: base,
    DOCUMENT_STORAGE_DIR: storageDir,
    TEMPORAL_TASK_QUEUE_PREFIX: `${uniqueQueuePrefix(name)}-`,
    ...options.overrides,
  });
  const temporal = await connectTestTemporal();
  const { config, db } = api;
  const workers: Worker[] = await createTestWorkers({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueues: ['ingestion', 'conversations'],
    tuning: config,
    deps: {
      db, logger: api.app.log, keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL,
      documentStorage: createDocumentStorage(config), embedders: createEmbedderRegistry(config), chunkQuota: config.CHUNK_QUOTA_PER_TENANT, documentParsing: config,
      ...(options.llm && { llm: options.llm }),
    },
    queueName: (q) => taskQueueName(config, q),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  await api.app.listen({ host: '127.0.0.1', port });
  return {
    api,
    base,
    temporal,
    async close() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await temporal.close();
      await api.close();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
