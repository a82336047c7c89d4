// Workflow ids, built in one place: the API signals the same ids the workflows run under.
export type ChannelKind = 'whatsapp' | 'messenger' | 'webchat';

/** One conversation workflow per external user of a tenant's channel. */
export function conversationWorkflowId(tenantId: string, channel: ChannelKind, externalUserId: string): string {
  return `conversation:${tenantId}:${channel}:${externalUserId}`;
}
