// Billing activities: apply a stored Stripe webhook event (workflows/stripe-events.ts), and report
// metered usage to Stripe Billing Meters (workflows/stripe-usage-report.ts). Both are idempotent:
// an event is applied once (processed_at) and applying it again sets the same state; a meter event
// is sent with its row id as Stripe's identifier and idempotency key, then marked reported.
import { ApplicationFailure } from '@temporalio/common';
import type Stripe from 'stripe';
import { applyStripeEvent } from '../lib/billing-accounts.ts';
import type { Billing } from '../lib/billing.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';

export interface BillingActivityDependencies {
  db: Db;
  logger: Logger;
  /** lib/billing.ts billingOf(config); unset: billing is off. */
  billing?: Billing;
}

export function createBillingActivities(deps: BillingActivityDependencies) {
  const { db } = deps;
  return {
    async applyStoredStripeEvent(input: { eventId: string }): Promise<{ applied: boolean; plan?: string }> {
      const row = await db.stripeEvent.findUnique({ where: { id: input.eventId } });
      if (!row) throw ApplicationFailure.nonRetryable(`Stripe event ${input.eventId} is not stored`, 'StripeEventMissing');
      if (row.processedAt) return { applied: false };
      const result = await applyStripeEvent(db, deps.billing, row.payload as unknown as Stripe.Event);
      await db.stripeEvent.update({ where: { id: row.id }, data: { processedAt: new Date() } });
      deps.logger.info({ eventId: row.id, type: row.type, tenantId: result.tenantId, plan: result.plan, applied: result.applied }, 'stripe event processed');
      return { applied: result.applied, ...(result.plan && { plan: result.plan }) };
    },

    /** Sends up to `limit` unreported meter events of customers with a metered meter; how many were sent. */
    async reportMeteredUsage(input: { limit: number }): Promise<{ reported: number }> {
      const billing = deps.billing;
      const meters = Object.keys(billing?.meterEvents ?? {});
      if (!billing || meters.length === 0) return { reported: 0 };
      const rows = await db.$queryRaw<{ id: string; meter: string; quantity: bigint; occurred_at: Date; customer: string }[]>`
        SELECT m.id, m.meter, m.quantity, m.occurred_at, b.stripe_customer_id AS customer
          FROM meter_events m JOIN billing_accounts b ON b.tenant_id = m.tenant_id
         WHERE m.reported_at IS NULL AND m.meter = ANY(${meters}::text[]) AND b.stripe_customer_id IS NOT NULL
           AND m.occurred_at >= b.created_at
         ORDER BY m.occurred_at LIMIT ${input.limit}`;
      for (const row of rows) {
        await billing.stripe.billing.meterEvents.create(
          {
            event_name: billing.meterEvents[row.meter]!,
            identifier: row.id,
            timestamp: Math.floor(row.occurred_at.getTime() / 1000),
            payload: { stripe_customer_id: row.customer, value: String(row.quantity) },
          },
          { idempotencyKey: `meter-event-${row.id}` },
        );
        await db.meterEvent.update({ where: { id: row.id }, data: { reportedAt: new Date() } });
      }
      return { reported: rows.length };
    },
  };
}
