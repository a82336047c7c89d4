// The inbox's bus: what changed in a tenant's conversations, from the workers (which store the
// messages and write status changes) to every API instance, whose open event streams tell the
// web app (api/routes/v1/conversations/events.ts). The same mechanism as the web chat's
// (lib/webchat-bus.ts): Postgres NOTIFY on its own channel, one LISTEN connection per API
// instance. An event names what changed, never its text; the page reads the change through the
// REST routes. NOTIFY is fire-and-forget, and so is publishing here: a lost event costs a page
// one update until the next event or its reconnect, which refetches.
import { z } from 'zod';
import type { Db } from './db.ts';
import { NotifyListener, type WebchatListenerOptions } from './webchat-bus.ts';

export const INBOX_NOTIFY_CHANNEL = 'conversation_events';

const status = z.enum(['active', 'handoff_requested', 'assigned_human', 'closed']);

export const inboxEventSchema = z.discriminatedUnion('kind', [
  /** A message was stored in the conversation (inbound, or an outbound one about to be sent). */
  z.object({ kind: z.literal('message'), tenantId: z.uuid(), conversationId: z.uuid(), messageId: z.uuid() }),
  /** The conversation's status or assignee changed. */
  z.object({ kind: z.literal('conversation'), tenantId: z.uuid(), conversationId: z.uuid(), status, assignee: z.string().max(200).nullable() }),
]);
export type InboxEvent = z.infer<typeof inboxEventSchema>;

/**
 * Tells every listening API instance (at once: this is its own statement). Never throws and is
 * not awaited on the hot path: the change is stored already, and a failure is only logged.
 */
export function publishInboxEvent(db: Db, event: InboxEvent, onFailure: (error: string) => void): Promise<void> {
  const payload = JSON.stringify(inboxEventSchema.parse(event));
  return db.$executeRaw`SELECT pg_notify(${INBOX_NOTIFY_CHANNEL}, ${payload})`.then(
    () => undefined,
    (err: unknown) => onFailure(String(err)),
  );
}

export class InboxListener extends NotifyListener<InboxEvent> {
  constructor(options: Omit<WebchatListenerOptions, 'onEvent'> & { onEvent: (event: InboxEvent) => void }) {
    super({ channel: INBOX_NOTIFY_CHANNEL, parse: (payload) => inboxEventSchema.parse(payload), name: 'inbox' }, options);
  }
}
