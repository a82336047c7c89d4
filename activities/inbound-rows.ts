// The inbound side of a reply's hot path as plain SQL on the pg pool: opening a new
// conversation's row, and storing a signal's messages with the tenant's settings read in the
// same statement. Every message of every conversation passes here, and through Prisma each
// statement costs more CPU than the database spends on it (see lib/db.ts); one statement is also
// atomic, so a crash never leaves a dedupe key without its message row. Each statement binds the
// tenant id explicitly, as the tenant-scoped client would.
import type { Db } from '../lib/db.ts';
import { poolOf } from '../lib/db.ts';
import type { ChannelKind, ConversationStatus } from '../workflows/types.ts';

export interface ConversationRowState {
  id: string;
  status: ConversationStatus;
  assignee: string | null;
  workflowId: string | null;
  lastInboundAt: Date | null;
  createdAt: Date;
}

/**
 * The conversation's row, inserted under the id given when there is none: a caller that chooses
 * the same id on every attempt knows the row is its own when the ids match. Undefined only when a
 * concurrent insert won the race between the two parts (the caller reads again). A deleted
 * channel fails with Postgres' foreign key violation (code 23503).
 */
export async function findOrCreateConversation(
  db: Db,
  key: { id: string; tenantId: string; channelId: string; externalUserId: string; workflowId: string },
): Promise<ConversationRowState | undefined> {
  const { rows: [row] } = await poolOf(db).query<ConversationRowState>({
    name: 'find-or-create-conversation',
    text: `
      WITH existing AS (
        SELECT id, status::text AS status, assignee, workflow_id, last_inbound_at, created_at
          FROM conversations WHERE tenant_id = $1::uuid AND channel_id = $2::uuid AND external_user_id = $3),
      inserted AS (
        INSERT INTO conversations (id, tenant_id, channel_id, external_user_id, status, workflow_id, created_at, updated_at)
        SELECT $5::uuid, $1::uuid, $2::uuid, $3, 'active', $4, now(), now() WHERE NOT EXISTS (SELECT FROM existing)
        ON CONFLICT DO NOTHING
        RETURNING id, status::text AS status, assignee, workflow_id, last_inbound_at, created_at)
      SELECT id, status, assignee, workflow_id AS "workflowId", last_inbound_at AS "lastInboundAt", created_at AS "createdAt" FROM existing
      UNION ALL
      SELECT id, status, assignee, workflow_id, last_inbound_at, created_at FROM inserted`,
    values: [key.tenantId, key.channelId, key.externalUserId, key.workflowId, key.id],
  });
  return row;
}

export interface InboundRow {
  /** The row id the workflow chose. */
  id: string;
  externalMessageId: string;
  sentAt: number;
  /** A message_type value. */
  type: string;
  content: Record<string, unknown>;
}

export interface StoredInbound {
  /** Row ids of the messages that are new to this call (stored by it, or by an earlier attempt of it). */
  fresh: Map<string, Date>;
  /** How many of them this statement stored (not an earlier attempt): what the metrics count. */
  inserted: number;
  /** The tenant's stored settings (null: no such tenant). */
  settings: unknown;
}

/**
 * The part of the statement that stores messages once, shared with the business's echoes
 * (echo-rows.ts): `given` (the rows, unnested from six arrays from $first on: ids, provider
 * ids, sent_at, types, contents, received_at), `keyed` (dedupe keys inserted now), `earlier`
 * (keys an earlier attempt of this call inserted: they name the same row id), `fresh` (both) and
 * `stored` (the fresh ones' message rows, with the key's time as created_at). $1 is the tenant,
 * $2 the conversation, $3 the channel.
 */
export function dedupedMessageRows(first: number, direction: 'inbound' | 'outbound'): string {
  const [ids, externalIds, sentAts, types, contents, receivedAts] = [0, 1, 2, 3, 4, 5].map((i) => `$${first + i}`);
  const status = direction === 'inbound' ? 'received' : 'sent';
  return `given AS (
        SELECT * FROM unnest(${ids}::uuid[], ${externalIds}::text[], ${sentAts}::timestamptz[], ${types}::message_type[], ${contents}::jsonb[], ${receivedAts}::timestamptz[])
          AS g(id, external_id, sent_at, type, content, received_at)),
      keyed AS (
        INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id, created_at)
        SELECT $1::uuid, $3::channel_type, external_id, id, received_at FROM given
        ON CONFLICT DO NOTHING
        RETURNING message_id, created_at),
      earlier AS (
        SELECT k.message_id, k.created_at FROM inbound_message_keys k
          JOIN given g ON k.external_message_id = g.external_id AND k.message_id = g.id
         WHERE k.tenant_id = $1::uuid AND k.channel = $3::channel_type),
      fresh AS (SELECT * FROM keyed UNION SELECT * FROM earlier),
      stored AS (
        INSERT INTO messages (id, created_at, tenant_id, conversation_id, channel, external_message_id, sent_at, direction, type, content, status, updated_at)
        SELECT g.id, f.created_at, $1::uuid, $2::uuid, $3::channel_type, g.external_id, g.sent_at, '${direction}', g.type, g.content, '${status}', now()
          FROM given g JOIN fresh f ON f.message_id = g.id
        ON CONFLICT DO NOTHING)`;
}

/**
 * Stores the messages once, in one statement:
 * - a message is new when its dedupe key (tenant, channel, provider id) is inserted now, or
 *   was inserted by an earlier attempt of this call (the key names the row id given): so a
 *   retry after a commit answers as the first attempt did, and a redelivery of a message stored
 *   by another call is not new. The statement sees the keys as they were before it, so "earlier"
 *   cannot pick up its own inserts;
 * - the new messages' rows go in with the key's time as created_at (the receive time, which the
 *   platform controls and partitions by; the provider's timestamp is sent_at);
 * - the conversation's last_inbound_at moves forward, and the tenant's settings are read.
 */
export async function storeInboundRows(
  db: Db,
  input: { tenantId: string; conversationId: string; channel: ChannelKind; receivedAt: number; lastSentAt: number; messages: InboundRow[] },
): Promise<StoredInbound> {
  const m = input.messages;
  const { rows: [row] } = await poolOf(db).query<{ fresh: string[] | null; at: Date[] | null; inserted: number; settings: unknown }>({
    name: 'store-inbound-rows',
    text: `
      WITH ${dedupedMessageRows(5, 'inbound')},
      touched AS (
        UPDATE conversations SET last_inbound_at = $4::timestamptz, last_message_at = $4::timestamptz, updated_at = now()
         WHERE id = $2::uuid AND tenant_id = $1::uuid AND (last_inbound_at IS NULL OR last_inbound_at < $4::timestamptz))
      SELECT ARRAY(SELECT message_id FROM fresh ORDER BY message_id) AS fresh,
             ARRAY(SELECT created_at FROM fresh ORDER BY message_id) AS at,
             (SELECT count(*) FROM keyed)::int AS inserted,
             (SELECT settings FROM tenants WHERE id = $1::uuid) AS settings`,
    values: [
      input.tenantId,
      input.conversationId,
      input.channel,
      new Date(input.lastSentAt),
      m.map((x) => x.id),
      m.map((x) => x.externalMessageId),
      m.map((x) => new Date(x.sentAt)),
      m.map((x) => x.type),
      m.map((x) => JSON.stringify(x.content)),
      // One millisecond apart in the order given (the user's), so listings by created_at keep it.
      m.map((_, i) => new Date(input.receivedAt + i)),
    ],
  });
  const ids = row?.fresh ?? [];
  const at = row?.at ?? [];
  return { fresh: new Map(ids.map((id, i) => [id, at[i]!])), inserted: row?.inserted ?? 0, settings: row?.settings ?? null };
}
