// The outbound message rows of a reply's hot path, as plain SQL on the pg pool: storing the
// pending row and marking it sent are two of the handful of statements every reply costs, and
// through Prisma each costs more CPU than the database spends on it (see lib/db.ts). Each
// statement binds the tenant id explicitly, as the tenant-scoped client would.
import type { Db } from '../lib/db.ts';
import { poolOf } from '../lib/db.ts';
import type { ChannelKind, ConversationStatus } from '../workflows/types.ts';

export interface PendingOutbound {
  id: string;
  createdAt: number;
  tenantId: string;
  conversationId: string;
  channel: ChannelKind;
  /** The stored content (already made storable). */
  content: Record<string, unknown>;
}

export interface StoredPending {
  /** False when the row existed (an earlier attempt stored it) or the conversation does not. */
  inserted: boolean;
  /** The conversation's status as this statement saw it; null when it does not exist. */
  conversationStatus: ConversationStatus | null;
}

/**
 * Stores the pending row (a repeat is a no-op), moves the conversation's last_message_at when
 * it did, and reads the conversation's status, all in one statement: the status is what decides
 * whether an assistant's reply may still go out (a take-over sets it), read as late as the row.
 */
export async function storePendingOutbound(db: Db, row: PendingOutbound): Promise<StoredPending> {
  const { rows: [result] } = await poolOf(db).query<{ inserted: boolean; status: ConversationStatus | null }>({
    name: 'store-pending-outbound',
    text: `
      WITH inserted AS (
        INSERT INTO messages (id, created_at, tenant_id, conversation_id, channel, direction, type, content, status, updated_at)
        SELECT $1::uuid, $2::timestamptz, c.tenant_id, c.id, $5::channel_type, 'outbound', 'text', $6::jsonb, 'pending', now()
          FROM conversations c WHERE c.id = $4::uuid AND c.tenant_id = $3::uuid
        ON CONFLICT DO NOTHING
        RETURNING id),
      touched AS (
        UPDATE conversations SET last_message_at = $2::timestamptz, updated_at = now()
         WHERE id = $4::uuid AND tenant_id = $3::uuid AND EXISTS (SELECT FROM inserted))
      SELECT EXISTS (SELECT FROM inserted) AS inserted,
             (SELECT status::text FROM conversations WHERE id = $4::uuid AND tenant_id = $3::uuid) AS status`,
    values: [row.id, new Date(row.createdAt), row.tenantId, row.conversationId, row.channel, JSON.stringify(row.content)],
  });
  return { inserted: result?.inserted ?? false, conversationStatus: result?.status ?? null };
}

/**
 * Marks a pending row sent with the provider's ids (only from pending: a status webhook may have
 * moved it on). With `answersInbound`, also reads when the platform received the conversation's
 * newest customer message before the reply (the reply latency's start), in the same statement.
 */
export async function markOutboundSent(
  db: Db,
  row: { id: string; createdAt: number; tenantId: string; conversationId: string; content: Record<string, unknown>; providerMessageIds: string[]; answersInbound?: boolean },
): Promise<{ inboundAt: Date | null }> {
  const { rows: [result] } = await poolOf(db).query<{ inbound_at: Date | null }>({
    name: 'mark-outbound-sent',
    text: `
      WITH marked AS (
        UPDATE messages SET status = 'sent', external_message_id = $4, content = $5::jsonb, updated_at = now()
         WHERE id = $1::uuid AND created_at = $2::timestamptz AND tenant_id = $3::uuid AND status = 'pending')
      SELECT CASE WHEN $7::boolean THEN (
        SELECT created_at FROM messages
         WHERE tenant_id = $3::uuid AND conversation_id = $6::uuid AND direction = 'inbound'
           AND created_at <= $2::timestamptz AND created_at > $2::timestamptz - interval '1 day'
         ORDER BY created_at DESC LIMIT 1) END AS inbound_at`,
    // Status webhooks name the first part; all parts are kept with the content.
    values: [
      row.id, new Date(row.createdAt), row.tenantId, row.providerMessageIds[0] ?? null, JSON.stringify({ ...row.content, providerMessageIds: row.providerMessageIds }),
      row.conversationId, row.answersInbound === true,
    ],
  });
  return { inboundAt: result?.inbound_at ?? null };
}
