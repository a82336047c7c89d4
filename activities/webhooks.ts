// Tenant webhook activities: one delivery attempt (POST the signed event, record the attempt on
// the delivery row), the end of a delivery whose retries ran out (count it against the endpoint,
// disable the endpoint after too many in a row), and the outbox sweep.
//
// Decisions (README "Tenant webhooks"):
// - 2xx delivered. 410 Gone disables the endpoint at once (the receiver says it is gone for
//   good). Everything else is retried, 4xx included: a receiver's 400/401/404 is usually a
//   deploy or configuration slip that the tenant fixes within the retry window.
// - Redirects are never followed (a 3xx is a failed attempt), so a delivery cannot be bounced
//   into the platform's own network; the connection itself goes through lib/tenant-urls.ts's
//   dispatcher, which refuses internal addresses however the name resolves. Every network
//   failure (refused address, connection refused, timeout) is recorded as the same lastError,
//   the detail logged at debug level only: the delivery log is no port scanner. A Retry-After (seconds, date, or retry-after-ms) becomes the
//   next retry delay, capped at an hour.
// - A tenant whose plan lacks the "webhooks" feature (lib/plan-features.ts) gets no delivery: each
//   attempt reads the plan, and one on such a plan ends the delivery failed, not sent, without
//   counting against the endpoint (the receiver did nothing wrong).
// - Only a short, whitespace-folded prefix of the receiver's answer is kept in lastError; the
//   request body (which may carry message text) is never logged.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { planIncludes } from '../lib/plan-features.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { webhookEnvelope } from '../lib/tenant-events.ts';
import { signWebhook, webhookSecret, type WebhookDispatcher } from '../lib/tenant-webhooks.ts';
import { networkFailureDetail, refusedTenantUrl, tenantDispatcher, UNREACHABLE } from '../lib/tenant-urls.ts';
import type { Agent } from 'undici';
import type { WebhookAttemptResult } from '../workflows/webhook-delivery.ts';
import { retryAfterMs } from './llm/provider.ts';

export const WEBHOOK_ATTEMPT_FAILED = 'WebhookAttemptFailed';
export const WEBHOOK_ENDPOINT_REFUSED = 'WebhookEndpointRefused';
/** A receiver cannot push a retry further out than this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
const ANSWER_SNIPPET_CHARS = 200;

export interface WebhookAttemptInput {
  deliveryId: string;
  tenantId: string;
  timeoutMs: number;
  /** The retry policy's backoff: a receiver's Retry-After may lengthen the next wait, never shorten it. */
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
}

/** The wait before the attempt after `attempt` (1-based): the policy's doubling backoff, or a longer Retry-After. */
export function nextWebhookRetryDelay(attempt: number, retryAfter: number, policy: { initialIntervalMs: number; maximumIntervalMs: number }): number {
  const backoff = Math.min(policy.initialIntervalMs * 2 ** (attempt - 1), policy.maximumIntervalMs);
  return Math.min(Math.max(retryAfter, backoff), Math.max(MAX_RETRY_AFTER_MS, policy.maximumIntervalMs));
}

/** Why the platform will not call this URL as written, or undefined. Checked again at send time. */
export function refusedUrl(url: string, allowInsecure: boolean): string | undefined {
  return refusedTenantUrl(url, allowInsecure);
}

/** The first characters of an answer, without reading a large body whole. */
async function answerSnippet(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < 4 * ANSWER_SNIPPET_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, ANSWER_SNIPPET_CHARS);
}

export function createWebhookActivities(deps: {
  db: Db;
  keyring: Keyring;
  logger: Logger;
  dispatcher: WebhookDispatcher;
  allowInsecureEndpoints?: boolean;
  /** The connections deliveries go through (tests map names with their own); lib/tenant-urls.ts by default. */
  connections?: Agent;
  /**
   * Attempts by outcome and endpoints disabled (default: a private registry). An attempt whose
   * outcome could not be recorded is retried and counted again.
   */
  metrics?: WorkerMetrics;
}) {
  const { db, keyring, logger } = deps;
  const metrics = deps.metrics ?? new WorkerMetrics();
  const connections = deps.connections ?? tenantDispatcher({ allowInsecure: deps.allowInsecureEndpoints ?? false });

  return {
    /** One POST of the event to the endpoint; throws (retryable) on anything but 2xx and 410. */
    async attemptWebhookDelivery(input: WebhookAttemptInput): Promise<WebhookAttemptResult> {
      const tdb = forTenant(db, input.tenantId);
      const delivery = await tdb.webhookDelivery.findFirst({ where: { id: input.deliveryId }, include: { endpoint: true, event: true } });
      if (!delivery) return { status: 'dropped', reason: 'the endpoint was deleted' };
      if (delivery.status === 'delivered') return { status: 'delivered', statusCode: delivery.lastStatusCode ?? 200 };
      const { endpoint, event } = delivery;
      const plan = await planIncludes(db, input.tenantId, 'webhooks');
      if (!plan.included) {
        const reason = `not sent: the ${plan.planId} plan does not include webhooks`;
        await tdb.webhookDelivery.updateMany({ where: { id: delivery.id, status: 'pending' }, data: { status: 'failed', lastError: reason } });
        logger.info({ deliveryId: delivery.id, endpointId: endpoint.id, eventType: event.type, plan: plan.planId }, 'webhook delivery skipped: the plan does not include webhooks');
        return { status: 'dropped', reason };
      }
      if (endpoint.status !== 'active') {
        await tdb.webhookDelivery.updateMany({ where: { id: delivery.id, status: 'pending' }, data: { status: 'failed', lastError: 'the endpoint is disabled' } });
        return { status: 'dropped', reason: 'the endpoint is disabled' };
      }
      const refused = refusedUrl(endpoint.url, deps.allowInsecureEndpoints ?? false);
      if (refused) {
        await tdb.webhookDelivery.updateMany({ where: { id: delivery.id }, data: { attempts: { increment: 1 }, lastError: refused, lastStatusCode: null, lastAttemptAt: new Date() } });
        metrics.webhookDelivery('failed');
        throw ApplicationFailure.nonRetryable(refused, WEBHOOK_ENDPOINT_REFUSED);
      }

      const body = JSON.stringify(webhookEnvelope(event));
      const timestamp = Math.floor(Date.now() / 1000);
      const timeout = AbortSignal.timeout(input.timeoutMs);
      const started = performance.now();
      let statusCode: number | null = null;
      let error: string | null = null;
      let retryAfter: number | undefined;
      try {
        const response = await fetch(endpoint.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'MetaChat-Webhooks/1',
            'x-metachat-event': event.type,
            'x-metachat-delivery': delivery.id,
            'x-metachat-timestamp': String(timestamp),
            'x-metachat-signature': signWebhook(webhookSecret(keyring, endpoint), timestamp, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([timeout, Context.current().cancellationSignal]),
          dispatcher: connections,
        } as RequestInit);
        statusCode = response.status;
        if (statusCode >= 300 && statusCode < 400) {
          await response.body?.cancel().catch(() => undefined);
          error = `HTTP ${statusCode}: redirects are not followed`;
        } else if (statusCode < 200 || statusCode >= 300) {
          const snippet = await answerSnippet(response).catch(() => '');
          error = `HTTP ${statusCode}${snippet ? `: ${snippet}` : ''}`;
          retryAfter = retryAfterMs(response.headers);
        } else {
          await response.body?.cancel().catch(() => undefined);
        }
      } catch (err) {
        error = `the endpoint ${UNREACHABLE}`;
        logger.debug({ deliveryId: delivery.id, endpointId: endpoint.id, timedOut: timeout.aborted, detail: networkFailureDetail(err) }, 'webhook attempt: no connection');
      }
      const attempt = {
        attempts: { increment: 1 },
        lastStatusCode: statusCode,
        lastError: error,
        lastDurationMs: Math.round(performance.now() - started),
        lastAttemptAt: new Date(),
      };
      const log = { deliveryId: delivery.id, endpointId: endpoint.id, eventType: event.type, statusCode, durationMs: attempt.lastDurationMs };

      if (error === null) {
        await tdb.$transaction([
          tdb.webhookDelivery.updateMany({ where: { id: delivery.id }, data: { ...attempt, status: 'delivered', deliveredAt: new Date() } }),
          tdb.webhookEndpoint.updateMany({ where: { id: endpoint.id, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } }),
        ]);
        metrics.webhookDelivery('delivered');
        logger.debug(log, 'webhook delivered');
        return { status: 'delivered', statusCode: statusCode! };
      }
      if (statusCode === 410) {
        const reason = 'the endpoint answered 410 Gone';
        const [, disabled] = await tdb.$transaction([
          tdb.webhookDelivery.updateMany({ where: { id: delivery.id }, data: { ...attempt, status: 'failed' } }),
          tdb.webhookEndpoint.updateMany({ where: { id: endpoint.id, status: 'active' }, data: { status: 'disabled', disabledAt: new Date(), disabledReason: reason } }),
        ]);
        metrics.webhookDelivery('failed');
        if (disabled.count > 0) metrics.webhookEndpointDisabled(input.tenantId);
        logger.info(log, 'webhook endpoint disabled: 410 Gone');
        return { status: 'dropped', reason };
      }
      await tdb.webhookDelivery.updateMany({ where: { id: delivery.id }, data: attempt });
      // Retried, as far as this attempt knows: when it was the last one, the delivery also ends
      // `failed` (recordWebhookDeliveryExhausted).
      metrics.webhookDelivery('retried');
      logger.info({ ...log, attempt: Context.current().info.attempt }, 'webhook attempt failed');
      throw ApplicationFailure.create({
        message: `webhook ${endpoint.id}: ${error}`,
        type: WEBHOOK_ATTEMPT_FAILED,
        ...(retryAfter !== undefined && {
          nextRetryDelay: nextWebhookRetryDelay(Context.current().info.attempt, retryAfter, {
            initialIntervalMs: input.initialIntervalMs ?? 100,
            maximumIntervalMs: input.maximumIntervalMs ?? MAX_RETRY_AFTER_MS,
          }),
        }),
      });
    },

    /**
     * The delivery ran out of attempts: it is failed and counts against its endpoint, which is
     * disabled at `disableAfterFailures` in a row. Idempotent: only a pending delivery counts.
     */
    async recordWebhookDeliveryExhausted(input: { deliveryId: string; tenantId: string; disableAfterFailures: number }): Promise<{ endpointDisabled: boolean }> {
      const ended = await forTenant(db, input.tenantId).$transaction(async (tx) => {
        const failed = await tx.webhookDelivery.updateManyAndReturn({
          where: { id: input.deliveryId, status: 'pending' },
          data: { status: 'failed' },
          select: { endpointId: true },
        });
        const endpointId = failed[0]?.endpointId;
        if (!endpointId) return { failed: false, endpointDisabled: false };
        const endpoint = await tx.webhookEndpoint.update({ where: { id: endpointId }, data: { consecutiveFailures: { increment: 1 } } });
        if (endpoint.status !== 'active' || endpoint.consecutiveFailures < input.disableAfterFailures) return { failed: true, endpointDisabled: false };
        await tx.webhookEndpoint.update({
          where: { id: endpointId },
          data: { status: 'disabled', disabledAt: new Date(), disabledReason: `${endpoint.consecutiveFailures} deliveries in a row failed after every retry` },
        });
        logger.info({ endpointId, failures: endpoint.consecutiveFailures }, 'webhook endpoint disabled after failed deliveries');
        return { failed: true, endpointDisabled: true };
      });
      // The pending delivery's change to failed, seen once (a retry finds it failed already).
      if (ended.failed) metrics.webhookDelivery('failed');
      if (ended.endpointDisabled) metrics.webhookEndpointDisabled(input.tenantId);
      return { endpointDisabled: ended.endpointDisabled };
    },

    /** The outbox sweep: dispatches events older than `olderThanMs` that are still undispatched. */
    async sweepTenantEvents(input: { olderThanMs: number }): Promise<{ events: number }> {
      let events = 0;
      for (let page = 0; page < 20; page++) {
        const swept = await deps.dispatcher.sweep({ olderThanMs: input.olderThanMs, limit: 500 });
        events += swept.events;
        Context.current().heartbeat(events);
        if (swept.events < 500) break;
      }
      if (events) logger.info({ events }, 'outbox sweep dispatched events');
      return { events };
    },
  };
}
