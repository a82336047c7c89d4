// A workflow through the real worker (same construction as workers/main.ts), the real Temporal
// dev server and a migrated Postgres with pgvector.
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { registerSearchAttributes } from '../temporal-config/search-attributes.ts';
import { createTestWorkers } from './support/workers.ts';
import { platformDiagnostics } from '../workflows/index.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { testConfig } from './support/config.ts';
import { createMigratedDatabase } from './support/database.ts';
import { connectTestTemporal, uniqueQueuePrefix } from './support/temporal.ts';

describe('workflow round trip', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let db: Db;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    db = createDb(testConfig({ DATABASE_URL: await createMigratedDatabase('roundtrip') }), 'roundtrip-test');
  });

  afterAll(async () => {
    await db?.$disconnect();
    await temporal?.close();
  });

  it('runs platformDiagnostics on every task queue through a real worker', async () => {
    const prefix = uniqueQueuePrefix('roundtrip');
    const config = testConfig();
    const workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: config.WORKER_TASK_QUEUES,
      tuning: config,
      deps: { db, logger: createLogger({ level: 'silent', name: 'test' }), keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL },
      queueName: (queue) => `${prefix}-${queue}`,
    });
    const running = Promise.all(workers.map((w) => w.run()));
    try {
      for (const queue of config.WORKER_TASK_QUEUES) {
        const result = await temporal.client.workflow.execute(platformDiagnostics, {
          taskQueue: `${prefix}-${queue}`,
          workflowId: `${prefix}-diagnostics-${queue}`,
          workflowExecutionTimeout: '30 seconds',
        });
        expect(result.taskQueue).toBe(`${prefix}-${queue}`);
        expect(result.database.pgvectorVersion).toMatch(/^0\.\d+\.\d+$/);
        expect(result.database.serverVersion).toMatch(/^1[6-9]/);
        expect(result.database.appliedMigrations).toBeGreaterThan(0);
      }
    } finally {
      workers.forEach((w) => w.shutdown());
      await running;
    }
  });

  it('hands Temporal encrypted payloads only: the history is ciphertext, a client without the keys reads nothing', async () => {
    const prefix = uniqueQueuePrefix('encrypted');
    const config = testConfig();
    const workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['conversations'],
      tuning: config,
      deps: { db, logger: createLogger({ level: 'silent', name: 'test' }), keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL },
      queueName: (queue) => `${prefix}-${queue}`,
    });
    const running = Promise.all(workers.map((w) => w.run()));
    try {
      const handle = await temporal.client.workflow.start(platformDiagnostics, {
        taskQueue: `${prefix}-conversations`,
        workflowId: `${prefix}-diagnostics`,
        workflowExecutionTimeout: '30 seconds',
        memo: { note: 'a memo with a phone number +4915112345678' },
      });
      expect((await handle.result()).taskQueue).toBe(`${prefix}-conversations`);
      const history = await handle.fetchHistory();
      const encodings = new Set<string>();
      const raw = JSON.stringify(history, (_, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
      for (const e of history.events ?? []) {
        const payloads = [
          ...(e.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
          ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
          ...(e.workflowExecutionStartedEventAttributes?.memo?.fields ? Object.values(e.workflowExecutionStartedEventAttributes.memo.fields) : []),
        ];
        for (const p of payloads) encodings.add(Buffer.from(p.metadata?.encoding ?? []).toString());
      }
      expect([...encodings]).toEqual(['binary/encrypted']);
      expect(raw).not.toContain('4915112345678');
      expect(raw).not.toContain('pgvectorVersion');
      // A client without the codec (the Web UI without the codec endpoint) sees ciphertext only.
      const plain = new Client({ connection: temporal.client.connection, namespace: 'default' });
      await expect(plain.workflow.getHandle(handle.workflowId).result()).rejects.toThrow(/binary\/encrypted/);
    } finally {
      workers.forEach((w) => w.shutdown());
      await running;
    }
  });

  it('has the custom search attributes registered, and registering again is a no-op', async () => {
    expect(await registerSearchAttributes(temporal.client, 'default')).toEqual([]);
    const { customAttributes } = await temporal.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(SEARCH_ATTRIBUTES.map((k) => k.name)));
  });
});
