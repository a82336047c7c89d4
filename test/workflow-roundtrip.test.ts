// A workflow through the real worker (same construction as workers/main.ts), the real Temporal
// dev server and a migrated Postgres with pgvector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { registerSearchAttributes } from '../temporal-config/search-attributes.ts';
import { createWorkers } from '../workers/create-workers.ts';
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
    const workers = await createWorkers({
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

  it('has the custom search attributes registered, and registering again is a no-op', async () => {
    expect(await registerSearchAttributes(temporal.client, 'default')).toEqual([]);
    const { customAttributes } = await temporal.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(SEARCH_ATTRIBUTES.map((k) => k.name)));
  });
});
