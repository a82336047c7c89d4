// `stripeEvent`: applies one Stripe webhook event, stored by POST /webhooks/stripe before it was
// acknowledged (api/webhooks/stripe.ts). One workflow per event id, so a redelivery starts nothing
// new; the activity retries until the database takes it, so an acknowledged event is never lost.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export interface StripeEventInput {
  eventId: string;
}

export const stripeEventWorkflowId = (eventId: string) => `stripe-event-${eventId}`;

const { applyStoredStripeEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

export async function stripeEvent(input: StripeEventInput): Promise<{ applied: boolean; plan?: string }> {
  return applyStoredStripeEvent({ eventId: input.eventId });
}
