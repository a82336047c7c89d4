// Workflow ids, built in one place: the API signals the same ids the workflows run under.
export type ChannelKind = 'whatsapp' | 'messenger' | 'instagram' | 'webchat';

/**
 * One conversation workflow per external user of one of a tenant's channels: the channel by its
 * id, not its type, so a customer who writes to two WhatsApp numbers of a tenant has two
 * conversations, each answered from the number written to. Routes never rebuild this id for an
 * existing conversation: they read the `conversations.workflow_id` the workflow stored.
 */
export function conversationWorkflowId(tenantId: string, channelId: string, externalUserId: string): string {
  return `conversation:${tenantId}:${channelId}:${externalUserId}`;
}

/**
 * The id conversations ran under before it named the channel: one workflow per channel type.
 * Kept while such runs may still be open (the workflow forwards to a still-running one).
 */
export function legacyConversationWorkflowId(tenantId: string, channel: ChannelKind, externalUserId: string): string {
  return `conversation:${tenantId}:${channel}:${externalUserId}`;
}

/** One templateMessage workflow per outbound template message (its row id). */
export function templateMessageWorkflowId(tenantId: string, messageId: string): string {
  return `template-message:${tenantId}:${messageId}`;
}

/** One campaign workflow per campaign (continued as new under the same id). */
export function campaignWorkflowId(tenantId: string, campaignId: string): string {
  return `campaign:${tenantId}:${campaignId}`;
}
