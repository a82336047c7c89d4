// Partition maintenance through a real worker and the Temporal dev server, and the Schedules that
// run maintenance and integrity checks.
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { ensureSchedules, SCHEDULE_IDS } from '../temporal-config/schedules.ts';
import { createTestWorkers } from './support/workers.ts';
import { partitionMaintenance } from '../workflows/index.ts';
import { testConfig } from './support/config.ts';
import { createMigratedDatabase } from './support/database.ts';
import { connectTestTemporal, uniqueQueuePrefix } from './support/temporal.ts';

describe('partition maintenance workflow', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let db: Db;
  let workers: Worker[];
  let running: Promise<unknown>;
  const prefix = uniqueQueuePrefix('maintenance');
  const taskQueue = `${prefix}-maintenance`;

  async function partitions(): Promise<string[]> {
    const rows = await db.$queryRaw<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'messages'::regclass AND c.relname <> 'messages_default' ORDER BY 1`;
    return rows.map((r) => r.name);
  }

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    const config = testConfig({ DATABASE_URL: await createMigratedDatabase('maintenance_wf') });
    db = createDb(config, 'maintenance-test');
    workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['maintenance'],
      tuning: config,
      deps: { db, logger: createLogger({ level: 'silent', name: 'test' }), keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL },
      queueName: (queue) => `${prefix}-${queue}`,
    });
    running = Promise.all(workers.map((w) => w.run()));
  });

  afterAll(async () => {
    workers?.forEach((w) => w.shutdown());
    await running;
    await db?.$disconnect();
    await temporal?.close();
  });

  it('moves a recent default-partition row into its month, creates months ahead across the year end, drops only expired months and prunes dedupe keys', async () => {
    const [seed] = await db.$queryRaw<{ id: string; tenant_id: string; conversation_id: string }[]>`
      WITH t AS (INSERT INTO tenants (name, slug) VALUES ('t', 'maint') RETURNING id),
           c AS (INSERT INTO channels (tenant_id, type, name) SELECT id, 'webchat', 'w' FROM t RETURNING id, tenant_id),
           v AS (INSERT INTO conversations (tenant_id, channel_id, external_user_id) SELECT tenant_id, id, 'u' FROM c RETURNING id, tenant_id)
      INSERT INTO messages (tenant_id, conversation_id, channel, direction, type, content, status, created_at)
      SELECT tenant_id, id, 'webchat', 'inbound', 'text', '{}', 'received', '2071-02-09T08:00:00Z' FROM v
      RETURNING id::text, tenant_id::text, conversation_id::text`;
    // A row of a far month (a forged provider timestamp, from when created_at was one) and a dedupe key past the horizon.
    await db.$executeRaw`
      INSERT INTO messages (tenant_id, conversation_id, channel, direction, type, content, status, created_at)
      VALUES (${seed!.tenant_id}::uuid, ${seed!.conversation_id}::uuid, 'webchat', 'inbound', 'text', '{}', 'received', '2090-06-01T00:00:00Z')`;
    await db.$executeRaw`
      INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id, created_at)
      VALUES (${seed!.tenant_id}::uuid, 'webchat', 'old', gen_random_uuid(), '2071-11-20T00:00:00Z')`;
    const initial = await partitions(); // the migration's current and next month

    const result = await temporal.client.workflow.execute(partitionMaintenance, {
      taskQueue,
      workflowId: `${prefix}-run-1`,
      args: [{ monthsAhead: 2, asOf: '2071-12-05T00:00:00Z' }],
      workflowExecutionTimeout: '1 minute',
    });
    expect(result.moved).toEqual([{ table: 'messages', locked: false, moved: [{ partition: 'messages_p2071_02', rows: 1 }], unmovable: 1 }]);
    expect(result.created[0]?.created).toEqual(['messages_p2071_12', 'messages_p2072_01', 'messages_p2072_02']);
    expect(result.dropped).toEqual([]); // retention off by default
    expect(result.prunedKeys).toEqual({ before: '2071-11-27T00:00:00.000Z', deleted: 1 });
    const [where] = await db.$queryRaw<{ p: string }[]>`SELECT tableoid::regclass::text AS p FROM messages WHERE id = ${seed!.id}::uuid`;
    expect(where?.p).toBe('messages_p2071_02');
    // Only the bounded set: no partition for 2090.
    expect(await partitions()).toEqual([...initial, 'messages_p2071_02', 'messages_p2071_12', 'messages_p2072_01', 'messages_p2072_02'].sort());

    // Retention of 20 months as of 2071-12: 2070-04 onwards stay; everything older (the
    // migration's months) goes.
    const second = await temporal.client.workflow.execute(partitionMaintenance, {
      taskQueue,
      workflowId: `${prefix}-run-2`,
      args: [{ monthsAhead: 2, retentionMonths: 20, asOf: '2071-12-05T00:00:00Z' }],
      workflowExecutionTimeout: '1 minute',
    });
    expect(second.created[0]?.created).toEqual([]);
    expect(second.dropped[0]?.keepFrom).toBe('2070-04');
    expect(second.dropped[0]?.dropped).toEqual(initial.map((partition) => ({ partition, rows: 0 })));
    expect(await partitions()).toEqual(['messages_p2071_02', 'messages_p2071_12', 'messages_p2072_01', 'messages_p2072_02']);
    const events = await db.event.findMany({ where: { subjectType: 'partition' }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['partition.default_rows_moved', 'partition.created', 'partition.dropped']));
  });

  it('two runs at once end in the same state as one', async () => {
    const runs = await Promise.all(
      [1, 2].map((n) =>
        temporal.client.workflow.execute(partitionMaintenance, {
          taskQueue,
          workflowId: `${prefix}-concurrent-${n}`,
          args: [{ monthsAhead: 3, asOf: '2080-11-15T00:00:00Z' }],
          workflowExecutionTimeout: '1 minute',
        }),
      ),
    );
    const created = runs.flatMap((r) => r.created[0]?.created ?? []);
    expect(new Set(created).size).toBe(created.length);
    expect(await partitions()).toEqual(expect.arrayContaining(['messages_p2080_11', 'messages_p2080_12', 'messages_p2081_01', 'messages_p2081_02']));
  });
});

describe('schedules', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  const idPrefix = `test-${randomUUID().slice(0, 8)}-`;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });

  afterAll(async () => {
    for (const id of Object.values(SCHEDULE_IDS)) await temporal.client.schedule.getHandle(`${idPrefix}${id}`).delete().catch(() => undefined);
    await temporal?.close();
  });

  it('creates the schedules with overlap SKIP, and running again only updates them', async () => {
    const first = await ensureSchedules(temporal.client, { idPrefix, taskQueue: `${idPrefix}maintenance`, monthsAhead: 3 });
    expect(first).toEqual({ created: [`${idPrefix}partition-maintenance`, `${idPrefix}integrity-check`, `${idPrefix}document-purge`], updated: [] });

    // An operator pauses one; a changed setting arrives with the next worker start.
    await temporal.client.schedule.getHandle(`${idPrefix}integrity-check`).pause('operator says so');
    const second = await ensureSchedules(temporal.client, { idPrefix, taskQueue: `${idPrefix}maintenance`, monthsAhead: 4, retentionMonths: 24, documentPurgeAfterHours: 48 });
    expect(second).toEqual({ created: [], updated: [`${idPrefix}partition-maintenance`, `${idPrefix}integrity-check`, `${idPrefix}document-purge`] });

    const maintenance = await temporal.client.schedule.getHandle(`${idPrefix}partition-maintenance`).describe();
    expect(maintenance.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(maintenance.action).toMatchObject({ type: 'startWorkflow', workflowType: 'partitionMaintenance', taskQueue: `${idPrefix}maintenance` });
    expect(maintenance.action.type === 'startWorkflow' && maintenance.action.args).toEqual([{ monthsAhead: 4, retentionMonths: 24 }]);
    expect(maintenance.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 17, end: 17, step: 1 }] });

    const integrity = await temporal.client.schedule.getHandle(`${idPrefix}integrity-check`).describe();
    expect(integrity.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(integrity.action).toMatchObject({ type: 'startWorkflow', workflowType: 'integrityCheck' });
    expect(integrity.action.type === 'startWorkflow' && integrity.action.args).toEqual([{ apply: false }]);
    expect(integrity.state.paused).toBe(true); // the operator's pause survives

    // Hourly at :23, purging documents deleted longer ago than DOCUMENT_PURGE_AFTER_HOURS (default 24).
    const purge = await temporal.client.schedule.getHandle(`${idPrefix}document-purge`).describe();
    expect(purge.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(purge.action).toMatchObject({ type: 'startWorkflow', workflowType: 'documentPurge', taskQueue: `${idPrefix}maintenance` });
    expect(purge.action.type === 'startWorkflow' && purge.action.args).toEqual([{ olderThanHours: 48 }]);
    expect(purge.spec.intervals).toEqual([{ every: 60 * 60 * 1000, offset: 23 * 60 * 1000 }]);
    expect(purge.state.paused).toBe(false);
    await ensureSchedules(temporal.client, { idPrefix, taskQueue: `${idPrefix}maintenance`, monthsAhead: 4 });
    const defaults = await temporal.client.schedule.getHandle(`${idPrefix}document-purge`).describe();
    expect(defaults.action.type === 'startWorkflow' && defaults.action.args).toEqual([{ olderThanHours: 24 }]);
  });
});
