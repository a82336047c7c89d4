// The business's own messages (echoes of what it sent from the WhatsApp Business app or the Page
// inbox) as outbound rows of the conversation, sent already. Deduped like inbound messages, by
// the provider's message id in inbound_message_keys (Meta redelivers echoes too), in one
// statement of the same shape (inbound-rows.ts dedupedMessageRows): a retry after a commit finds
// its own rows new again, a redelivery finds none.
import type { Db } from '../lib/db.ts';
import { poolOf } from '../lib/db.ts';
import { dedupedMessageRows } from './inbound-rows.ts';
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
      WITH ${dedupedMessageRows(4, 'outbound')},
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

/** How long a pending send of the platform's may hold back an echo (its activity gives up within minutes). */
const SEND_IN_FLIGHT_WINDOW = '15 minutes';
/** How far back the platform's own sends are looked for (Meta redelivers for days). */
const OWN_SEND_WINDOW = '8 days';

/**
 * Which of `externalIds` are the platform's own sends to the conversation, by the provider ids
 * its outbound rows recorded (Instagram echoes every message the account sends, the platform's
 * included, with nothing else to tell them by), and whether one of its sends there is still in
 * flight (stored, not yet marked sent with its id), so that its echo could not be recognised yet.
 */
export async function platformSendsAmong(db: Db, input: { tenantId: string; conversationId: string; externalIds: string[] }): Promise<{ own: Set<string>; inFlight: boolean }> {
  const { rows: [row] } = await poolOf(db).query<{ own: string[]; in_flight: boolean }>({
    name: 'platform-sends-among',
    text: `
      SELECT ARRAY(
               SELECT x FROM unnest($3::text[]) AS x
                WHERE EXISTS (
                  SELECT FROM messages m
                   WHERE m.tenant_id = $1::uuid AND m.conversation_id = $2::uuid AND m.direction = 'outbound'
                     AND m.created_at > now() - interval '${OWN_SEND_WINDOW}' AND m.content->'providerMessageIds' ? x)) AS own,
             EXISTS (
               SELECT FROM messages
                WHERE tenant_id = $1::uuid AND conversation_id = $2::uuid AND direction = 'outbound' AND status = 'pending'
                  AND created_at > now() - interval '${SEND_IN_FLIGHT_WINDOW}') AS in_flight`,
    values: [input.tenantId, input.conversationId, input.externalIds],
  });
  return { own: new Set(row?.own ?? []), inFlight: row?.in_flight ?? false };
}
