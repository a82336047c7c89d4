// The campaign workflow's steps: send one batch of recipients at the campaign's rate, and end the
// campaign. The recipients and their outcomes live in campaign_recipients, never in the workflow's
// history, so a list of any length costs the history one activity per batch.
//
// At most once per recipient: a recipient is claimed (pending → sending) before its message goes
// to Meta and marked sent, failed or skipped after. The Graph API has no idempotency key, so a
// recipient a crashed attempt left in `sending` may or may not have got its message; it is
// recorded failed (outcome_unknown) instead of being sent again: a customer gets a marketing
// message twice never, and once at most.
import { ApplicationFailure, Context, sleep } from '@temporalio/activity';
import type { Db } from '../lib/db.ts';
import { forTenant } from '../lib/tenant-db.ts';
import type { TemplateParameters } from '../lib/whatsapp-templates.ts';
import type { TemplateSender } from './templates.ts';

export interface CampaignBatchInput {
  tenantId: string;
  campaignId: string;
  /** Recipients after this position (-1: from the first). */
  afterPosition: number;
  batchSize: number;
  ratePerSecond: number;
}

export interface CampaignBatchResult {
  /** The last position this batch covered; the next batch starts after it. */
  lastPosition: number;
  /** No recipient after lastPosition. */
  done: boolean;
  /** The campaign was cancelled: the batch stopped early. */
  cancelled: boolean;
  /** Outcomes of the batch's recipients, as stored. */
  sent: number;
  failed: number;
  skipped: number;
}

export const OUTCOME_UNKNOWN = 'outcome_unknown';
/** Sends in flight at once: enough to keep the rate with Graph API latencies of a second. */
const MAX_IN_FLIGHT = 16;
/** How often (in sends) a batch looks whether its campaign was cancelled. */
const CANCEL_CHECK_EVERY = 10;

export function createCampaignActivities(deps: { db: Db; sendTemplateMessage: TemplateSender }) {
  const { db } = deps;

  const cancelled = async (tenantId: string, campaignId: string) =>
    (await forTenant(db, tenantId).campaign.findFirst({ where: { id: campaignId }, select: { status: true } }))?.status !== 'running';

  return {
    async sendCampaignBatch(input: CampaignBatchInput): Promise<CampaignBatchResult> {
      const ctx = Context.current();
      const tdb = forTenant(db, input.tenantId);
      const campaign = await tdb.campaign.findFirst({ where: { id: input.campaignId } });
      if (!campaign) throw ApplicationFailure.nonRetryable(`campaign ${input.campaignId} not found`, 'CampaignNotFound');
      const recipients = await tdb.campaignRecipient.findMany({
        where: { campaignId: input.campaignId, position: { gt: input.afterPosition } },
        orderBy: { position: 'asc' },
        take: input.batchSize,
      });
      const lastPosition = recipients.at(-1)?.position ?? input.afterPosition;
      const range = { campaignId: input.campaignId, position: { gt: input.afterPosition, lte: lastPosition } };
      const result = async (wasCancelled: boolean): Promise<CampaignBatchResult> => {
        const counts = await tdb.campaignRecipient.groupBy({ by: ['status'], where: range, _count: { _all: true } });
        const count = (status: string) => counts.find((c) => c.status === status)?._count._all ?? 0;
        return { lastPosition, done: recipients.length < input.batchSize, cancelled: wasCancelled, sent: count('sent'), failed: count('failed'), skipped: count('skipped') };
      };
      if (campaign.status !== 'running') return result(true);

      // Left in `sending` by an attempt that died: maybe delivered, so never sent again.
      await tdb.campaignRecipient.updateMany({ where: { ...range, status: 'sending' }, data: { status: 'failed', reason: OUTCOME_UNKNOWN } });

      const intervalMs = 1000 / input.ratePerSecond;
      const startedAt = Date.now();
      const inFlight = new Set<Promise<void>>();
      let thrown: unknown;
      let started = 0;
      for (const recipient of recipients) {
        if (recipient.status !== 'pending') continue;
        if (thrown !== undefined) break;
        if (started > 0 && started % CANCEL_CHECK_EVERY === 0 && (await cancelled(input.tenantId, input.campaignId))) {
          await Promise.all(inFlight);
          return result(true);
        }
        // The rate: the n-th send of the batch starts no earlier than n intervals after the first.
        const wait = startedAt + started * intervalMs - Date.now();
        if (wait > 0) await sleep(wait);
        while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        const messageCreatedAt = recipient.messageCreatedAt ?? new Date();
        const { count } = await tdb.campaignRecipient.updateMany({ where: { id: recipient.id, status: 'pending' }, data: { status: 'sending', messageCreatedAt } });
        if (count === 0) continue; // taken by another attempt meanwhile
        started++;
        const send = deps
          .sendTemplateMessage(
            {
              tenantId: input.tenantId, channelId: campaign.channelId, to: recipient.to, messageId: recipient.id, createdAt: messageCreatedAt.getTime(),
              template: { name: campaign.templateName, language: campaign.templateLanguage }, parameters: recipient.parameters as TemplateParameters,
              author: 'campaign', campaignId: campaign.id,
            },
            // Retries of a recipient are the batch's retries: its own transient failures give up with the batch's attempts.
            { respectOptOut: true, attempt: ctx.info.attempt, signal: ctx.cancellationSignal },
          )
          .then(async (outcome) => {
            const data =
              outcome.status === 'sent'
                ? { status: 'sent' as const, externalMessageId: outcome.externalMessageId, conversationId: outcome.conversationId, reason: null }
                : outcome.status === 'skipped'
                  ? { status: 'skipped' as const, reason: outcome.reason }
                  : { status: 'failed' as const, reason: outcome.reason, conversationId: outcome.conversationId };
            await tdb.campaignRecipient.updateMany({ where: { id: recipient.id, status: 'sending' }, data });
            ctx.heartbeat({ position: recipient.position });
          })
          .catch(async (err: unknown) => {
            // Not accepted by Meta (a transient failure or the database): sent again by the retry.
            thrown ??= err;
            await tdb.campaignRecipient.updateMany({ where: { id: recipient.id, status: 'sending' }, data: { status: 'pending' } }).catch(() => undefined);
          })
          .finally(() => inFlight.delete(send));
        inFlight.add(send);
      }
      await Promise.all(inFlight);
      if (thrown !== undefined) throw thrown;
      // The batch takes its share of time even when its last sends were quick, so that the next
      // batch's first send keeps the rate too.
      const rest = startedAt + started * intervalMs - Date.now();
      if (rest > 0) await sleep(rest);
      return result(false);
    },

    /** Ends the campaign (only a running one: a cancel wins over completion); a cancelled one's unsent recipients become skipped. */
    async finishCampaign(input: { tenantId: string; campaignId: string; cancelled: boolean }): Promise<void> {
      const tdb = forTenant(db, input.tenantId);
      await tdb.campaign.updateMany({ where: { id: input.campaignId, status: 'running' }, data: { status: input.cancelled ? 'cancelled' : 'completed', finishedAt: new Date() } });
      const campaign = await tdb.campaign.findFirst({ where: { id: input.campaignId }, select: { status: true, finishedAt: true } });
      if (campaign?.status === 'cancelled') {
        await tdb.campaignRecipient.updateMany({ where: { campaignId: input.campaignId, status: 'pending' }, data: { status: 'skipped', reason: 'cancelled' } });
      }
      if (campaign && !campaign.finishedAt) await tdb.campaign.updateMany({ where: { id: input.campaignId }, data: { finishedAt: new Date() } });
    },
  };
}
