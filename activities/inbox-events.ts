// Tells the API instances' inbox streams that a conversation changed (lib/inbox-bus.ts), after
// the change is committed. Not awaited: the reply path does not wait for it, and a lost event
// is caught up by the page's refetch (a retried activity may announce twice, which is harmless).
import { Context } from '@temporalio/activity';
import type { Db } from '../lib/db.ts';
import { publishInboxEvent, type InboxEvent } from '../lib/inbox-bus.ts';

export function announceToInbox(db: Db, event: InboxEvent): void {
  let logger: { warn(message: string, meta?: Record<string, unknown>): void } | undefined;
  try {
    logger = Context.current().log;
  } catch {
    // Called outside an activity (a script or a test): nothing to log through.
  }
  void publishInboxEvent(db, event, (error) => logger?.warn('inbox event not published', { error, kind: event.kind }));
}
