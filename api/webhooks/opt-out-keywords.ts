// A WhatsApp customer's STOP / START (lib/opt-outs.ts) recorded as the webhook hands the message
// over: proactive sends check it, so it must hold before the next campaign batch, not after the
// assistant's turn. The message itself still goes to the conversation like any other.
import type { Db } from '../../lib/db.ts';
import { optOutIntent, recordOptOut } from '../../lib/opt-outs.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { InboundMessage } from '../../workflows/types.ts';

export async function recordOptOutKeywords(db: Db, batches: { tenantId: string; userId: string; messages: InboundMessage[] }[]): Promise<number> {
  let recorded = 0;
  for (const batch of batches) {
    for (const message of batch.messages) {
      const intent = optOutIntent(message.text);
      if (!intent) continue;
      const applied = await recordOptOut(forTenant(db, batch.tenantId), { externalUserId: batch.userId, optedOut: intent === 'opt_out', source: 'keyword', at: new Date(message.sentAt) });
      if (applied) recorded++;
    }
  }
  return recorded;
}
