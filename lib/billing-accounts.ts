// A tenant's billing account: which plan it is on, changed by an operator by hand or by a Stripe
// subscription event, every change audited in plan_changes (who, when, from, to). Plans are read
// from here on every check (lib/plans.ts), so a change applies to the next request everywhere.
import type Stripe from 'stripe';
import type { Db } from './db.ts';
import { planOfPrice, type Billing } from './billing.ts';
import { defaultPlan, UnknownPlanError } from './plans.ts';

export interface PlanActor {
  kind: 'operator' | 'stripe';
  /** The operator's name, or the Stripe event id. */
  name: string;
  reason?: string;
  requestId?: string;
}

/** Subscription statuses that give the subscribed plan; any other leaves the tenant on the default plan. */
const PAID_STATUSES = new Set(['active', 'trialing', 'past_due']);

/**
 * Puts the tenant on `toPlanId` and audits it (nothing is audited when it is already on it).
 * In one transaction, the account row locked, so concurrent changes are serialised and each
 * audit row's `from` is what the change really replaced.
 */
export async function setTenantPlan(db: Db, tenantId: string, toPlanId: string, actor: PlanActor, extra: { stripeCustomerId?: string; stripeSubscriptionId?: string | null; subscriptionStatus?: string | null; currentPeriodEnd?: Date | null; stripeEventAt?: Date } = {}): Promise<{ from: string; to: string; changed: boolean }> {
  const target = await db.plan.findUnique({ where: { id: toPlanId }, select: { id: true } });
  if (!target) throw new UnknownPlanError(toPlanId);
  const fallback = (await defaultPlan(db, { documents: 0, chunks: 0 })).id;
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM billing_accounts WHERE tenant_id = ${tenantId}::uuid FOR UPDATE`;
    const account = await tx.billingAccount.findUnique({ where: { tenantId }, select: { planId: true } });
    const from = account?.planId ?? fallback;
    await tx.billingAccount.upsert({ where: { tenantId }, create: { tenantId, planId: toPlanId, ...extra }, update: { planId: toPlanId, ...extra } });
    if (from === toPlanId) return { from, to: toPlanId, changed: false };
    await tx.planChange.create({
      data: { tenantId, fromPlanId: from, toPlanId, actorKind: actor.kind, actor: actor.name, reason: actor.reason ?? null, requestId: actor.requestId ?? null },
    });
    return { from, to: toPlanId, changed: true };
  });
}

export const HANDLED_STRIPE_EVENTS = new Set(['checkout.session.completed', 'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted']);

/**
 * Applies one stored Stripe event. Idempotent: applying it again sets the same state, and a
 * subscription event older than the newest one applied to the account changes nothing (Stripe
 * does not deliver in order).
 */
export async function applyStripeEvent(db: Db, billing: Billing | undefined, event: Stripe.Event): Promise<{ applied: boolean; tenantId?: string; plan?: string }> {
  if (event.type === 'checkout.session.completed') {
    // The subscription's own events carry its state; this one links the customer to the tenant early.
    const session = event.data.object;
    const tenantId = session.client_reference_id ?? session.metadata?.tenantId;
    const customer = typeof session.customer === 'string' ? session.customer : session.customer?.id;
    if (!tenantId || !customer || !(await db.tenant.findUnique({ where: { id: tenantId }, select: { id: true } }))) return { applied: false };
    const fallback = (await defaultPlan(db, { documents: 0, chunks: 0 })).id;
    await db.billingAccount.upsert({ where: { tenantId }, create: { tenantId, planId: fallback, stripeCustomerId: customer }, update: { stripeCustomerId: customer } });
    return { applied: true, tenantId };
  }
  if (event.type === 'customer.subscription.created' || event.type === 'customer.subscription.updated' || event.type === 'customer.subscription.deleted') {
    const subscription = event.data.object;
    const customer = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id;
    const byCustomer = await db.billingAccount.findUnique({ where: { stripeCustomerId: customer }, select: { tenantId: true, stripeEventAt: true } });
    const tenantId = byCustomer?.tenantId ?? subscription.metadata?.tenantId;
    if (!tenantId || !(await db.tenant.findUnique({ where: { id: tenantId }, select: { id: true } }))) return { applied: false };
    const at = new Date(event.created * 1000);
    const current = byCustomer ?? (await db.billingAccount.findUnique({ where: { tenantId }, select: { tenantId: true, stripeEventAt: true } }));
    if (current?.stripeEventAt && current.stripeEventAt > at) return { applied: false, tenantId };
    const item = subscription.items.data[0];
    const subscribed = item && billing ? planOfPrice(billing, item.price.id) : undefined;
    const paid = event.type !== 'customer.subscription.deleted' && PAID_STATUSES.has(subscription.status);
    const plan = paid && subscribed ? subscribed : (await defaultPlan(db, { documents: 0, chunks: 0 })).id;
    await setTenantPlan(db, tenantId, plan, { kind: 'stripe', name: event.id, reason: `${event.type} (${subscription.status})` }, {
      stripeCustomerId: customer,
      stripeSubscriptionId: subscription.id,
      subscriptionStatus: subscription.status,
      currentPeriodEnd: item ? new Date(item.current_period_end * 1000) : null,
      stripeEventAt: at,
    });
    return { applied: true, tenantId, plan };
  }
  return { applied: false };
}
