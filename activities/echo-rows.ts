// The business's own messages (echoes of what it sent from the WhatsApp Business app or the Page
// inbox) as outbound rows of the conversation, sent already. Deduped like inbound messages, by
// the provider's message id in inbound_message_keys (Meta redelivers echoes too), in one
// statement: a retry after a commit finds its own rows new again, a redelivery finds none.
import type { Db } from '../lib/db.ts';
import { poolOf } from '../lib/db.ts';
import type { ChannelKind } from '../workflows/types.ts';

export interface EchoRow {
  /** The row id the workflow chose. */
  id: string;
  externalMessageId: string;
  sentAt: number;
  /** A message_type value. */
  type: string;
  /** The stored content (already made storable). */
  content: Record<string, unknown>;
}

/** Stores the echoes once; returns the row ids that are new to this call (any attempt of it). */
export async function storeEchoRows(db: Db, input: { tenantId: string; conversationId: string; channel: ChannelKind; receivedAt: number; echoes: EchoRow[] }): Promise<Set<string>> {
  const e = input.echoes;
  if (e.length === 0) return new Set();
  const { rows: [row] } = await poolOf(db).query<{ fresh: string[] | null }>({
    name: 'store-echo-rows',
    text: `
      WITH given AS (
        SELECT * FROM unnest($4::uuid[], $5::text[], $6::timestamptz[], $7::message_type[], $8::jsonb[], $9::timestamptz[])
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
        SELECT g.id, f.created_at, $1::uuid, $2::uuid, $3::channel_type, g.external_id, g.sent_at, 'outbound', g.type, g.content, 'sent', now()
          FROM given g JOIN fresh f ON f.message_id = g.id
        ON CONFLICT DO NOTHING),
      touched AS (
        UPDATE conversations SET last_message_at = greatest(last_message_at, (SELECT max(received_at) FROM given)), updated_at = now()
         WHERE id = $2::uuid AND tenant_id = $1::uuid AND EXISTS (SELECT FROM keyed))
      SELECT ARRAY(SELECT message_id FROM fresh) AS fresh`,
    values: [
      input.tenantId,
      input.conversationId,
      input.channel,
      e.map((x) => x.id),
      e.map((x) => x.externalMessageId),
      e.map((x) => new Date(x.sentAt)),
      e.map((x) => x.type),
      e.map((x) => JSON.stringify(x.content)),
      e.map((_, i) => new Date(input.receivedAt + i)),
    ],
  });
  return new Set(row?.fresh ?? []);
}
