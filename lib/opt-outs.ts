// Customers who want no proactive messages (templates, campaigns) from a tenant. A WhatsApp
// customer opts out by writing a stop word (or tapping Meta's "Stop promotions" quick reply) and
// back in with a start word; the tenant's systems may set either through the API. The newest
// change wins by its time (the message's sentAt, or the API call's), so a redelivered or late
// webhook cannot undo a newer choice. Replies inside a conversation the customer keeps writing
// in are not proactive and are not affected.
import type { Prisma } from '../generated/prisma/client.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';

const STOP_WORDS = new Set(['stop', 'unsubscribe', 'stop promotions', 'cancel', 'opt out', 'optout']);
const START_WORDS = new Set(['start', 'subscribe', 'resume promotions', 'opt in', 'optin', 'unstop']);

/** What a customer's message says about proactive messages, if anything: the whole message must be the word. */
export function optOutIntent(text: string | null | undefined): 'opt_out' | 'opt_in' | null {
  const word = text?.trim().toLowerCase().replace(/[.!\s]+$/u, '').replace(/\s+/g, ' ');
  if (!word || word.length > 20) return null;
  if (STOP_WORDS.has(word)) return 'opt_out';
  if (START_WORDS.has(word)) return 'opt_in';
  return null;
}

/** Records a choice unless a newer one is stored; returns whether it was applied. */
export async function recordOptOut(
  tdb: TenantDb,
  change: { externalUserId: string; optedOut: boolean; source: 'keyword' | 'api'; at: Date },
): Promise<boolean> {
  const { count } = await tdb.customerOptOut.updateMany({
    where: { externalUserId: change.externalUserId, changedAt: { lte: change.at } },
    data: { optedOut: change.optedOut, source: change.source, changedAt: change.at },
  });
  if (count > 0) return true;
  const { count: created } = await tdb.customerOptOut.createMany({
    data: [tenantData<Prisma.CustomerOptOutUncheckedCreateInput>({ externalUserId: change.externalUserId, optedOut: change.optedOut, source: change.source, changedAt: change.at })],
    skipDuplicates: true, // a row exists: it is newer than this change
  });
  return created > 0;
}

export async function isOptedOut(tdb: TenantDb, externalUserId: string): Promise<boolean> {
  const row = await tdb.customerOptOut.findFirst({ where: { externalUserId }, select: { optedOut: true } });
  return row?.optedOut === true;
}
