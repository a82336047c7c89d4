// `campaign`: a broadcast of one template to a campaign's recipients, batch after batch at the
// campaign's rate (activities/campaigns.ts). The recipients and their outcomes stay in Postgres;
// the history holds one activity per batch and the run continues as new every
// BATCHES_PER_RUN batches, so a list of any length keeps the history short. Cancelling sets the
// campaign's row (which a running batch reads between sends) and signals the run.
import { condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export const cancelCampaignSignal = defineSignal('cancelCampaign');
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgress');

export interface CampaignProgress {
  /** The last recipient position handled (-1: none yet). */
  position: number;
  sent: number;
  failed: number;
  skipped: number;
  cancelled: boolean;
}

export interface CampaignInput {
  tenantId: string;
  campaignId: string;
  ratePerSecond: number;
  batchSize?: number;
  /** Batches per run before continuing as new (default BATCHES_PER_RUN). */
  batchesPerRun?: number;
  /** Carried over by continue-as-new. */
  progress?: CampaignProgress;
}

export const DEFAULT_CAMPAIGN_BATCH_SIZE = 100;
/** Batches per run before continuing as new: about 300 history events. */
export const BATCHES_PER_RUN = 50;

/** A batch at 1 message per second may take minutes; it heartbeats every send. */
const { sendCampaignBatch, finishCampaign } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function campaign(input: CampaignInput): Promise<CampaignProgress> {
  const progress: CampaignProgress = input.progress ?? { position: -1, sent: 0, failed: 0, skipped: 0, cancelled: false };
  const batchSize = input.batchSize ?? DEFAULT_CAMPAIGN_BATCH_SIZE;
  setHandler(cancelCampaignSignal, () => {
    progress.cancelled = true;
  });
  setHandler(campaignProgressQuery, () => progress);

  for (let batches = 0; !progress.cancelled; batches++) {
    if (batches >= (input.batchesPerRun ?? BATCHES_PER_RUN) || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof campaign>({ ...input, progress });
    }
    const batch = await sendCampaignBatch({ tenantId: input.tenantId, campaignId: input.campaignId, afterPosition: progress.position, batchSize, ratePerSecond: input.ratePerSecond });
    progress.position = batch.lastPosition;
    progress.sent += batch.sent;
    progress.failed += batch.failed;
    progress.skipped += batch.skipped;
    if (batch.cancelled) progress.cancelled = true;
    if (batch.done) break;
  }
  await finishCampaign({ tenantId: input.tenantId, campaignId: input.campaignId, cancelled: progress.cancelled });
  return progress;
}
