// Integrity checks: find broken data before a user does, and fix it only when an operator says
// so. Every check reports a name, a severity, a count and sample ids; a check that can be fixed
// says exactly what its fix changes. Fixes re-evaluate their own condition when they run (so
// applying twice changes nothing the second time), run in the order of CHECKS (parents before
// children, data before the constraints that need clean data), and write one `events` row per
// changed row or object (type `integrity.fixed`, payload: check, action, reportId).
//
// No secret value is ever read into a finding, an event or a log line: the secret checks name
// channels and secret names only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ChannelStatus, ConversationStatus, DocumentStatus, MessageStatus, Prisma } from '../generated/prisma/client.ts';
import { decryptSecret, type Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { PROJECT_ROOT } from '../lib/project-root.ts';
import { legacyConversationWorkflowId, type ChannelKind } from '../workflows/ids.ts';
import { countDefaultPartitionRows, createPartitionsAhead, drainDefaultPartitions, findMissingPartitions, MONTHS_BACK, PARTITIONED_TABLES, PARTITIONED_TABLE_NAMES } from './maintenance.ts';

export type Severity = 'info' | 'warning' | 'error';

export interface IntegrityFinding {
  check: string;
  severity: Severity;
  /** Rows (or objects) affected. */
  count: number;
  /** Up to SAMPLE_SIZE ids; `table:id` where a check spans tables. */
  sampleIds: string[];
  description: string;
  /** What applying would change ('fix'), or what a person has to do ('manual'). */
  remediation: { kind: 'fix' | 'manual'; action: string };
  details?: Record<string, unknown>;
}

export interface IntegrityFixResult {
  check: string;
  fixed: number;
  /** Fix steps that failed (e.g. a constraint that still finds bad rows); nothing secret. */
  errors: string[];
}

export const SAMPLE_SIZE = 20;
/** Non-closed conversations whose workflow is looked up in Temporal, at most, per run. */
export const WORKFLOW_SAMPLE_SIZE = 200;

/** Secrets a channel cannot work without, by channel type. */
export const REQUIRED_CHANNEL_SECRETS: Partial<Record<ChannelKind, readonly string[]>> = {
  whatsapp: ['accessToken', 'appSecret'],
  messenger: ['pageAccessToken', 'appSecret'],
  instagram: ['pageAccessToken', 'appSecret'],
};

export interface IntegrityDependencies {
  db: Db;
  logger: Logger;
  keyring: Keyring;
  temporal: Client;
}

interface Context extends IntegrityDependencies {
  reportId: string;
}

interface Found {
  count: number;
  sampleIds: string[];
  details?: Record<string, unknown>;
}

interface CheckDefinition {
  name: string;
  severity: Severity | ((found: Found) => Severity);
  description: string;
  find(ctx: IntegrityDependencies): Promise<Found>;
  fix?: { action: string; apply(ctx: Context): Promise<Omit<IntegrityFixResult, 'check'>> };
  manual?: string;
}

// ---------------------------------------------------------------------------------------------
// SQL helpers. Table and column names below are literals of this file; values are parameters.

/** Count and sample of the rows `query` selects (its first column must be `id`). */
async function countAndSample(db: Db, query: Prisma.Sql): Promise<Found> {
  const rows = await db.$queryRaw<{ id: string; total: bigint }[]>`
    SELECT q.id::text AS id, count(*) OVER () AS total FROM (${query}) q ORDER BY 1 LIMIT ${SAMPLE_SIZE}`;
  return { count: Number(rows[0]?.total ?? 0), sampleIds: rows.map((r) => r.id) };
}

function merge(parts: { prefix: string; found: Found }[]): Found {
  return {
    count: parts.reduce((n, p) => n + p.found.count, 0),
    sampleIds: parts.flatMap((p) => p.found.sampleIds.map((id) => `${p.prefix}:${id}`)).slice(0, SAMPLE_SIZE),
    details: Object.fromEntries(parts.map((p) => [p.prefix, p.found.count])),
  };
}

/**
 * Runs `change` (a data-modifying CTE named `fixed` returning id and tenant_id) and records an
 * integrity.fixed event per changed row, in one statement.
 */
async function fixAudited(ctx: Context, check: string, subjectType: string, action: string, change: Prisma.Sql, extra: Prisma.Sql = Prisma.sql`'{}'::jsonb`): Promise<number> {
  return ctx.db.$executeRaw`
    WITH fixed AS (${change})
    INSERT INTO events (tenant_id, type, subject_type, subject_id, payload)
    SELECT (SELECT t.id FROM tenants t WHERE t.id = fixed.tenant_id), 'integrity.fixed', ${subjectType}, fixed.id::text,
           jsonb_build_object('check', ${check}::text, 'action', ${action}::text, 'reportId', ${ctx.reportId}::text) || ${extra}
    FROM fixed`;
}

async function auditObject(ctx: Context, check: string, subjectType: string, subjectId: string, action: string): Promise<void> {
  await ctx.db.$executeRaw`
    INSERT INTO events (type, subject_type, subject_id, payload)
    VALUES ('integrity.fixed', ${subjectType}, ${subjectId},
            jsonb_build_object('check', ${check}::text, 'action', ${action}::text, 'reportId', ${ctx.reportId}::text))`;
}

function orphanCheck(name: string, table: string, subjectType: string, description: string, orphan: Prisma.Sql): CheckDefinition {
  const tableSql = Prisma.raw(`"${table}"`);
  return {
    name,
    severity: 'error',
    description,
    find: ({ db }) => countAndSample(db, Prisma.sql`SELECT x.id FROM ${tableSql} x WHERE ${orphan}`),
    fix: {
      action: `delete the ${table} rows listed`,
      apply: async (ctx) => ({
        fixed: await fixAudited(ctx, name, subjectType, 'deleted', Prisma.sql`DELETE FROM ${tableSql} x WHERE ${orphan} RETURNING x.id, x.tenant_id`),
        errors: [],
      }),
    },
  };
}

const noTenant = Prisma.sql`NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = x.tenant_id)`;

// ---------------------------------------------------------------------------------------------
// Statuses

const STATUS_COLUMNS = [
  { table: 'conversations', column: 'status', valid: Object.values(ConversationStatus) as string[], fixTo: 'closed' },
  { table: 'documents', column: 'status', valid: Object.values(DocumentStatus) as string[], fixTo: 'failed' },
  { table: 'messages', column: 'status', valid: Object.values(MessageStatus) as string[], fixTo: 'failed' },
  { table: 'channels', column: 'status', valid: Object.values(ChannelStatus) as string[], fixTo: 'disabled' },
] as const;

function invalidStatus(column: (typeof STATUS_COLUMNS)[number]): Prisma.Sql {
  // ::text works whatever the column's type became (an enum column never has such rows).
  return Prisma.sql`(x.${Prisma.raw(`"${column.column}"`)}::text <> ALL(${column.valid}::text[]))`;
}

// ---------------------------------------------------------------------------------------------
// Channels' secrets (decrypted in this process; only names and ids leave it)

interface SecretProblem {
  channelId: string;
  missing: string[];
  undecryptable: string[];
}

async function scanChannelSecrets({ db, keyring }: IntegrityDependencies): Promise<SecretProblem[]> {
  const types = Object.keys(REQUIRED_CHANNEL_SECRETS);
  const problems: SecretProblem[] = [];
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const channels = await db.$queryRaw<{ id: string; type: ChannelKind }[]>`
      SELECT id::text, type::text AS type FROM channels
      WHERE status::text = 'active' AND type::text = ANY(${types}::text[]) AND id > ${after}::uuid
      ORDER BY id LIMIT 500`;
    if (channels.length === 0) return problems;
    after = channels[channels.length - 1]!.id;
    const secrets = await db.$queryRaw<{ channel_id: string; name: string; ciphertext: Uint8Array; iv: Uint8Array; auth_tag: Uint8Array; key_id: string }[]>`
      SELECT channel_id::text, name, ciphertext, iv, auth_tag, key_id FROM channel_secrets
      WHERE channel_id = ANY(${channels.map((c) => c.id)}::uuid[])`;
    for (const channel of channels) {
      const own = secrets.filter((s) => s.channel_id === channel.id);
      const required = REQUIRED_CHANNEL_SECRETS[channel.type] ?? [];
      const missing = required.filter((name) => !own.some((s) => s.name === name));
      const undecryptable = own
        .filter((s) => {
          try {
            decryptSecret(keyring, { ciphertext: s.ciphertext, iv: s.iv, authTag: s.auth_tag, keyId: s.key_id }, `${channel.id}:${s.name}`);
            return false;
          } catch {
            return true;
          }
        })
        .map((s) => s.name);
      if (missing.length || undecryptable.length) problems.push({ channelId: channel.id, missing, undecryptable });
    }
  }
}

async function disableChannels(ctx: Context, check: string, problems: { channelId: string; names: string[] }[]): Promise<number> {
  let fixed = 0;
  for (const { channelId, names } of problems) {
    fixed += await fixAudited(
      ctx,
      check,
      'channel',
      'disabled',
      Prisma.sql`UPDATE channels x SET status = 'disabled', updated_at = now() WHERE x.id = ${channelId}::uuid AND x.status::text = 'active' RETURNING x.id, x.tenant_id`,
      Prisma.sql`jsonb_build_object('secretNames', ${names}::text[])`,
    );
  }
  return fixed;
}

/** Active webhook endpoints whose signing secret does not decrypt (ids only; the secret stays here). */
async function undecryptableWebhookSecrets({ db, keyring }: IntegrityDependencies): Promise<string[]> {
  const bad: string[] = [];
  for (let after: string | undefined; ; ) {
    const rows = await db.webhookEndpoint.findMany({
      where: { status: 'active', ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: 'asc' },
      take: 500,
      select: { id: true, secretCiphertext: true, secretIv: true, secretAuthTag: true, secretKeyId: true },
    });
    if (rows.length === 0) return bad;
    for (const r of rows) {
      try {
        decryptSecret(keyring, { ciphertext: r.secretCiphertext, iv: r.secretIv, authTag: r.secretAuthTag, keyId: r.secretKeyId }, `webhook:${r.id}`);
      } catch {
        bad.push(r.id);
      }
    }
    after = rows.at(-1)!.id;
  }
}

// ---------------------------------------------------------------------------------------------
// Schema objects the migrations create

export interface ExpectedSchemaObject {
  kind: 'index' | 'constraint';
  name: string;
  table: string;
  /** The migration's statement that (re)creates it. */
  statement: string;
}

const MIGRATIONS_DIR = join(PROJECT_ROOT, 'prisma', 'migrations');

/**
 * Indexes and constraints the migrations create (and do not drop later), read from their SQL in
 * order; the statements come from this repository, never from input.
 */
export function expectedSchemaObjects(migrationsDir = MIGRATIONS_DIR): ExpectedSchemaObject[] {
  const objects = new Map<string, ExpectedSchemaObject>();
  const dirs = readdirSync(migrationsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  for (const dir of dirs) {
    const sql = readFileSync(join(migrationsDir, dir, 'migration.sql'), 'utf8').replace(/--[^\n]*/g, '');
    const events: { at: number; apply: () => void }[] = [];
    for (const m of sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?"([^"]+)" \(([\s\S]*?)\n\)[^;]*;/g)) {
      for (const c of m[2]!.matchAll(/CONSTRAINT "([^"]+)" (PRIMARY KEY|UNIQUE) (\([^)]*\))/g)) {
        const object: ExpectedSchemaObject = { kind: 'constraint', name: c[1]!, table: m[1]!, statement: `ALTER TABLE "${m[1]}" ADD CONSTRAINT "${c[1]}" ${c[2]} ${c[3]}` };
        events.push({ at: m.index!, apply: () => objects.set(c[1]!, object) });
      }
    }
    for (const m of sql.matchAll(/CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?"([^"]+)" ON "([^"]+)"[^;]*/g)) {
      const object: ExpectedSchemaObject = { kind: 'index', name: m[1]!, table: m[2]!, statement: m[0].trim() };
      events.push({ at: m.index!, apply: () => objects.set(m[1]!, object) });
    }
    for (const m of sql.matchAll(/ALTER TABLE "([^"]+)" ADD CONSTRAINT "([^"]+)"[^;]*/g)) {
      const object: ExpectedSchemaObject = { kind: 'constraint', name: m[2]!, table: m[1]!, statement: m[0].trim() };
      events.push({ at: m.index!, apply: () => objects.set(m[2]!, object) });
    }
    for (const m of sql.matchAll(/DROP INDEX (?:IF EXISTS )?"([^"]+)"|DROP CONSTRAINT (?:IF EXISTS )?"([^"]+)"/g)) {
      events.push({ at: m.index!, apply: () => objects.delete((m[1] ?? m[2])!) });
    }
    for (const e of events.sort((a, b) => a.at - b.at)) e.apply();
  }
  return [...objects.values()];
}

async function missingSchemaObjects(db: Db): Promise<ExpectedSchemaObject[]> {
  const expected = expectedSchemaObjects();
  const present = await db.$queryRaw<{ kind: string; name: string }[]>`
    SELECT 'index' AS kind, relname AS name FROM pg_class
    WHERE relkind IN ('i', 'I') AND relnamespace = current_schema()::regnamespace
    UNION ALL
    SELECT 'constraint', conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`;
  const have = new Set(present.map((p) => `${p.kind}:${p.name}`));
  return expected.filter((o) => !have.has(`${o.kind}:${o.name}`));
}

// ---------------------------------------------------------------------------------------------
// Conversations the database calls open but Temporal runs no workflow for

async function conversationsWithoutWorkflow(temporal: Client, rows: { id: string; workflow_id: string }[]): Promise<string[]> {
  const missing: string[] = [];
  const queue = [...rows];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        try {
          const description = await temporal.workflow.getHandle(row.workflow_id).describe();
          if (description.status.name !== 'RUNNING') missing.push(row.id);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) missing.push(row.id);
          else throw err;
        }
      }
    }),
  );
  return missing.sort();
}

async function openConversations(db: Db, where: Prisma.Sql, limit: number): Promise<{ total: number; rows: { id: string; workflow_id: string }[] }> {
  const [count] = await db.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM conversations x WHERE x.status::text <> 'closed' AND ${where}`;
  const total = Number(count?.total ?? 0);
  // Every one when few; when many, the stalest ones (likeliest abandoned). Deterministic, so an
  // applied run looks at the very conversations its dry run listed; once they are closed the
  // next run's sample moves on to the next stalest.
  const rows = await db.$queryRaw<{ id: string; tenant_id: string; type: ChannelKind; external_user_id: string; workflow_id: string | null }[]>`
    SELECT x.id::text, x.tenant_id::text, ch.type::text AS type, x.external_user_id, x.workflow_id
    FROM conversations x JOIN channels ch ON ch.id = x.channel_id
    WHERE x.status::text <> 'closed' AND ${where} ORDER BY x.last_message_at ASC NULLS FIRST, x.id LIMIT ${limit}`;
  return {
    total,
    // A row without a stored id is from before the workflow stored it: its run had the per-type id.
    rows: rows.map((r) => ({ id: r.id, workflow_id: r.workflow_id ?? legacyConversationWorkflowId(r.tenant_id, r.type, r.external_user_id) })),
  };
}

// ---------------------------------------------------------------------------------------------
// The checks, in fix order

const CHECKS: CheckDefinition[] = [
  orphanCheck('orphan_channels', 'channels', 'channel', 'Channels whose tenant does not exist', noTenant),
  orphanCheck(
    'orphan_channel_secrets',
    'channel_secrets',
    'channel_secret',
    'Channel secrets whose channel or tenant does not exist',
    Prisma.sql`(${noTenant} OR NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = x.channel_id))`,
  ),
  orphanCheck(
    'orphan_conversations',
    'conversations',
    'conversation',
    'Conversations whose channel or tenant does not exist',
    Prisma.sql`(${noTenant} OR NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = x.channel_id))`,
  ),
  orphanCheck(
    'orphan_messages',
    'messages',
    'message',
    'Messages whose conversation or tenant does not exist',
    Prisma.sql`(${noTenant} OR NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = x.conversation_id))`,
  ),
  orphanCheck('orphan_documents', 'documents', 'document', 'Documents whose tenant does not exist', noTenant),
  orphanCheck(
    'orphan_chunks',
    'chunks',
    'chunk',
    'Chunks whose document or tenant does not exist',
    Prisma.sql`(${noTenant} OR NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = x.document_id))`,
  ),
  // A meter event outlives its source row on purpose: a message or document version deleted after
  // it was metered (erasure, retention, purge) stays billed, so a `message:<id>` or `document:<id>`
  // key naming a row that is gone is normal and kept. Only a meter event whose tenant does not
  // exist is an orphan (tenant deletion cascades to meter_events, so it means that foreign key was
  // dropped or bypassed): no one can be billed for it, and the usage report, which joins the
  // tenant's billing account, never sends it to Stripe.
  orphanCheck(
    'orphan_meter_events',
    'meter_events',
    'meter_event',
    'Meter events whose tenant does not exist (those of a deleted message or document stay: it was billed)',
    noTenant,
  ),
  {
    name: 'cross_tenant_references',
    severity: 'error',
    description: "Rows whose tenant differs from their parent's tenant (one tenant's data reachable from another's)",
    manual: 'Find out which tenant the rows belong to and correct tenant_id or the parent reference; nothing is changed automatically',
    find: async ({ db }) =>
      merge([
        { prefix: 'conversations', found: await countAndSample(db, Prisma.sql`SELECT x.id FROM conversations x JOIN channels p ON p.id = x.channel_id WHERE p.tenant_id <> x.tenant_id`) },
        { prefix: 'channel_secrets', found: await countAndSample(db, Prisma.sql`SELECT x.id FROM channel_secrets x JOIN channels p ON p.id = x.channel_id WHERE p.tenant_id <> x.tenant_id`) },
        { prefix: 'messages', found: await countAndSample(db, Prisma.sql`SELECT x.id FROM messages x JOIN conversations p ON p.id = x.conversation_id WHERE p.tenant_id <> x.tenant_id`) },
        { prefix: 'chunks', found: await countAndSample(db, Prisma.sql`SELECT x.id FROM chunks x JOIN documents p ON p.id = x.document_id WHERE p.tenant_id <> x.tenant_id`) },
        // A meter event bills its tenant for the message or document version its key names (the
        // triggers of the billing migration write these keys).
        {
          prefix: 'meter_events',
          found: await countAndSample(
            db,
            Prisma.sql`SELECT x.id FROM meter_events x JOIN messages p ON x.key = 'message:' || p.id::text WHERE x.meter = 'messages' AND p.tenant_id <> x.tenant_id
                       UNION ALL
                       SELECT x.id FROM meter_events x JOIN documents p ON x.key = 'document:' || p.id::text WHERE x.meter = 'storage_bytes' AND p.tenant_id <> x.tenant_id`,
          ),
        },
      ]),
  },
  {
    name: 'invalid_statuses',
    severity: 'error',
    description: 'Rows whose status is not one the platform knows (possible once a column lost its enum type)',
    find: async ({ db }) =>
      merge(
        await Promise.all(
          STATUS_COLUMNS.map(async (c) => ({
            prefix: c.table,
            found: await countAndSample(db, Prisma.sql`SELECT x.id FROM ${Prisma.raw(`"${c.table}"`)} x WHERE ${invalidStatus(c)}`),
          })),
        ),
      ),
    fix: {
      action: `set the fail-safe status: ${STATUS_COLUMNS.map((c) => `${c.table} → ${c.fixTo}`).join(', ')}`,
      apply: async (ctx) => {
        let fixed = 0;
        for (const c of STATUS_COLUMNS) {
          const table = Prisma.raw(`"${c.table}"`);
          fixed += await fixAudited(
            ctx,
            'invalid_statuses',
            c.table.replace(/s$/, ''),
            `status set to ${c.fixTo}`,
            Prisma.sql`UPDATE ${table} x SET status = ${Prisma.raw(`'${c.fixTo}'`)}, updated_at = now()
                       FROM ${table} old WHERE old.id = x.id AND ${invalidStatus(c)} RETURNING x.id, x.tenant_id, old.status::text AS previous`,
            Prisma.sql`jsonb_build_object('previous', fixed.previous)`,
          );
        }
        return { fixed, errors: [] };
      },
    },
  },
  {
    name: 'assigned_without_assignee',
    severity: 'warning',
    description: 'Conversations assigned to a human agent with no assignee recorded',
    manual: 'Assign an agent or release the conversation through the API (the conversation workflow owns this state)',
    find: ({ db }) => countAndSample(db, Prisma.sql`SELECT x.id FROM conversations x WHERE x.status::text = 'assigned_human' AND x.assignee IS NULL`),
  },
  {
    name: 'duplicate_channels',
    severity: 'error',
    description: 'Channels sharing a public id (phone number id, page id, widget id or verify token) with an older channel of the same type',
    find: async ({ db }) =>
      merge(
        await Promise.all(
          DEDUPED_CHANNEL_COLUMNS.map(async (col) => ({
            prefix: col,
            found: await countAndSample(db, duplicateChannels(col, Prisma.sql`SELECT id`)),
          })),
        ),
      ),
    fix: {
      action: 'keep the oldest channel; on each newer duplicate clear the shared id and disable the channel (the old value is kept in the audit event, verify tokens excepted)',
      apply: async (ctx) => {
        let fixed = 0;
        for (const col of DEDUPED_CHANNEL_COLUMNS) {
          const column = Prisma.raw(`"${col}"`);
          const previous = col === 'verify_token_hash' ? Prisma.sql`NULL::text` : Prisma.sql`d.${column}::text`;
          fixed += await fixAudited(
            ctx,
            'duplicate_channels',
            'channel',
            `${col} cleared, channel disabled`,
            Prisma.sql`UPDATE channels x SET ${column} = NULL, status = 'disabled', updated_at = now()
                       FROM (${duplicateChannels(col, Prisma.sql`SELECT id, ${previous} AS previous`)}) d
                       WHERE x.id = d.id RETURNING x.id, x.tenant_id, d.previous`,
            Prisma.sql`jsonb_build_object('column', ${col}::text, 'previous', fixed.previous)`,
          );
        }
        return { fixed, errors: [] };
      },
    },
  },
  {
    name: 'duplicate_conversations',
    severity: 'error',
    description: 'Conversations repeating (tenant, channel, external user) of an older one',
    find: ({ db }) => countAndSample(db, duplicateConversations(Prisma.sql`SELECT id`)),
    fix: {
      action: 'move their messages to the oldest conversation of the same user, then delete them',
      apply: async (ctx) => {
        const fixed = await ctx.db.$transaction(async (tx) => {
          const pairs = await tx.$queryRaw<{ id: string; keeper: string }[]>`${duplicateConversations(Prisma.sql`SELECT id::text, keeper::text`)}`;
          if (pairs.length === 0) return 0;
          const ids = pairs.map((p) => p.id);
          const keepers = pairs.map((p) => p.keeper);
          await tx.$executeRaw`
            UPDATE messages m SET conversation_id = p.keeper
            FROM unnest(${ids}::uuid[], ${keepers}::uuid[]) AS p(id, keeper) WHERE m.conversation_id = p.id`;
          await tx.$executeRaw`
            UPDATE conversations k SET last_message_at = GREATEST(k.last_message_at, d.last_message_at),
                                       last_inbound_at = GREATEST(k.last_inbound_at, d.last_inbound_at)
            FROM (SELECT p.keeper, max(c.last_message_at) AS last_message_at, max(c.last_inbound_at) AS last_inbound_at
                  FROM unnest(${ids}::uuid[], ${keepers}::uuid[]) AS p(id, keeper) JOIN conversations c ON c.id = p.id GROUP BY p.keeper) d
            WHERE k.id = d.keeper`;
          return tx.$executeRaw`
            WITH fixed AS (
              DELETE FROM conversations x USING unnest(${ids}::uuid[], ${keepers}::uuid[]) AS p(id, keeper)
              WHERE x.id = p.id RETURNING x.id, x.tenant_id, p.keeper)
            INSERT INTO events (tenant_id, type, subject_type, subject_id, payload)
            SELECT (SELECT t.id FROM tenants t WHERE t.id = fixed.tenant_id), 'integrity.fixed', 'conversation', fixed.id::text,
                   jsonb_build_object('check', 'duplicate_conversations', 'action', 'merged into keeper, deleted',
                                      'keeper', fixed.keeper::text, 'reportId', ${ctx.reportId}::text)
            FROM fixed`;
        });
        return { fixed, errors: [] };
      },
    },
  },
  {
    name: 'channel_secrets_missing',
    severity: 'error',
    description: `Active channels without a secret they need (${Object.entries(REQUIRED_CHANNEL_SECRETS).map(([t, n]) => `${t}: ${n.join(', ')}`).join('; ')})`,
    find: async (deps) => {
      const problems = (await scanChannelSecrets(deps)).filter((p) => p.missing.length);
      return {
        count: problems.length,
        sampleIds: problems.slice(0, SAMPLE_SIZE).map((p) => p.channelId),
        details: { missing: Object.fromEntries(problems.slice(0, SAMPLE_SIZE).map((p) => [p.channelId, p.missing])) },
      };
    },
    fix: {
      action: 'disable the channels listed (they cannot verify webhooks or send); the tenant re-enters the secret and enables them again',
      apply: async (ctx) => ({
        fixed: await disableChannels(ctx, 'channel_secrets_missing', (await scanChannelSecrets(ctx)).filter((p) => p.missing.length).map((p) => ({ channelId: p.channelId, names: p.missing }))),
        errors: [],
      }),
    },
  },
  {
    name: 'channel_secrets_undecryptable',
    severity: 'error',
    description: 'Active channels with a secret that does not decrypt with SECRETS_KEYS (unknown key id, or ciphertext not bound to this channel)',
    find: async (deps) => {
      const problems = (await scanChannelSecrets(deps)).filter((p) => p.undecryptable.length);
      return {
        count: problems.length,
        sampleIds: problems.slice(0, SAMPLE_SIZE).map((p) => p.channelId),
        details: { undecryptable: Object.fromEntries(problems.slice(0, SAMPLE_SIZE).map((p) => [p.channelId, p.undecryptable])) },
      };
    },
    fix: {
      action: 'disable the channels listed; first make sure SECRETS_KEYS holds every key id in use, or this disables working channels',
      apply: async (ctx) => ({
        fixed: await disableChannels(
          ctx,
          'channel_secrets_undecryptable',
          (await scanChannelSecrets(ctx)).filter((p) => p.undecryptable.length).map((p) => ({ channelId: p.channelId, names: p.undecryptable })),
        ),
        errors: [],
      }),
    },
  },
  {
    name: 'webhook_secrets_undecryptable',
    severity: 'error',
    description: 'Active webhook endpoints whose signing secret does not decrypt with SECRETS_KEYS (every delivery to them fails)',
    find: async (deps) => {
      const ids = await undecryptableWebhookSecrets(deps);
      return { count: ids.length, sampleIds: ids.slice(0, SAMPLE_SIZE) };
    },
    fix: {
      action: 'disable the endpoints listed; the tenant rotates the secret (POST /api/v1/webhook-endpoints/:id/rotate-secret) and re-enables them; first make sure SECRETS_KEYS holds every key id in use',
      apply: async (ctx) => {
        const ids = await undecryptableWebhookSecrets(ctx);
        const fixed = ids.length === 0 ? 0 : await fixAudited(
          ctx,
          'webhook_secrets_undecryptable',
          'webhook_endpoint',
          'disabled',
          Prisma.sql`UPDATE webhook_endpoints x SET status = 'disabled', disabled_at = now(), updated_at = now(),
                            disabled_reason = 'the signing secret does not decrypt: rotate it, then re-enable the endpoint'
                     WHERE x.id = ANY(${ids}::uuid[]) AND x.status::text = 'active' RETURNING x.id, x.tenant_id`,
        );
        return { fixed, errors: [] };
      },
    },
  },
  {
    name: 'ready_documents_missing_embeddings',
    severity: 'warning',
    description: 'Ready documents with chunks that have no embedding (they are only partly searchable)',
    manual: 'Re-ingest the documents listed (upload them again); their chunks are kept until the new version is ready',
    find: async ({ db }) => {
      const found = await countAndSample(
        db,
        Prisma.sql`SELECT DISTINCT d.id FROM documents d JOIN chunks c ON c.document_id = d.id
                   WHERE d.status::text = 'ready' AND d.deleted_at IS NULL AND c.embedding IS NULL`,
      );
      const [chunks] = await db.$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM documents d JOIN chunks c ON c.document_id = d.id
        WHERE d.status::text = 'ready' AND d.deleted_at IS NULL AND c.embedding IS NULL`;
      return { ...found, details: { chunks: Number(chunks?.n ?? 0) } };
    },
  },
  {
    name: 'rows_in_default_partition',
    severity: 'warning',
    description: 'Rows in a default partition (no monthly partition existed for their month when they were written)',
    // Only rows of the months maintenance creates partitions for can move (activities/maintenance.ts):
    // others date from when created_at was a provider's timestamp and stay, still readable.
    find: async ({ db }) => {
      const counts = await countDefaultPartitionRows(db);
      const parts = await Promise.all(
        counts.map(async ({ table }) => ({
          prefix: table,
          found: await countAndSample(db, Prisma.sql`SELECT id FROM ${Prisma.raw(`"${PARTITIONED_TABLES[table].defaultPartition}"`)}`),
        })),
      );
      return merge(parts);
    },
    fix: {
      action: `create the monthly partitions of the last ${MONTHS_BACK} months and this one that they belong to and move them there (what partition maintenance does); rows of other months stay`,
      apply: async (ctx) => {
        const results = await drainDefaultPartitions(ctx.db, ctx.logger, new Date());
        const fixed = results.flatMap((r) => r.moved).reduce((n, m) => n + m.rows, 0);
        const errors = [
          ...results.filter((r) => r.locked).map((r) => `${r.table}: partition maintenance is running; try again`),
          ...results.filter((r) => r.unmovable).map((r) => `${r.table}: ${r.unmovable} rows of months outside those maintenance creates partitions for stay in the default partition`),
        ];
        for (const m of results.flatMap((r) => r.moved)) await auditObject(ctx, 'rows_in_default_partition', 'partition', m.partition, `${m.rows} rows moved in`);
        return { fixed, errors };
      },
    },
  },
  {
    name: 'missing_partitions',
    severity: (found) => ((found.details?.currentMonthMissing as boolean) ? 'error' : 'warning'),
    description: 'The current or next month has no partition (partition maintenance has not run)',
    find: async ({ db }) => {
      const now = new Date();
      const missing = await findMissingPartitions(db, 1, now);
      const current = new Set((await findMissingPartitions(db, 0, now)));
      return { count: missing.length, sampleIds: missing, details: { currentMonthMissing: current.size > 0 } };
    },
    fix: {
      action: 'create the missing partitions',
      apply: async (ctx) => {
        const results = await createPartitionsAhead(ctx.db, ctx.logger, 1, new Date());
        for (const p of results.flatMap((r) => r.created)) await auditObject(ctx, 'missing_partitions', 'partition', p, 'created');
        return { fixed: results.flatMap((r) => r.created).length, errors: results.filter((r) => r.locked).map((r) => `${r.table}: partition maintenance is running; try again`) };
      },
    },
  },
  {
    name: 'missing_schema_objects',
    severity: 'error',
    description: 'Indexes or constraints the migrations create that the database lacks',
    find: async ({ db }) => {
      const missing = await missingSchemaObjects(db);
      return { count: missing.length, sampleIds: missing.map((o) => o.name).slice(0, SAMPLE_SIZE), details: { objects: missing.map((o) => ({ kind: o.kind, name: o.name, table: o.table })) } };
    },
    fix: {
      action: "re-run the migration's statement for each (indexes first, then constraints; runs after the data fixes, since a constraint needs clean data)",
      apply: async (ctx) => {
        const missing = await missingSchemaObjects(ctx.db);
        const ordered = [...missing.filter((o) => o.kind === 'index'), ...missing.filter((o) => o.kind === 'constraint' && /PRIMARY KEY|UNIQUE/.test(o.statement)), ...missing.filter((o) => o.kind === 'constraint' && !/PRIMARY KEY|UNIQUE/.test(o.statement))];
        let fixed = 0;
        const errors: string[] = [];
        for (const object of ordered) {
          try {
            await ctx.db.$executeRawUnsafe(object.statement);
            await auditObject(ctx, 'missing_schema_objects', object.kind, object.name, 'recreated');
            fixed += 1;
          } catch (err) {
            errors.push(`${object.name}: ${err instanceof Error ? err.message.split('\n').slice(-1)[0] : String(err)}`);
          }
        }
        return { fixed, errors };
      },
    },
  },
  {
    name: 'open_conversations_without_workflow',
    severity: 'warning',
    description: 'Conversations open in the database (not closed) with no running conversation workflow in Temporal',
    find: async ({ db, temporal }) => {
      const { total, rows } = await openConversations(db, Prisma.sql`TRUE`, WORKFLOW_SAMPLE_SIZE);
      const missing = await conversationsWithoutWorkflow(temporal, rows);
      return { count: missing.length, sampleIds: missing.slice(0, SAMPLE_SIZE), details: { open: total, checked: rows.length, sampled: total > rows.length } };
    },
    fix: {
      action: "close the conversations listed (looked up again first); the user's next message starts a new workflow",
      apply: async (ctx) => {
        const { rows } = await openConversations(ctx.db, Prisma.sql`TRUE`, WORKFLOW_SAMPLE_SIZE);
        const missing = await conversationsWithoutWorkflow(ctx.temporal, rows);
        const fixed = missing.length
          ? await fixAudited(
              ctx,
              'open_conversations_without_workflow',
              'conversation',
              'closed',
              Prisma.sql`UPDATE conversations x SET status = 'closed', updated_at = now() FROM conversations old
                         WHERE old.id = x.id AND x.id = ANY(${missing}::uuid[]) AND x.status::text <> 'closed'
                         RETURNING x.id, x.tenant_id, old.status::text AS previous`,
              Prisma.sql`jsonb_build_object('previous', fixed.previous)`,
            )
          : 0;
        return { fixed, errors: [] };
      },
    },
  },
];

const DEDUPED_CHANNEL_COLUMNS = ['phone_number_id', 'page_id', 'widget_id', 'verify_token_hash'] as const;

/** Channels that repeat (type, column) of an older channel; `select` picks from id and column. */
function duplicateChannels(col: (typeof DEDUPED_CHANNEL_COLUMNS)[number], select: Prisma.Sql): Prisma.Sql {
  const column = Prisma.raw(`"${col}"`);
  return Prisma.sql`${select} FROM (
      SELECT id, ${column}, row_number() OVER (PARTITION BY type, ${column} ORDER BY created_at, id) AS rn
      FROM channels WHERE ${column} IS NOT NULL) d WHERE d.rn > 1`;
}

/** Conversations that repeat an older one's (tenant, channel, external user), with that keeper. */
function duplicateConversations(select: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`${select} FROM (
      SELECT id, first_value(id) OVER w AS keeper, row_number() OVER w AS rn
      FROM conversations WINDOW w AS (PARTITION BY tenant_id, channel_id, external_user_id ORDER BY created_at, id)) d
    WHERE d.rn > 1`;
}

export const CHECK_NAMES = CHECKS.map((c) => c.name);

// ---------------------------------------------------------------------------------------------
// Activities

export interface CompleteReportInput {
  reportId: string;
  dryRun: boolean;
  findings: IntegrityFinding[];
  fixes: IntegrityFixResult[];
  /** Findings after the fixes (applied runs only). */
  remaining?: IntegrityFinding[];
  error?: string;
}

export interface StoredFinding extends IntegrityFinding {
  fixed?: number;
  remaining?: number;
  fixErrors?: string[];
}

export interface IntegrityReportSummary {
  reportId: string;
  dryRun: boolean;
  findingCount: number;
  fixedCount: number;
  remainingCount: number | null;
  checks: Record<string, number>;
}

export function createIntegrityActivities(deps: IntegrityDependencies) {
  const { db, logger } = deps;
  return {
    async beginIntegrityReport(input: { reportId: string; dryRun: boolean }): Promise<void> {
      // The API may have created the row already (so that it can be read at once); retries too.
      await db.integrityReport.upsert({ where: { id: input.reportId }, create: { id: input.reportId, dryRun: input.dryRun }, update: {} });
    },

    async collectIntegrityFindings(): Promise<IntegrityFinding[]> {
      const findings: IntegrityFinding[] = [];
      for (const check of CHECKS) {
        const found = await check.find(deps);
        findings.push({
          check: check.name,
          severity: typeof check.severity === 'function' ? check.severity(found) : check.severity,
          count: found.count,
          sampleIds: found.sampleIds,
          description: check.description,
          remediation: check.fix ? { kind: 'fix', action: check.fix.action } : { kind: 'manual', action: check.manual ?? 'investigate' },
          ...(found.details ? { details: found.details } : {}),
        });
      }
      return findings;
    },

    /** Applies the fixes of the named checks, in CHECKS order. Each is idempotent. */
    async applyIntegrityFixes(input: { reportId: string; checks: string[] }): Promise<IntegrityFixResult[]> {
      const results: IntegrityFixResult[] = [];
      for (const check of CHECKS) {
        if (!check.fix || !input.checks.includes(check.name)) continue;
        const result = { check: check.name, ...(await check.fix.apply({ ...deps, reportId: input.reportId })) };
        logger.info({ reportId: input.reportId, check: check.name, fixed: result.fixed, errors: result.errors.length }, 'integrity fix applied');
        results.push(result);
      }
      return results;
    },

    async completeIntegrityReport(input: CompleteReportInput): Promise<IntegrityReportSummary> {
      const names = new Set([...input.findings, ...(input.remaining ?? [])].filter((f) => f.count > 0).map((f) => f.check));
      const stored: StoredFinding[] = [];
      for (const name of names) {
        const before = input.findings.find((f) => f.check === name);
        const after = input.remaining?.find((f) => f.check === name);
        const fix = input.fixes.find((f) => f.check === name);
        const base = (before?.count ? before : after)!;
        stored.push({
          ...base,
          count: before?.count ?? 0,
          ...(fix ? { fixed: fix.fixed, ...(fix.errors.length ? { fixErrors: fix.errors } : {}) } : {}),
          ...(input.remaining ? { remaining: after?.count ?? 0 } : {}),
        });
      }
      const checks = Object.fromEntries(input.findings.map((f) => [f.check, f.count]));
      const findingCount = input.findings.reduce((n, f) => n + f.count, 0);
      const fixedCount = input.fixes.reduce((n, f) => n + f.fixed, 0);
      const remainingCount = input.remaining ? input.remaining.reduce((n, f) => n + f.count, 0) : null;
      await db.integrityReport.upsert({
        where: { id: input.reportId },
        create: { id: input.reportId, dryRun: input.dryRun },
        update: {},
      });
      await db.integrityReport.update({
        where: { id: input.reportId },
        data: {
          finishedAt: new Date(),
          dryRun: input.dryRun,
          findings: stored as unknown as Prisma.InputJsonValue,
          summary: (input.remaining ? { ...checks, remaining: Object.fromEntries(input.remaining.map((f) => [f.check, f.count])) } : checks) as Prisma.InputJsonValue,
          findingCount,
          fixedCount,
          error: input.error ?? null,
        },
      });
      const summary: IntegrityReportSummary = { reportId: input.reportId, dryRun: input.dryRun, findingCount, fixedCount, remainingCount, checks };
      // The summary is counts and check names only: no ids beyond the report's, no secrets.
      logger[input.error ? 'error' : 'info']({ ...summary, checks: Object.fromEntries(Object.entries(checks).filter(([, n]) => n > 0)), ...(input.error ? { error: input.error } : {}) }, 'integrity check finished');
      return summary;
    },
  };
}
