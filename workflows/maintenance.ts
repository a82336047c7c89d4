// `partitionMaintenance`: keeps the monthly partitions of the partitioned tables (messages)
// ready ahead of time, empties their default partitions into proper month partitions, and —
// only when a retention is set — drops partitions older than it. Runs on a Temporal Schedule
// (temporal-config/schedules.ts, overlap SKIP) on the `maintenance` task queue; safe to start by
// hand at any time, and safe to run concurrently (see activities/maintenance.ts).
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { CreateAheadResult, DrainResult, RetentionResult } from '../activities/maintenance.ts';

export const DEFAULT_PARTITION_MONTHS_AHEAD = 3;

export interface PartitionMaintenanceInput {
  /** Partitions kept ready beyond the current month (default 3). */
  monthsAhead?: number;
  /** Months kept before the current one; absent or null: nothing is dropped. */
  retentionMonths?: number | null;
  /** ISO date standing in for "now" (tests, backfills). */
  asOf?: string;
}

export interface PartitionMaintenanceResult {
  moved: DrainResult[];
  created: CreateAheadResult[];
  dropped: RetentionResult[];
}

const { moveDefaultPartitionRows, createPartitionsAhead, dropExpiredPartitions } = proxyActivities<Activities>({
  // DDL waits at most lock_timeout for its locks; moving rows may take a while on a big table.
  startToCloseTimeout: '15 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});

export async function partitionMaintenance(input: PartitionMaintenanceInput = {}): Promise<PartitionMaintenanceResult> {
  const monthsAhead = input.monthsAhead ?? DEFAULT_PARTITION_MONTHS_AHEAD;
  const when = input.asOf === undefined ? {} : { asOf: input.asOf };

  // First the stray rows: a month they belong to could not get its partition while they sit
  // in the default partition (creating it moves them too, but this also catches past months).
  const moved = await moveDefaultPartitionRows();
  const created = await createPartitionsAhead({ monthsAhead, ...when });
  const dropped = input.retentionMonths ? await dropExpiredPartitions({ retentionMonths: input.retentionMonths, ...when }) : [];
  return { moved, created, dropped };
}
