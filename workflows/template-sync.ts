// `templateSync`: every WhatsApp channel's message templates read again from the Graph API, on a
// Temporal Schedule (temporal-config/schedules.ts, hourly). Template status webhooks keep them
// current between runs; this catches what no webhook tells (new or edited templates, deletions,
// a webhook Meta never delivered).
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

const { syncAllTemplates } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 3 },
});

export async function templateSync(): Promise<{ channels: number; failed: number }> {
  return syncAllTemplates();
}
