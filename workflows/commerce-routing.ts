// Orders (WhatsApp catalog carts) and completed Flows (interactive nfm_reply) are never left
// unanswered: the tenant's `commerce` setting names who handles each kind. The assistant reads
// the readable rendering the webhook gave them (api/webhooks/normalize.ts); a person gets the
// conversation handed over; a tenant function gets the message and may answer it. Pure rules here;
// the conversation workflow runs them.
import type { CommerceRoute, CommerceSettings } from './conversation-state.ts';
import type { InboundMessage } from './types.ts';

export type CommerceKind = 'order' | 'flow';

export function commerceKind(m: InboundMessage): CommerceKind | null {
  if (m.kind === 'order') return 'order';
  if (m.kind === 'interactive' && m.content.interactiveType === 'nfm_reply') return 'flow';
  return null;
}

/** Who handles the message; null for a message that is no order or Flow (the assistant's, as always). */
export function commerceRoute(m: InboundMessage, settings: CommerceSettings | undefined): (CommerceRoute & { kind: CommerceKind }) | null {
  const kind = commerceKind(m);
  if (!kind) return null;
  return { ...(settings?.[kind] ?? { handledBy: 'assistant' }), kind };
}

/** What a tenant function is called with for a commerce message (validated against its parameters like any call). */
export function commerceArguments(m: InboundMessage, kind: CommerceKind, conversationId: string, externalUserId: string): string {
  return JSON.stringify({ event: kind, conversationId, externalUserId, message: { externalMessageId: m.externalMessageId, sentAt: m.sentAt, text: m.text, ...m.content } });
}

/**
 * The customer-facing answer in a function's result: `{"reply": "..."}`. Anything else means the
 * function took the message without a word for the customer.
 */
export function functionReply(content: string): string | null {
  try {
    const value: unknown = JSON.parse(content);
    const reply = value && typeof value === 'object' ? (value as { reply?: unknown }).reply : undefined;
    return typeof reply === 'string' && reply.trim() ? reply.trim() : null;
  } catch {
    return null;
  }
}
