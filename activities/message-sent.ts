// message.sent, the tenant event of a message a channel accepted: written by every send path
// (conversation replies and agents' messages, template messages, campaigns) the same way. Its id
// derives from the message, so a retried send writes it once.
import type { Db } from '../lib/db.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { recordTenantEvent, tenantEventId, tenantHasWebhooks } from '../lib/tenant-events.ts';
import type { ChannelKind } from '../workflows/types.ts';

export interface SentMessage {
  tenantId: string;
  messageId: string;
  conversationId: string;
  channel: ChannelKind;
  externalUserId: string;
  text: string;
  author: 'assistant' | 'agent';
  agentId: string | null;
  providerMessageIds: string[];
  createdAt: Date;
}

/** Writes the event (whatever the row's status has become since: a status webhook may be first); its id, or null when no endpoint listens. */
export async function recordMessageSent(db: Db, sent: SentMessage): Promise<string | null> {
  // A tenant without webhooks (cached hint) needs no statement for an event it will not get.
  if (!(await tenantHasWebhooks(db, sent.tenantId))) return null;
  return recordTenantEvent(forTenant(db, sent.tenantId), {
    id: tenantEventId('message.sent', sent.messageId),
    tenantId: sent.tenantId,
    type: 'message.sent',
    // The conversation's event, so that erasing an end user (lib/end-users.ts) takes it too.
    subjectType: 'conversation',
    subjectId: sent.conversationId,
    data: {
      messageId: sent.messageId, conversationId: sent.conversationId, channel: sent.channel, externalUserId: sent.externalUserId, text: sent.text,
      author: sent.author, agentId: sent.agentId, providerMessageIds: sent.providerMessageIds, createdAt: sent.createdAt.toISOString(),
    },
  });
}
