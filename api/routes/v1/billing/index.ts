// /api/v1/billing: the tenant's plan and its usage against it (always), and, with Stripe configured,
// subscribing (a Checkout session), the customer portal and invoices. Without STRIPE_SECRET_KEY
// the Stripe routes answer 404 billing_disabled: every tenant stays on the plan an operator set.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import Stripe from 'stripe';
import { z } from 'zod';
import { billingOf, BillingError, createCheckout, createPortal, listInvoices, type Billing } from '../../../../lib/billing.ts';
import { periodMeters } from '../../../../lib/metering.ts';
import { PLAN_FEATURE_LABELS, PLAN_FEATURES } from '../../../../lib/plan-features.ts';
import { PLAN_WARNING_RATIO, planUsage } from '../../../../lib/plan-limits.ts';
import { billingPeriod, listPlans, PLAN_LIMIT_NAMES, planDefaultsOf, type Plan } from '../../../../lib/plans.ts';
import { publicBaseUrl } from '../../../../lib/public-urls.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses } from '../../../schemas/common.ts';

const limitsSchema = z
  .object({
    monthlyMessages: z.number().nullable().describe('Messages stored (both directions, every channel) per billing period'),
    documents: z.number().nullable(),
    chunks: z.number().nullable(),
    seats: z.number().nullable().describe('Team members plus pending invitations'),
    channels: z.number().nullable(),
    monthlyModelSpendUsd: z.number().nullable().describe('Model and embedding cost per billing period, USD'),
  })
  .describe('null: no limit');

export const planSchema = z.object({
  id: z.string(),
  name: z.string(),
  isDefault: z.boolean(),
  limits: limitsSchema,
  features: z.array(z.string()).describe(`The features the plan includes: ${PLAN_FEATURES.join(', ')} (a channel type is a feature)`),
  purchasable: z.boolean().describe('Checkout can subscribe to it (a Stripe price is configured for it)'),
});

const limitUsage = z.object({
  used: z.number(),
  limit: z.number().nullable(),
  ratio: z.number().describe('used / limit (0 without a limit)'),
  warning: z.boolean().describe(`At or above ${PLAN_WARNING_RATIO * 100} % of the limit`),
  reached: z.boolean().describe('Nothing more may be added'),
});

const summarySchema = z.object({
  billingEnabled: z.boolean().describe('Stripe is configured: checkout, portal and invoices are available'),
  plan: planSchema,
  subscription: z
    .object({ status: z.string().nullable(), currentPeriodEnd: z.string().nullable(), customer: z.boolean().describe('A Stripe customer exists for the tenant') })
    .nullable()
    .describe('null: the tenant has no billing account (default plan)'),
  period: z.object({ start: z.string(), end: z.string() }).describe('The billing period: the current UTC calendar month'),
  usage: z.object(Object.fromEntries(PLAN_LIMIT_NAMES.map((n) => [n, limitUsage])) as Record<(typeof PLAN_LIMIT_NAMES)[number], typeof limitUsage>),
  warnings: z.array(z.enum(PLAN_LIMIT_NAMES)).describe('Limits at or above the warning share'),
  features: z
    .array(z.object({ feature: z.enum(PLAN_FEATURES), label: z.string(), included: z.boolean() }))
    .describe("Every feature a plan may include, in order, and whether the tenant's plan does (routes needing a missing one answer 402 plan_feature_unavailable)"),
  meters: z
    .array(z.object({ meter: z.string(), provider: z.string().nullable(), model: z.string().nullable(), channel: z.string().nullable(), events: z.number(), quantity: z.number(), costUsd: z.number() }))
    .describe('The period\'s metered events: model_tokens and embedding_tokens per provider and model, messages per channel, storage_bytes uploaded'),
});

const invoiceSchema = z.object({
  id: z.string(),
  number: z.string().nullable(),
  status: z.string().nullable(),
  currency: z.string(),
  amountDue: z.number().describe('In the currency\'s smallest unit'),
  amountPaid: z.number(),
  createdAt: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  hostedInvoiceUrl: z.string().nullable(),
  invoicePdf: z.string().nullable(),
});

const disabled = { 404: errorBody.describe('billing_disabled: no Stripe key is configured on this platform') };
const providerDown = { 502: errorBody.describe('billing_provider_error: Stripe refused or could not be reached') };

export function planView(plan: Plan, billing: Billing | undefined): z.infer<typeof planSchema> {
  return { ...plan, purchasable: Boolean(billing?.prices[plan.id]) };
}

const billingRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['billing'];
  const billing = billingOf(app.config);
  const defaults = planDefaultsOf(app.config);
  const appUrl = `${publicBaseUrl(app.config)}/app/usage`;

  const requireBilling = (): Billing => {
    if (!billing) throw new HttpError(404, 'billing_disabled', 'Billing is not configured on this platform');
    return billing;
  };
  /** Stripe's own errors become 502 (logged); ours pass through. */
  const fromStripe = (request: FastifyRequest) => (err: unknown): never => {
    if (err instanceof BillingError) throw new HttpError(err.code === 'unknown_plan' ? 404 : 409, err.code, err.message);
    if (err instanceof Stripe.errors.StripeError) {
      request.log.warn({ type: err.type, code: err.code, statusCode: err.statusCode }, 'stripe request failed');
      throw new HttpError(502, 'billing_provider_error', 'The billing provider could not do this right now; retry later');
    }
    throw err;
  };

  app.get(
    '/',
    { schema: { tags, summary: "The tenant's plan, its usage against the plan's limits this period, and its subscription", response: { 200: summarySchema, ...errorResponses } } },
    async (request) => {
      const [{ plan, usage, period }, account, meters] = await Promise.all([
        planUsage(app.db, request.tenantId, defaults),
        request.tenantDb.billingAccount.findUnique({ where: { tenantId: request.tenantId } }),
        periodMeters(app.db, request.tenantId, billingPeriod().start),
      ]);
      return {
        billingEnabled: Boolean(billing),
        plan: planView(plan, billing),
        subscription: account ? { status: account.subscriptionStatus, currentPeriodEnd: account.currentPeriodEnd?.toISOString() ?? null, customer: Boolean(account.stripeCustomerId) } : null,
        period: { start: period.start.toISOString(), end: period.end.toISOString() },
        usage,
        warnings: PLAN_LIMIT_NAMES.filter((n) => usage[n].warning),
        features: PLAN_FEATURES.map((feature) => ({ feature, label: PLAN_FEATURE_LABELS[feature], included: plan.features.includes(feature) })),
        meters,
      };
    },
  );

  app.get(
    '/plans',
    { schema: { tags, summary: 'Every plan, in order', response: { 200: z.object({ items: z.array(planSchema) }), ...errorResponses } } },
    async () => ({ items: (await listPlans(app.db, defaults)).map((p) => planView(p, billing)) }),
  );

  app.post(
    '/checkout',
    {
      schema: {
        tags,
        summary: 'Start subscribing to a plan: a Stripe Checkout session, whose URL the browser opens',
        description:
          'The subscription takes effect when Stripe reports it (POST /webhooks/stripe), not here. 404 billing_disabled without Stripe; 404 unknown_plan; ' +
          '409 plan_not_purchasable when the plan has no Stripe price (STRIPE_PRICES); 502 billing_provider_error when Stripe fails.',
        body: z.object({ plan: z.string().min(1).max(64).describe('A plan id from GET /api/v1/billing/plans') }).strict(),
        response: { 201: z.object({ url: z.string(), id: z.string().describe('The Checkout session id') }), ...errorResponses, ...disabled, ...providerDown },
      },
    },
    async (request, reply) => {
      const stripe = requireBilling();
      const session = await createCheckout(app.db, stripe, request.tenantId, request.body.plan, { successUrl: `${appUrl}?checkout=success`, cancelUrl: `${appUrl}?checkout=cancelled` }, defaults).catch(fromStripe(request));
      request.log.info({ plan: request.body.plan, sessionId: session.id }, 'checkout session created');
      return reply.status(201).send(session);
    },
  );

  app.post(
    '/portal',
    {
      schema: {
        tags,
        summary: "A Stripe customer portal session (payment methods, invoices, cancelling): its URL",
        description: '404 billing_disabled without Stripe; 409 no_billing_account before the first checkout; 502 billing_provider_error when Stripe fails.',
        response: { 201: z.object({ url: z.string() }), ...errorResponses, ...disabled, ...providerDown },
      },
    },
    async (request, reply) => reply.status(201).send(await createPortal(app.db, requireBilling(), request.tenantId, appUrl).catch(fromStripe(request))),
  );

  app.get(
    '/invoices',
    {
      schema: {
        tags,
        summary: "The tenant's invoices, newest first, as Stripe has them",
        description: 'Empty before the first checkout. 404 billing_disabled without Stripe; 502 billing_provider_error when Stripe fails.',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
        response: { 200: z.object({ items: z.array(invoiceSchema) }), ...errorResponses, ...disabled, ...providerDown },
      },
    },
    async (request) => ({ items: await listInvoices(app.db, requireBilling(), request.tenantId, request.query.limit).catch(fromStripe(request)) }),
  );
};

export default billingRoutes;
