// `stripeUsageReport`: sends the meter events not yet reported to Stripe Billing Meters, a batch
// per activity call until none is left. Runs on a Temporal Schedule (temporal-config/schedules.ts,
// hourly, overlap SKIP) on the `maintenance` task queue; safe to start by hand at any time.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export const STRIPE_USAGE_REPORT_BATCH = 100;
/** Batches per run: the rest waits for the next run, keeping a run's history short. */
const BATCHES_PER_RUN = 200;

const { reportMeteredUsage } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});

export async function stripeUsageReport(): Promise<{ reported: number }> {
  let reported = 0;
  for (let batch = 0; batch < BATCHES_PER_RUN; batch++) {
    const result = await reportMeteredUsage({ limit: STRIPE_USAGE_REPORT_BATCH });
    reported += result.reported;
    if (result.reported < STRIPE_USAGE_REPORT_BATCH) break;
  }
  return { reported };
}
