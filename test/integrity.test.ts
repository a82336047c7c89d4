// Integrity checks end to end: a database corrupted with raw SQL (constraints dropped first
// where Postgres would refuse the corruption), the admin routes on an app built by buildApp, the
// integrityCheck workflow on a real worker and Temporal dev server. A dry run changes nothing;
// an applied run fixes what it can, audits every change, and a second check is clean.
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { encryptSecret } from '../lib/crypto.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { createTestWorkers } from './support/workers.ts';
import { legacyConversationWorkflowId } from '../workflows/ids.ts';
import type { StoredFinding } from '../workflows/integrity.ts';
import { testConfig } from './support/config.ts';
import { createMigratedDatabase } from './support/database.ts';
import { connectTestTemporal, uniqueQueuePrefix } from './support/temporal.ts';

/** The routes as mounted: the admin scope of /api/v1, behind the admin key. */
const PREFIX = '/api/v1/admin';
let adminHeaders: Record<string, string> = {};

interface ReportBody {
  id: string;
  status: string;
  dryRun: boolean;
  findingCount: number;
  fixedCount: number;
  summary: Record<string, unknown>;
  findings: StoredFinding[];
}

describe('integrity checks', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let db: Db;
  let app: App;
  let workers: Worker[];
  let running: Promise<unknown>;
  const config = testConfig();
  const keyring = config.SECRETS_KEYS;
  const queuePrefix = uniqueQueuePrefix('integrity');
  const openWorkflows: WorkflowHandle[] = [];

  // ---- seeding helpers (raw SQL, as a broken database would have it) ----------------------
  async function tenant(): Promise<string> {
    const [row] = await db.$queryRaw<{ id: string }[]>`INSERT INTO tenants (name, slug) VALUES ('t', gen_random_uuid()::text) RETURNING id::text`;
    return row!.id;
  }

  async function channel(tenantId: string, type: string, publicId: string | null = null): Promise<string> {
    const [row] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO channels (tenant_id, type, name, phone_number_id, page_id)
      VALUES (${tenantId}::uuid, ${type}::channel_type, 'c',
              CASE WHEN ${type} = 'whatsapp' THEN ${publicId} END, CASE WHEN ${type} = 'messenger' THEN ${publicId} END)
      RETURNING id::text`;
    return row!.id;
  }

  async function secret(tenantId: string, channelId: string, name: string, boundTo = channelId): Promise<void> {
    const enc = encryptSecret(keyring, `value-of-${name}`, `${boundTo}:${name}`);
    await db.$executeRaw`
      INSERT INTO channel_secrets (tenant_id, channel_id, name, ciphertext, iv, auth_tag, key_id)
      VALUES (${tenantId}::uuid, ${channelId}::uuid, ${name}, ${Buffer.from(enc.ciphertext)}, ${Buffer.from(enc.iv)}, ${Buffer.from(enc.authTag)}, ${enc.keyId})`;
  }

  async function conversation(tenantId: string, channelId: string, externalUserId: string, status = 'closed'): Promise<string> {
    const [row] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO conversations (tenant_id, channel_id, external_user_id, status)
      VALUES (${tenantId}::uuid, ${channelId}::uuid, ${externalUserId}, ${status}::conversation_status) RETURNING id::text`;
    return row!.id;
  }

  async function message(tenantId: string, conversationId: string, createdAt = new Date().toISOString()): Promise<string> {
    const [row] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO messages (tenant_id, conversation_id, channel, direction, type, content, status, created_at)
      VALUES (${tenantId}::uuid, ${conversationId}::uuid, 'whatsapp', 'inbound', 'text', '{"text":"hi"}', 'received', ${createdAt}::timestamptz)
      RETURNING id::text`;
    return row!.id;
  }

  async function documentWithChunk(tenantId: string, embedded: boolean): Promise<{ documentId: string; chunkId: string }> {
    const [doc] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO documents (tenant_id, document_key, title, mime_type, status, content_hash, size_bytes, chunk_count)
      VALUES (${tenantId}::uuid, gen_random_uuid()::text, 'd', 'text/plain', 'ready', 'h', 1, 1) RETURNING id::text`;
    const [chunk] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_hash, embedding, embedding_model)
      VALUES (${tenantId}::uuid, ${doc!.id}::uuid, 0, 'hello', 'h',
              CASE WHEN ${embedded} THEN '[1,0,0]'::vector END, CASE WHEN ${embedded} THEN 'test-3' END)
      RETURNING id::text`;
    return { documentId: doc!.id, chunkId: chunk!.id };
  }

  /** A fingerprint of every row of every table and of the schema's indexes and constraints. */
  async function fingerprint(): Promise<string> {
    const tables = ['tenants', 'channels', 'channel_secrets', 'conversations', 'messages', 'documents', 'chunks', 'meter_events', 'events', 'api_keys', 'usage'];
    const parts: string[] = [];
    for (const table of tables) {
      const [row] = await db.$queryRawUnsafe<{ h: string | null }[]>(`SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${table} t`);
      parts.push(`${table}:${row?.h}`);
    }
    const [schema] = await db.$queryRaw<{ h: string }[]>`
      SELECT md5(string_agg(n, ',' ORDER BY n)) AS h FROM (
        SELECT relname::text AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace
        UNION ALL SELECT conname::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace) s`;
    return `${parts.join(';')};schema:${schema?.h}`;
  }

  async function runCheck(apply: boolean): Promise<ReportBody> {
    const started = await app.inject({ headers: adminHeaders, method: 'POST', url: `${PREFIX}/integrity-checks`, payload: apply ? { apply: true } : {} });
    expect(started.statusCode).toBe(202);
    const { reportId, workflowId, dryRun } = started.json<{ reportId: string; workflowId: string; dryRun: boolean }>();
    expect(dryRun).toBe(!apply);
    await temporal.client.workflow.getHandle(workflowId).result();
    const res = await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks/${reportId}` });
    expect(res.statusCode).toBe(200);
    return res.json<ReportBody>();
  }

  const byCheck = (report: ReportBody) => Object.fromEntries(report.findings.map((f) => [f.check, f]));

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    const url = await createMigratedDatabase('integrity');
    const appConfig = testConfig({
      DATABASE_URL: url,
      SECRETS_KEYS: `${keyring[0]!.id}:${keyring[0]!.key.toString('base64')}`,
      TEMPORAL_TASK_QUEUE_PREFIX: `${queuePrefix}-`,
    });
    adminHeaders = { authorization: `Bearer ${appConfig.ADMIN_API_KEY}` };
    db = createDb(appConfig, 'integrity-test');
    const logger = createLogger({ level: 'silent', name: 'test' });
    workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['maintenance'],
      tuning: appConfig,
      deps: { db, logger, keyring, temporal: temporal.client, graphApiUrl: 'http://127.0.0.1:9/unused' },
      queueName: (queue) => taskQueueName(appConfig, queue),
    });
    running = Promise.all(workers.map((w) => w.run()));
    app = await buildApp({ config: appConfig, db, temporal: temporal.client, logger });
    await app.ready();
  });

  afterAll(async () => {
    await Promise.all(openWorkflows.map((h) => h.terminate('test over').catch(() => undefined)));
    await app?.close();
    workers?.forEach((w) => w.shutdown());
    await running;
    await db?.$disconnect();
    await temporal?.close();
  });

  it('reports a healthy database as clean', async () => {
    const t = await tenant();
    const wa = await channel(t, 'whatsapp', `pn-${randomUUID()}`);
    await secret(t, wa, 'accessToken');
    await secret(t, wa, 'appSecret');
    const conv = await conversation(t, wa, '+15550001', 'active');
    await message(t, conv);
    await documentWithChunk(t, true);
    // The open conversation has its workflow (no worker polls that queue; it just runs).
    openWorkflows.push(
      await temporal.client.workflow.start('conversation', { taskQueue: `${queuePrefix}-nobody`, workflowId: legacyConversationWorkflowId(t, 'whatsapp', '+15550001') }),
    );

    const report = await runCheck(false);
    expect(report.status).toBe('completed');
    expect(report.findings).toEqual([]);
    expect(report.findingCount).toBe(0);
    expect(Object.keys(report.summary)).toEqual(expect.arrayContaining(['orphan_messages', 'missing_schema_objects', 'open_conversations_without_workflow']));
  });

  it('finds every corruption; a dry run changes nothing; applying fixes it, audited; a second check is clean', async () => {
    const t = await tenant();
    const t2 = await tenant();
    const ghost = randomUUID();

    // Orphans, after dropping the foreign keys that would refuse them.
    await db.$executeRawUnsafe(`
      ALTER TABLE channels DROP CONSTRAINT channels_tenant_id_fkey;
      ALTER TABLE channel_secrets DROP CONSTRAINT channel_secrets_channel_id_fkey;
      ALTER TABLE conversations DROP CONSTRAINT conversations_channel_id_fkey;
      ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey;
      ALTER TABLE documents DROP CONSTRAINT documents_tenant_id_fkey;
      ALTER TABLE chunks DROP CONSTRAINT chunks_document_id_fkey;
      ALTER TABLE meter_events DROP CONSTRAINT meter_events_tenant_id_fkey;
      DROP INDEX chunks_tsv_idx;
      DROP INDEX messages_tenant_id_created_at_idx;`);
    const orphanChannel = await channel(ghost, 'webchat');
    await secret(t, randomUUID(), 'appSecret');
    const webchat = await channel(t, 'webchat');
    const orphanConversation = await conversation(t, randomUUID(), 'lost');
    const orphanMessage = await message(t, randomUUID());
    // Its storage meter's trigger meters the document for the ghost tenant: an orphan meter event.
    const [orphanDocument] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO documents (tenant_id, document_key, title, mime_type, content_hash, size_bytes)
      VALUES (${ghost}::uuid, 'k', 'd', 'text/plain', 'h', 1) RETURNING id::text`;
    const ghostMeter = await db.meterEvent.findFirstOrThrow({ where: { key: `document:${orphanDocument!.id}` } });
    expect(ghostMeter.tenantId).toBe(ghost);
    const [orphanChunk] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_hash) VALUES (${t}::uuid, ${randomUUID()}::uuid, 0, 'x', 'h') RETURNING id::text`;

    // An unknown status, once the column is no longer the enum.
    await db.$executeRawUnsafe('ALTER TABLE documents ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status TYPE text');
    const { documentId: badStatusDoc } = await documentWithChunk(t, true);
    await db.$executeRaw`UPDATE documents SET status = 'half-done' WHERE id = ${badStatusDoc}::uuid`;

    // Duplicate channels and conversations, once their unique indexes are gone.
    await db.$executeRawUnsafe(`
      DROP INDEX channels_type_phone_number_id_key;
      DROP INDEX conversations_tenant_id_channel_id_external_user_id_key;`);
    const phone = `pn-${randomUUID()}`;
    const firstWa = await channel(t, 'whatsapp', phone);
    const dupWa = await channel(t, 'whatsapp', phone);
    for (const c of [firstWa, dupWa]) {
      await secret(t, c, 'accessToken');
      await secret(t, c, 'appSecret');
    }
    const keeper = await conversation(t, webchat, 'dup-user');
    const duplicate = await conversation(t, webchat, 'dup-user');
    // The oldest is kept; rows written within one millisecond would tie (then the id decides).
    await db.$executeRaw`UPDATE conversations SET created_at = now() - interval '1 hour' WHERE id = ${keeper}::uuid`;
    await db.$executeRaw`UPDATE channels SET created_at = now() - interval '1 hour' WHERE id = ${firstWa}::uuid`;
    const movedMessage = await message(t, duplicate);

    // Channels whose secrets are missing or do not decrypt here.
    const messenger = await channel(t, 'messenger', `page-${randomUUID()}`);
    await secret(t, messenger, 'appSecret');
    const stolen = await channel(t, 'whatsapp', `pn-${randomUUID()}`);
    await secret(t, stolen, 'accessToken', firstWa); // a ciphertext copied from another channel
    await secret(t, stolen, 'appSecret');

    // A row in the default partition (last month's, whose partition maintenance has not made),
    // and an open conversation with no workflow.
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 4, 12));
    const lastMonthPartition = `messages_p${lastMonth.getUTCFullYear()}_${String(lastMonth.getUTCMonth() + 1).padStart(2, '0')}`;
    const strayMessage = await message(t, keeper, lastMonth.toISOString());
    const abandoned = await conversation(t, webchat, 'abandoned', 'active');

    // Needs a person: cross-tenant reference, half-embedded ready document, assigned to nobody.
    const crossTenant = await conversation(t2, webchat, 'sneaky');
    // One tenant billed for another's message, on top of the message's own meter event.
    const billedTwice = await message(t, keeper);
    const [crossMeter] = await db.$queryRaw<{ id: string }[]>`
      INSERT INTO meter_events (tenant_id, key, meter, channel, quantity, period)
      VALUES (${t2}::uuid, ${`message:${billedTwice}`}, 'messages', 'whatsapp', 1, date_trunc('month', now())::date) RETURNING id::text`;
    const { documentId: halfEmbedded } = await documentWithChunk(t, false);
    const unassigned = await conversation(t, webchat, 'nobody-home', 'closed');
    await db.$executeRaw`UPDATE conversations SET status = 'assigned_human' WHERE id = ${unassigned}::uuid`;
    openWorkflows.push(
      await temporal.client.workflow.start('conversation', { taskQueue: `${queuePrefix}-nobody`, workflowId: legacyConversationWorkflowId(t, 'webchat', 'nobody-home') }),
    );

    // ---- dry run -----------------------------------------------------------------------
    const before = await fingerprint();
    const dry = await runCheck(false);
    expect(await fingerprint()).toBe(before);
    expect(dry.dryRun).toBe(true);
    expect(dry.fixedCount).toBe(0);
    const found = byCheck(dry);
    expect(found.orphan_channels).toMatchObject({ severity: 'error', count: 1, sampleIds: [orphanChannel], remediation: { kind: 'fix' } });
    expect(found.orphan_channel_secrets?.count).toBe(1);
    expect(found.orphan_conversations?.sampleIds).toEqual([orphanConversation]);
    expect(found.orphan_messages?.sampleIds).toEqual([orphanMessage]);
    expect(found.orphan_documents?.sampleIds).toEqual([orphanDocument!.id]);
    expect(found.orphan_chunks?.sampleIds).toEqual([orphanChunk!.id]);
    // The orphan message's meter event is not an orphan: a deleted message stays billed.
    expect(found.orphan_meter_events).toMatchObject({ severity: 'error', count: 1, sampleIds: [ghostMeter.id], remediation: { kind: 'fix' } });
    expect(found.invalid_statuses).toMatchObject({ count: 1, sampleIds: [`documents:${badStatusDoc}`] });
    expect(found.duplicate_channels).toMatchObject({ count: 1, sampleIds: [`phone_number_id:${dupWa}`] });
    expect(found.duplicate_conversations).toMatchObject({ count: 1, sampleIds: [duplicate] });
    expect(found.channel_secrets_missing).toMatchObject({ count: 1, sampleIds: [messenger], details: { missing: { [messenger]: ['pageAccessToken'] } } });
    expect(found.channel_secrets_undecryptable).toMatchObject({ count: 1, sampleIds: [stolen], details: { undecryptable: { [stolen]: ['accessToken'] } } });
    expect(found.rows_in_default_partition).toMatchObject({ severity: 'warning', count: 1, sampleIds: [`messages:${strayMessage}`] });
    expect(found.open_conversations_without_workflow).toMatchObject({ severity: 'warning', count: 1, sampleIds: [abandoned] });
    expect(found.missing_schema_objects?.sampleIds.sort()).toEqual(
      [
        'channels_tenant_id_fkey',
        'channel_secrets_channel_id_fkey',
        'conversations_channel_id_fkey',
        'messages_conversation_id_fkey',
        'documents_tenant_id_fkey',
        'chunks_document_id_fkey',
        'meter_events_tenant_id_fkey',
        'chunks_tsv_idx',
        'messages_tenant_id_created_at_idx',
        'channels_type_phone_number_id_key',
        'conversations_tenant_id_channel_id_external_user_id_key',
      ].sort(),
    );
    expect(found.cross_tenant_references).toMatchObject({ count: 2, sampleIds: [`conversations:${crossTenant}`, `meter_events:${crossMeter!.id}`], remediation: { kind: 'manual' } });
    expect(found.ready_documents_missing_embeddings).toMatchObject({ count: 1, sampleIds: [halfEmbedded], remediation: { kind: 'manual' } });
    expect(found.assigned_without_assignee).toMatchObject({ count: 1, sampleIds: [unassigned] });
    // The report says nothing secret.
    expect(JSON.stringify(dry)).not.toContain('value-of-');

    // ---- apply -------------------------------------------------------------------------
    const applied = await runCheck(true);
    expect(applied.dryRun).toBe(false);
    const fixed = byCheck(applied);
    for (const check of [
      'orphan_channels', 'orphan_channel_secrets', 'orphan_conversations', 'orphan_messages', 'orphan_documents', 'orphan_chunks', 'orphan_meter_events',
      'invalid_statuses', 'duplicate_channels', 'duplicate_conversations', 'channel_secrets_missing', 'channel_secrets_undecryptable',
      'rows_in_default_partition', 'open_conversations_without_workflow',
    ]) {
      expect({ check, fixed: fixed[check]?.fixed, remaining: fixed[check]?.remaining }).toEqual({ check, fixed: 1, remaining: 0 });
    }
    expect(fixed.missing_schema_objects).toMatchObject({ fixed: 11, remaining: 0 });
    expect(fixed.missing_schema_objects?.fixErrors).toBeUndefined();
    for (const check of ['cross_tenant_references', 'ready_documents_missing_embeddings', 'assigned_without_assignee']) {
      expect(fixed[check]?.remaining).toBe(check === 'cross_tenant_references' ? 2 : 1);
      expect(fixed[check]?.fixed).toBeUndefined();
    }
    expect(applied.fixedCount).toBe(14 + 11);
    // The ghost tenant's meter event is deleted; the deleted message's stays, its tenant billed.
    const meters = await db.meterEvent.findMany({ where: { key: { in: [`document:${orphanDocument!.id}`, `message:${orphanMessage}`] } }, select: { tenantId: true, key: true } });
    expect(meters).toEqual([{ tenantId: t, key: `message:${orphanMessage}` }]);
    expect(await db.$queryRaw`SELECT 1 FROM messages WHERE id = ${orphanMessage}::uuid`).toEqual([]);

    // What changed, precisely.
    const [state] = await db.$queryRaw<{ dup_status: string; dup_phone: string | null; first_status: string; messenger: string; stolen: string; moved_to: string; stray_in: string; abandoned: string; doc_status: string }[]>`
      SELECT (SELECT status::text FROM channels WHERE id = ${dupWa}::uuid) AS dup_status,
             (SELECT phone_number_id FROM channels WHERE id = ${dupWa}::uuid) AS dup_phone,
             (SELECT status::text FROM channels WHERE id = ${firstWa}::uuid) AS first_status,
             (SELECT status::text FROM channels WHERE id = ${messenger}::uuid) AS messenger,
             (SELECT status::text FROM channels WHERE id = ${stolen}::uuid) AS stolen,
             (SELECT conversation_id::text FROM messages WHERE id = ${movedMessage}::uuid) AS moved_to,
             (SELECT tableoid::regclass::text FROM messages WHERE id = ${strayMessage}::uuid) AS stray_in,
             (SELECT status::text FROM conversations WHERE id = ${abandoned}::uuid) AS abandoned,
             (SELECT status FROM documents WHERE id = ${badStatusDoc}::uuid) AS doc_status`;
    expect(state).toEqual({
      dup_status: 'disabled',
      dup_phone: null,
      first_status: 'active',
      messenger: 'disabled',
      stolen: 'disabled',
      moved_to: keeper,
      stray_in: lastMonthPartition,
      abandoned: 'closed',
      doc_status: 'failed',
    });
    const events = await db.event.findMany({ where: { type: 'integrity.fixed' } });
    expect(events.every((e) => (e.payload as { reportId?: string }).reportId === applied.id)).toBe(true);
    expect(events.map((e) => (e.payload as { check: string }).check).sort()).toEqual(
      [
        'orphan_channels', 'orphan_channel_secrets', 'orphan_conversations', 'orphan_messages', 'orphan_documents', 'orphan_chunks', 'orphan_meter_events',
        'invalid_statuses', 'duplicate_channels', 'duplicate_conversations', 'channel_secrets_missing', 'channel_secrets_undecryptable',
        'rows_in_default_partition', 'open_conversations_without_workflow', ...Array<string>(11).fill('missing_schema_objects'),
      ].sort(),
    );
    expect(events.find((e) => e.subjectId === dupWa)?.payload).toMatchObject({ column: 'phone_number_id', previous: phone });

    // ---- idempotent: applying again changes nothing ------------------------------------
    const settled = await fingerprint();
    const again = await runCheck(true);
    expect(again.fixedCount).toBe(0);
    expect(again.findings.map((f) => f.check).sort()).toEqual(['assigned_without_assignee', 'cross_tenant_references', 'ready_documents_missing_embeddings']);
    expect(await fingerprint()).toBe(settled); // no row changed, no event written

    // ---- what needs a person, done by a person; then all clean -------------------------
    await db.$executeRaw`UPDATE conversations SET tenant_id = ${t}::uuid WHERE id = ${crossTenant}::uuid`;
    await db.$executeRaw`DELETE FROM meter_events WHERE id = ${crossMeter!.id}::uuid`;
    await db.$executeRaw`UPDATE chunks SET embedding = '[1,0,0]', embedding_model = 'test-3' WHERE document_id = ${halfEmbedded}::uuid`;
    await db.$executeRaw`UPDATE conversations SET assignee = 'agent-1' WHERE id = ${unassigned}::uuid`;
    const clean = await runCheck(false);
    expect(clean.findings).toEqual([]);
    expect(clean.findingCount).toBe(0);
  });

  it('lists reports newest first, a page at a time, and answers unknown ids in the error envelope', async () => {
    const first = await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks?limit=2` });
    expect(first.statusCode).toBe(200);
    const page1 = first.json<{ items: { id: string; startedAt: string; status: string }[]; nextCursor: string | null }>();
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const second = await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks?limit=100&cursor=${page1.nextCursor}` });
    const page2 = second.json<{ items: { id: string; startedAt: string }[]; nextCursor: string | null }>();
    expect(page2.nextCursor).toBeNull();
    const all = [...page1.items, ...page2.items];
    expect(all).toHaveLength(5);
    expect(new Set(all.map((r) => r.id)).size).toBe(5);
    expect(all.map((r) => r.startedAt)).toEqual([...all.map((r) => r.startedAt)].sort().reverse());

    const missing = await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks/${randomUUID()}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found', requestId: expect.any(String) } });
    expect((await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks/not-a-uuid` })).statusCode).toBe(400);
    expect((await app.inject({ headers: adminHeaders, method: 'GET', url: `${PREFIX}/integrity-checks?cursor=bogus` })).json()).toMatchObject({ error: { code: 'invalid_cursor' } });
    expect((await app.inject({ headers: adminHeaders, method: 'POST', url: `${PREFIX}/integrity-checks`, payload: { apply: 'yes' } })).statusCode).toBe(400);
  });
});
