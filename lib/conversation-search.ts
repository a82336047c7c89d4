// Text search over a tenant's conversations for the inbox. Message bodies are stored as JSON in
// `messages.content` (plaintext at rest; only Temporal payloads are encrypted), so the search reads
// them in SQL. It is a bounded scan, not an index: the tenant's newest SEARCH_SCAN_MESSAGES messages
// (the (tenant_id, created_at) index walks them newest first, and month partitions past them are
// not read), matched case-insensitively as a substring. Its cost per search is fixed whatever the
// tenant's history, it matches any language and part of a word (an order or phone number), and it
// needs no index on every partition of the hottest table; what it gives up is text older than
// that window, which the list's other filters (channel, user, dates) still reach.
import type { Db } from './db.ts';

/** How many of a tenant's newest messages a text search reads. */
export const SEARCH_SCAN_MESSAGES = 20_000;
/** How many matching conversations a search returns at most (newest activity first). */
export const SEARCH_MAX_CONVERSATIONS = 500;

/**
 * `%`, `_` and `\` taken literally in an ILIKE pattern, or in a Prisma `contains` operand: Prisma
 * lowers `contains` to LIKE without escaping it (prisma/prisma#19506), so `100%` would match any `100`.
 */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Ids of the tenant's conversations one of whose recent messages contains `text` (any case). */
export async function conversationsMentioning(db: Db, tenantId: string, text: string, scan = SEARCH_SCAN_MESSAGES): Promise<string[]> {
  const pattern = `%${likeLiteral(text)}%`;
  const rows = await db.$queryRaw<{ conversation_id: string }[]>`
    SELECT conversation_id FROM (
      SELECT conversation_id, created_at, content->>'text' AS body FROM messages
       WHERE tenant_id = ${tenantId}::uuid ORDER BY created_at DESC LIMIT ${scan}
    ) recent
    WHERE body ILIKE ${pattern}
    GROUP BY conversation_id ORDER BY max(created_at) DESC LIMIT ${SEARCH_MAX_CONVERSATIONS}`;
  return rows.map((r) => r.conversation_id);
}
