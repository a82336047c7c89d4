// `tenantWebhookDelivery`: one event to one tenant webhook endpoint (id
// `webhook-delivery:{endpointId}:{eventId}`, so a repeated dispatch is a no-op). Each attempt is
// an activity (activities/webhooks.ts) that POSTs the signed event and records how it went on the
// delivery row; Temporal's retry policy is the backoff (doubling from the initial interval up to
// the maximum, a receiver's Retry-After as the next delay). When the attempts run out the
// delivery is failed and counts against the endpoint, which is disabled after too many in a row.
//
// `tenantEventSweep` runs on a Schedule (every minute, overlap SKIP): it dispatches events a
// crash left undispatched between their commit and their dispatch.
import { ActivityFailure, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export interface DeliveryPolicy {
  /** One POST's deadline. */
  attemptTimeoutMs: number;
  initialIntervalMs: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  /** Failed deliveries in a row that disable the endpoint. */
  disableAfterFailures: number;
}

export interface WebhookDeliveryInput {
  deliveryId: string;
  tenantId: string;
  policy: DeliveryPolicy;
}

export type WebhookAttemptResult =
  | { status: 'delivered'; statusCode: number }
  /** Nothing to send any more: the endpoint was deleted or disabled, or it answered 410 Gone. */
  | { status: 'dropped'; reason: string };

export type WebhookDeliveryResult = WebhookAttemptResult | { status: 'failed'; reason: string; endpointDisabled: boolean };

export function webhookDeliveryWorkflowId(endpointId: string, eventId: string): string {
  return `webhook-delivery:${endpointId}:${eventId}`;
}

/** The innermost failure's message, for the result. */
function reasonOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

export async function tenantWebhookDelivery(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const { policy } = input;
  const attempt = proxyActivities<Activities>({
    // The activity aborts its request at attemptTimeoutMs; the margin covers the row updates.
    startToCloseTimeout: policy.attemptTimeoutMs + 5_000,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: policy.maximumIntervalMs,
      maximumAttempts: policy.maximumAttempts,
    },
  });
  const record = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20 },
  });

  try {
    return await attempt.attemptWebhookDelivery.executeWithOptions({ summary: "POST the event to the tenant's endpoint" }, [
      {
        deliveryId: input.deliveryId,
        tenantId: input.tenantId,
        timeoutMs: policy.attemptTimeoutMs,
        initialIntervalMs: policy.initialIntervalMs,
        maximumIntervalMs: policy.maximumIntervalMs,
      },
    ]);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const reason = reasonOf(err);
    const { endpointDisabled } = await record.recordWebhookDeliveryExhausted.executeWithOptions({ summary: 'record the delivery failed for good' }, [
      { deliveryId: input.deliveryId, tenantId: input.tenantId, disableAfterFailures: policy.disableAfterFailures },
    ]);
    log.warn('webhook delivery failed for good', { deliveryId: input.deliveryId, endpointDisabled });
    return { status: 'failed', reason, endpointDisabled };
  }
}

export interface TenantEventSweepInput {
  /** Events younger than this are left to their writer's own dispatch (default a minute). */
  olderThanMs?: number;
}

export async function tenantEventSweep(input: TenantEventSweepInput = {}): Promise<{ events: number }> {
  const { sweepTenantEvents } = proxyActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
  });
  return sweepTenantEvents({ olderThanMs: input.olderThanMs ?? 60_000 });
}
