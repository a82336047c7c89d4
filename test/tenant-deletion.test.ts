// Deleting a tenant leaves nothing behind outside Postgres either: its running workflows (a
// conversation, an ingestion) are terminated and its stored files deleted by the tenantCleanup
// workflow on a real maintenance worker, while another tenant's stay; a second pass catches a
// conversation and a file that arrive after the first; Temporal unreachable → 503 and nothing
// deleted; a cleanup for a tenant that still exists touches nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { pino } from 'pino';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantCleanupActivities } from '../activities/tenant-cleanup.ts';
import { signalInbound } from '../api/conversation-signal.ts';
import { buildApp, type App } from '../api/app.ts';
import type { Config } from '../lib/config.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createDocumentStorage, type DocumentStorage } from '../lib/storage.ts';
import { createTemporalClient, taskQueueName } from '../lib/temporal.ts';
import { createTenant } from '../lib/tenants.ts';
import { createTestWorkers } from './support/workers.ts';
import { tenantCleanup, tenantCleanupWorkflowId } from '../workflows/tenant-cleanup.ts';
import { eventually, text } from './support/conversations.ts';
import { testConfig } from './support/config.ts';
import { createMigratedDatabase } from './support/database.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('tenant deletion', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let config: Config;
  let db: Db;
  let app: App;
  let storage: DocumentStorage;
  let storageDir: string;
  let workers: Worker[];
  let running: Promise<unknown>;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    storageDir = await mkdtemp(join(tmpdir(), 'metachat-tenant-deletion-'));
    config = testConfig({
      DATABASE_URL: await createMigratedDatabase('tenant_deletion'),
      TEMPORAL_TASK_QUEUE_PREFIX: `tenant-deletion-${randomBytes(4).toString('hex')}-`,
      DOCUMENT_STORAGE_DIR: storageDir,
    });
    db = createDb(config, 'tenant-deletion-test');
    storage = createDocumentStorage(config);
    // Only the maintenance queue is served: conversations and ingestions stay running until ended.
    workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['maintenance'],
      tuning: config,
      deps: { db, logger: pino({ level: 'silent' }), keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: config.META_GRAPH_API_URL, documentStorage: storage },
      queueName: (q) => taskQueueName(config, q),
    });
    running = Promise.all(workers.map((w) => w.run()));
    app = await buildApp({ config, db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    await app.ready();
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    for (const w of workers ?? []) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await db?.$disconnect();
    await temporal?.close();
    await rm(storageDir, { recursive: true, force: true });
  });

  /** A tenant with a stored document whose ingestion is running and a running conversation. */
  async function busyTenant() {
    const { tenant, apiKey } = await createTenant(db, { name: 'Busy', slug: `busy-${randomBytes(5).toString('hex')}` });
    const res = await app.inject({ method: 'POST', url: '/api/v1/documents', headers: { authorization: `Bearer ${apiKey.key}` }, payload: { title: 'Hours', content: 'Open at nine.', format: 'text' } });
    expect(res.statusCode, res.body).toBe(202);
    const ingestion = (res.json() as { workflowId: string }).workflowId;
    const conversation = await startConversation(tenant.id);
    return { tenantId: tenant.id, ingestion, conversation };
  }

  /** A conversation started the way the webhooks start one; no worker serves it, so it keeps running. */
  async function startConversation(tenantId: string): Promise<string> {
    const externalUserId = `1555${randomBytes(4).readUInt32BE() % 1e7}`;
    const channelId = randomUUID();
    await signalInbound({ temporal: temporal.client, config }, { tenantId, channel: 'whatsapp', channelId, externalUserId, messages: [text('hello')] });
    return `conversation:${tenantId}:${channelId}:${externalUserId}`;
  }

  const status = async (workflowId: string) => (await temporal.client.workflow.getHandle(workflowId).describe()).status.name;
  const files = (tenantId: string) => readdir(join(storageDir, tenantId)).catch(() => null);

  it('terminates the tenant\'s running workflows and deletes its files; another tenant keeps its own', async () => {
    const doomed = await busyTenant();
    const other = await busyTenant();
    expect(await files(doomed.tenantId)).toHaveLength(1);
    for (const id of [doomed.ingestion, doomed.conversation]) expect(await status(id)).toBe('RUNNING');

    const res = await app.inject({ method: 'DELETE', url: `/api/v1/tenants/${doomed.tenantId}`, headers: { authorization: `Bearer ${config.ADMIN_API_KEY}` } });
    expect(res.statusCode, res.body).toBe(204);
    expect(await db.tenant.count({ where: { id: doomed.tenantId } })).toBe(0);

    await eventually(async () => (await status(doomed.ingestion)) === 'TERMINATED' && (await status(doomed.conversation)) === 'TERMINATED', 30_000, 'the workflows terminated');
    await eventually(async () => (await files(doomed.tenantId)) === null, 30_000, 'the files deleted');
    expect(await status(tenantCleanupWorkflowId(doomed.tenantId))).toBe('RUNNING'); // its second pass is yet to come

    for (const id of [other.ingestion, other.conversation]) expect(await status(id)).toBe('RUNNING');
    expect(await files(other.tenantId)).toHaveLength(1);
    for (const id of [other.ingestion, other.conversation, tenantCleanupWorkflowId(doomed.tenantId)]) await temporal.client.workflow.getHandle(id).terminate('test done');
  });

  it('catches, in its second pass, a conversation and a file that arrived after the first', async () => {
    const late = await busyTenant();
    await db.tenant.delete({ where: { id: late.tenantId } });
    const handle = await temporal.client.workflow.start(tenantCleanup, {
      workflowId: tenantCleanupWorkflowId(late.tenantId),
      taskQueue: taskQueueName(config, 'maintenance'),
      args: [{ tenantId: late.tenantId, settleSeconds: 5 }],
    });
    await eventually(async () => (await files(late.tenantId)) === null, 30_000, 'the first pass');
    // What an API process with a cached channel, or an activity still finishing, might add meanwhile.
    const straggler = await startConversation(late.tenantId);
    const plan = await storage.put(late.tenantId, `${randomUUID()}.chunks.json`, Buffer.from('[]'));
    expect(plan.startsWith(`${late.tenantId}/`)).toBe(true);

    expect(await handle.result()).toEqual({ state: 'cleaned', stopped: 3 });
    expect(await status(straggler)).toBe('TERMINATED');
    expect(await files(late.tenantId)).toBeNull();
  });

  it('answers 503 and deletes nothing when Temporal cannot take the cleanup', async () => {
    const { tenant } = await createTenant(db, { name: 'Kept', slug: `kept-${randomBytes(5).toString('hex')}` });
    await storage.put(tenant.id, randomUUID(), Buffer.from('a document'));
    const offline = testConfig({ DATABASE_URL: config.DATABASE_URL, DOCUMENT_STORAGE_DIR: storageDir, TEMPORAL_ADDRESS: `127.0.0.1:${await getPort()}` });
    const client = createTemporalClient(offline);
    const offlineApp = await buildApp({ config: offline, db, temporal: client, logger: pino({ level: 'silent' }) });
    try {
      const res = await offlineApp.inject({ method: 'DELETE', url: `/api/v1/tenants/${tenant.id}`, headers: { authorization: `Bearer ${offline.ADMIN_API_KEY}` } });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json().error).toMatchObject({ code: 'temporal_unavailable', message: expect.stringContaining('nothing was deleted') });
    } finally {
      await offlineApp.close();
      await client.connection.close();
    }
    expect(await db.tenant.count({ where: { id: tenant.id } })).toBe(1);
    expect(await files(tenant.id)).toHaveLength(1);
  });

  it('touches nothing of a tenant that still exists (a deletion rolled back)', async () => {
    const { tenant } = await createTenant(db, { name: 'Alive', slug: `alive-${randomBytes(5).toString('hex')}` });
    const activities = createTenantCleanupActivities({ db, temporal: temporal.client, logger: pino({ level: 'silent' }), storage });
    await expect(activities.confirmTenantDeleted({ tenantId: tenant.id })).rejects.toMatchObject({ type: 'TenantStillExists', nonRetryable: false });
    await db.tenant.delete({ where: { id: tenant.id } });
    await expect(activities.confirmTenantDeleted({ tenantId: tenant.id })).resolves.toBeUndefined();
    // Deleting files twice, or a tenant that never stored any, is no error.
    await activities.deleteTenantFiles({ tenantId: tenant.id });
    await activities.deleteTenantFiles({ tenantId: tenant.id });
    await expect(activities.confirmTenantDeleted({ tenantId: 'x\' OR TenantId != \'' })).rejects.toMatchObject({ type: 'InvalidTenantId' });
  });
});
