// Stripe, through its official SDK: the client (off without STRIPE_SECRET_KEY), the customer of a
// tenant, Checkout and customer portal sessions, invoices. Subscription state comes back by
// webhooks (api/webhooks/stripe.ts → workflows/stripe-events.ts → lib/billing-accounts.ts).
import Stripe from 'stripe';
import type { Config } from './config.ts';
import type { Db } from './db.ts';
import { planOfTenant, type PlanDefaults } from './plans.ts';

export interface Billing {
  stripe: Stripe;
  webhookSecret: string;
  /** Plan id → the Stripe price checkout subscribes to (STRIPE_PRICES). */
  prices: Record<string, string>;
  /** Meter → the event name of its Stripe Billing Meter (STRIPE_METER_EVENTS). */
  meterEvents: Record<string, string>;
}

export class BillingError extends Error {
  constructor(
    readonly code: 'plan_not_purchasable' | 'no_billing_account' | 'unknown_plan',
    message: string,
  ) {
    super(message);
    this.name = 'BillingError';
  }
}

/** Billing from the configuration; undefined when no Stripe key is configured (billing off). */
export function billingOf(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_WEBHOOK_SECRET' | 'STRIPE_API_URL' | 'STRIPE_PRICES' | 'STRIPE_METER_EVENTS'>): Billing | undefined {
  if (!config.STRIPE_SECRET_KEY || !config.STRIPE_WEBHOOK_SECRET) return undefined;
  const api = config.STRIPE_API_URL ? new URL(config.STRIPE_API_URL) : undefined;
  const stripe = new Stripe(config.STRIPE_SECRET_KEY, {
    // Idempotency keys make the SDK's own retries safe for every create below.
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
    ...(api && { host: api.hostname, port: api.port || (api.protocol === 'https:' ? 443 : 80), protocol: api.protocol === 'https:' ? 'https' : 'http' }),
  });
  return { stripe, webhookSecret: config.STRIPE_WEBHOOK_SECRET, prices: config.STRIPE_PRICES, meterEvents: config.STRIPE_METER_EVENTS };
}

/** The plan a Stripe price subscribes to (undefined: none of ours). */
export function planOfPrice(billing: Billing, priceId: string): string | undefined {
  return Object.entries(billing.prices).find(([, price]) => price === priceId)?.[0];
}

/**
 * The tenant's Stripe customer, created on first use. The idempotency key names the tenant, so
 * two first checkouts at once get one customer; its id is kept in the billing account.
 */
export async function customerOfTenant(db: Db, billing: Billing, tenantId: string, defaults: PlanDefaults): Promise<string> {
  const account = await db.billingAccount.findUnique({ where: { tenantId }, select: { stripeCustomerId: true } });
  if (account?.stripeCustomerId) return account.stripeCustomerId;
  const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { name: true, slug: true } });
  const customer = await billing.stripe.customers.create(
    { name: tenant.name, metadata: { tenantId, tenantSlug: tenant.slug } },
    { idempotencyKey: `customer-of-tenant-${tenantId}` },
  );
  const plan = await planOfTenant(db, tenantId, defaults);
  await db.billingAccount.upsert({
    where: { tenantId },
    create: { tenantId, planId: plan.id, stripeCustomerId: customer.id },
    update: { stripeCustomerId: customer.id },
  });
  return customer.id;
}

export interface ReturnUrls {
  successUrl: string;
  cancelUrl: string;
}

/** A Checkout session that subscribes the tenant to `planId`'s price: its URL. */
export async function createCheckout(db: Db, billing: Billing, tenantId: string, planId: string, urls: ReturnUrls, defaults: PlanDefaults): Promise<{ url: string; id: string }> {
  const exists = await db.plan.findUnique({ where: { id: planId }, select: { id: true } });
  if (!exists) throw new BillingError('unknown_plan', `No plan "${planId}"`);
  const price = billing.prices[planId];
  if (!price) throw new BillingError('plan_not_purchasable', `The ${planId} plan has no Stripe price (STRIPE_PRICES): an operator sets it`);
  const customer = await customerOfTenant(db, billing, tenantId, defaults);
  const session = await billing.stripe.checkout.sessions.create({
    mode: 'subscription',
    customer,
    client_reference_id: tenantId,
    line_items: [{ price, quantity: 1 }],
    metadata: { tenantId, plan: planId },
    subscription_data: { metadata: { tenantId, plan: planId } },
    success_url: urls.successUrl,
    cancel_url: urls.cancelUrl,
  });
  if (!session.url) throw new Error('Stripe returned a checkout session without a URL');
  return { url: session.url, id: session.id };
}

/** A customer portal session (payment methods, invoices, cancelling): its URL. */
export async function createPortal(db: Db, billing: Billing, tenantId: string, returnUrl: string): Promise<{ url: string }> {
  const account = await db.billingAccount.findUnique({ where: { tenantId }, select: { stripeCustomerId: true } });
  if (!account?.stripeCustomerId) throw new BillingError('no_billing_account', 'The tenant has no Stripe customer yet: subscribe through checkout first');
  const session = await billing.stripe.billingPortal.sessions.create({ customer: account.stripeCustomerId, return_url: returnUrl });
  return { url: session.url };
}

export interface InvoiceView {
  id: string;
  number: string | null;
  status: string | null;
  currency: string;
  amountDue: number;
  amountPaid: number;
  createdAt: string;
  periodStart: string;
  periodEnd: string;
  hostedInvoiceUrl: string | null;
  invoicePdf: string | null;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** The tenant's invoices, newest first, as Stripe lists them (none without a customer). */
export async function listInvoices(db: Db, billing: Billing, tenantId: string, limit: number): Promise<InvoiceView[]> {
  const account = await db.billingAccount.findUnique({ where: { tenantId }, select: { stripeCustomerId: true } });
  if (!account?.stripeCustomerId) return [];
  const invoices = await billing.stripe.invoices.list({ customer: account.stripeCustomerId, limit });
  return invoices.data.map((i) => ({
    id: i.id,
    number: i.number ?? null,
    status: i.status ?? null,
    currency: i.currency,
    amountDue: i.amount_due,
    amountPaid: i.amount_paid,
    createdAt: iso(i.created),
    periodStart: iso(i.period_start),
    periodEnd: iso(i.period_end),
    hostedInvoiceUrl: i.hosted_invoice_url ?? null,
    invoicePdf: i.invoice_pdf ?? null,
  }));
}
