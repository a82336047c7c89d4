// `partitionMaintenance`: keeps the monthly partitions of the partitioned tables (messages)
// ready ahead of time, moves stray rows of recent months out of their default partitions, drops
// partitions older than the retention when one is set, and deletes the dedupe keys of inbound
// messages past the redelivery horizon. Runs on a Temporal Schedule
// (temporal-config/schedules.ts, overlap SKIP) on the `maintenance` task queue; safe to start by
// hand at any time, and safe to run concurrently (see activities/maintenance.ts).
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { CreateAheadResult, DrainResult, PruneKeysResult, RetentionResult } from '../activities/maintenance.ts';

export const DEFAULT_PARTITION_MONTHS_AHEAD = 3;

export interface PartitionMaintenanceInput {
  /** Partitions kept ready beyond the current month (default 3). */
  monthsAhead?: number;
  /** Months kept before the current one; absent or null: nothing is dropped. */
  retentionMonths?: number | null;
  /** Days inbound dedupe keys are kept; absent: the redelivery horizon (8, also the least). */
  dedupeKeyDays?: number;
  /** ISO date standing in for "now" (tests, backfills). */
  asOf?: string;
}

export interface PartitionMaintenanceResult {
  moved: DrainResult[];
  created: CreateAheadResult[];
  dropped: RetentionResult[];
  /** Absent in runs from before key pruning. */
  prunedKeys?: PruneKeysResult;
}

/** Runs from before it (recorded histories) schedule no key pruning. */
const PRUNE_INBOUND_KEYS = 'prune-inbound-message-keys';

const { moveDefaultPartitionRows, createPartitionsAhead, dropExpiredPartitions, pruneInboundMessageKeys } = proxyActivities<Activities>({
  // DDL waits at most lock_timeout for its locks; moving rows may take a while on a big table.
  startToCloseTimeout: '15 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});

export async function partitionMaintenance(input: PartitionMaintenanceInput = {}): Promise<PartitionMaintenanceResult> {
  const monthsAhead = input.monthsAhead ?? DEFAULT_PARTITION_MONTHS_AHEAD;
  const when = input.asOf === undefined ? {} : { asOf: input.asOf };

  // First the stray rows: a month they belong to could not get its partition while they sit
  // in the default partition (creating it moves them too, but this also catches past months).
  const moved = await moveDefaultPartitionRows(when);
  const created = await createPartitionsAhead({ monthsAhead, ...when });
  const dropped = input.retentionMonths ? await dropExpiredPartitions({ retentionMonths: input.retentionMonths, ...when }) : [];
  if (!patched(PRUNE_INBOUND_KEYS)) return { moved, created, dropped };
  const prunedKeys = await pruneInboundMessageKeys({ ...(input.dedupeKeyDays === undefined ? {} : { olderThanDays: input.dedupeKeyDays }), ...when });
  return { moved, created, dropped, prunedKeys };
}
