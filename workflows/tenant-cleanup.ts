// `tenantCleanup`: after a tenant is deleted, ends what Postgres's cascade cannot reach: its
// running workflows are terminated and its stored files deleted (activities/tenant-cleanup.ts).
// The API starts it (id `tenant-cleanup:{tenantId}`, task queue `maintenance`) inside the
// transaction that deletes the tenant's rows, so the first step waits for that deletion to be
// visible; when it never is (the transaction rolled back), nothing is touched. Everything runs
// twice, a settling time apart: visibility lags a new run a little, an API process may still
// start a conversation from a channel lookup it cached, and an activity of a terminated run may
// still be finishing.
import { ActivityFailure, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export interface TenantCleanupInput {
  tenantId: string;
  /** Seconds between the two passes (default 60: past the API's channel lookup cache). */
  settleSeconds?: number;
}

export type TenantCleanupResult = { state: 'cleaned'; stopped: number } | { state: 'kept' };

export function tenantCleanupWorkflowId(tenantId: string): string {
  return `tenant-cleanup:${tenantId}`;
}

const { confirmTenantDeleted } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // About four minutes: a big tenant's cascade may take a while to commit.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['InvalidTenantId'] },
});
const cleanup = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 50, nonRetryableErrorTypes: ['InvalidTenantId', 'StorageNotConfigured'] },
});

export async function tenantCleanup(input: TenantCleanupInput): Promise<TenantCleanupResult> {
  const { tenantId } = input;
  try {
    await confirmTenantDeleted({ tenantId });
  } catch (err) {
    if (err instanceof ActivityFailure) return { state: 'kept' };
    throw err;
  }
  let stopped = 0;
  for (let pass = 0; pass < 2; pass++) {
    if (pass > 0) await sleep((input.settleSeconds ?? 60) * 1000);
    stopped += (await cleanup.stopTenantWorkflows({ tenantId, except: workflowInfo().workflowId })).stopped;
    await cleanup.deleteTenantFiles({ tenantId });
  }
  return { state: 'cleaned', stopped };
}
