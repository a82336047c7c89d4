// `documentPurge`: removes documents soft-deleted longer ago than the grace period (their rows,
// chunks and stored files), a bounded batch per activity call until none is left. Runs on a
// Temporal Schedule (temporal-config/schedules.ts, hourly, overlap SKIP) on the `maintenance`
// task queue; safe to start by hand at any time. A deleted document stays restorable by an
// operator (and its files readable) for the grace period.
import { continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export const DEFAULT_DOCUMENT_PURGE_AFTER_HOURS = 24;
export const DOCUMENT_PURGE_BATCH = 100;
/** Batches per run before continuing as new (keeps the history short on a big backlog). */
const BATCHES_PER_RUN = 500;

export interface DocumentPurgeInput {
  /** Documents deleted longer ago than this are purged (default 24). */
  olderThanHours?: number;
  /** Purged by earlier runs of this chain (continue-as-new). */
  purgedBefore?: number;
}

const { purgeDeletedDocuments } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});

export async function documentPurge(input: DocumentPurgeInput = {}): Promise<{ purged: number }> {
  const olderThanMinutes = Math.round((input.olderThanHours ?? DEFAULT_DOCUMENT_PURGE_AFTER_HOURS) * 60);
  let purged = input.purgedBefore ?? 0;
  for (let batch = 0; batch < BATCHES_PER_RUN; batch++) {
    const result = await purgeDeletedDocuments({ olderThanMinutes, limit: DOCUMENT_PURGE_BATCH });
    purged += result.purged;
    if (result.purged < DOCUMENT_PURGE_BATCH) return { purged };
  }
  return continueAsNew<typeof documentPurge>({ ...input, purgedBefore: purged });
}
