// Plans, metering and Stripe billing end to end: plans from the table, an operator's plan change
// (audited, effective at once) and the limits it brings (402 plan_limit_reached, the warning
// header and event), meters written once per event (a retried activity, a redelivered row), the
// official Stripe SDK against the fake Stripe server (checkout, portal, invoices, meter events),
// and Stripe webhooks verified, deduplicated and applied by the stripeEvent workflow on a real
// worker. Billing off: the Stripe routes answer 404 billing_disabled.
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { createBillingActivities } from '../activities/billing.ts';
import { createUsageLedger } from '../activities/llm/usage.ts';
import { billingOf } from '../lib/billing.ts';
import { recordMeterEvent } from '../lib/metering.ts';
import { PLAN_LIMIT_WARNING_EVENT, turnLimitReached } from '../lib/plan-limits.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { taskQueueName, temporalDataConverter } from '../lib/temporal.ts';
import { createTenant } from '../lib/tenants.ts';
import { fakeStripeEnv, startFakeStripe, type FakeStripe } from './fakes/stripe.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { testConfig } from './support/config.ts';
import { createUser, sessionFor, withSession } from './support/team.ts';
import { connectTestTemporal } from './support/temporal.ts';

const PRO_PRICE = 'price_pro_monthly';

describe('plans, metering and billing', () => {
  let stripe: FakeStripe;
  let api: TestApi;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: Worker;
  let running: Promise<void>;
  let off: App;

  beforeAll(async () => {
    stripe = await startFakeStripe();
    stripe.addPrice(PRO_PRICE);
    api = await startTestApi('billing', {
      // starter's price is one Stripe does not have: checkout for it meets Stripe's own error.
      ...fakeStripeEnv(stripe, { pro: PRO_PRICE, starter: 'price_deleted_in_stripe' }, { storage_bytes: 'metachat_storage' }),
      TEMPORAL_TASK_QUEUE_PREFIX: `billing-${randomBytes(4).toString('hex')}-`,
      DOCUMENT_QUOTA_PER_TENANT: '77',
    });
    temporal = await connectTestTemporal();
    // Only the Stripe workflow is bundled: the worker this file needs, and no more.
    worker = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue: taskQueueName(api.config, 'maintenance'),
      workflowsPath: fileURLToPath(new URL('../workflows/stripe-events.ts', import.meta.url)),
      activities: createBillingActivities({ db: api.db, logger: pino({ level: 'silent' }), billing: billingOf(api.config) }),
      dataConverter: temporalDataConverter(api.config.SECRETS_KEYS),
    });
    running = worker.run();
    const offConfig = { ...api.config, STRIPE_SECRET_KEY: undefined, STRIPE_WEBHOOK_SECRET: undefined };
    off = await buildApp({ config: offConfig, db: api.db, temporal: api.app.temporal, logger: pino({ level: 'silent' }) });
    await off.ready();
  }, 120_000);

  afterAll(async () => {
    await off?.close();
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await temporal?.close();
    await api?.close();
    await stripe?.close();
  });

  async function newTenant() {
    const { tenant, apiKey } = await createTenant(api.db, { name: 'Shop', slug: `shop-${randomBytes(5).toString('hex')}` });
    return { id: tenant.id, key: apiKey.key };
  }
  const get = (path: string, key: string, app: App = api.app) => app.inject({ url: path, headers: bearer(key) });
  const post = (path: string, key: string, payload: unknown, app: App = api.app) => app.inject({ method: 'POST', url: path, headers: bearer(key), payload: payload as object });
  const setPlan = (tenantId: string, payload: Record<string, string>) => api.app.inject({ method: 'PUT', url: `/api/v1/admin/tenants/${tenantId}/plan`, headers: bearer(api.adminKey), payload });
  const deliver = (event: Record<string, unknown> & { id: string; object: string }, app: App = api.app) => {
    const { payload, signature } = stripe.signedEvent(event);
    return app.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, payload });
  };
  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('puts a tenant without a billing account on the default plan, its document limit from the environment', async () => {
    const t = await newTenant();
    const res = await get('/api/v1/billing', t.key);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ billingEnabled: true, plan: { id: 'default', isDefault: true, limits: { documents: 77, channels: null } }, subscription: null, warnings: [] });
    expect(body.usage.documents).toEqual({ used: 0, limit: 77, ratio: 0, warning: false, reached: false });
    const plans = (await get('/api/v1/billing/plans', t.key)).json().items as { id: string; purchasable: boolean }[];
    expect(plans.map((p) => p.id)).toEqual(['default', 'starter', 'pro', 'business']);
    expect(plans.find((p) => p.id === 'pro')?.purchasable).toBe(true);
    expect(plans.find((p) => p.id === 'business')?.purchasable).toBe(false);
  });

  it("applies an operator's plan change at once, audits it, and holds the tenant to the new plan's limits", async () => {
    const t = await newTenant();
    const set = await setPlan(t.id, { plan: 'starter', operator: 'ops@platform', reason: 'trial ended' });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ from: 'default', changed: true, plan: { id: 'starter', limits: { channels: 2 } } });
    expect((await get('/api/v1/billing', t.key)).json().plan.id).toBe('starter');

    // Starter allows two channels: the second is at 100 % (warned), the third is refused.
    const channel = (n: number) => post('/api/v1/channels', t.key, { type: 'webchat', name: `Site ${n}`, allowedOrigins: ['https://shop.example.com'] });
    expect((await channel(1)).headers['x-plan-warning']).toBeUndefined();
    const second = await channel(2);
    expect(second.statusCode, second.body).toBe(201);
    expect(second.headers['x-plan-warning']).toBe('channels=100%');
    const third = await channel(3);
    expect(third.statusCode, third.body).toBe(402);
    expect(third.json().error).toMatchObject({ code: 'plan_limit_reached', details: { limit: 'channels', used: 2, max: 2, plan: 'starter' } });
    expect(await forTenant(api.db, t.id).channel.count()).toBe(2);
    const warnings = await forTenant(api.db, t.id).event.findMany({ where: { type: PLAN_LIMIT_WARNING_EVENT } });
    expect(warnings.map((w) => w.payload)).toEqual([expect.objectContaining({ limit: 'channels', plan: 'starter', used: 2, max: 2 })]);

    // Back to the default plan: the next channel is taken at once.
    expect((await setPlan(t.id, { plan: 'default' })).json()).toMatchObject({ from: 'starter', changed: true });
    expect((await channel(3)).statusCode).toBe(201);
    expect((await setPlan(t.id, { plan: 'default' })).json().changed).toBe(false);

    const audit = (await api.app.inject({ url: `/api/v1/admin/tenants/${t.id}/plan-changes`, headers: bearer(api.adminKey) })).json().items;
    expect(audit).toEqual([
      expect.objectContaining({ fromPlan: 'starter', toPlan: 'default', actorKind: 'operator', actor: 'admin', reason: null }),
      expect.objectContaining({ fromPlan: 'default', toPlan: 'starter', actorKind: 'operator', actor: 'ops@platform', reason: 'trial ended', requestId: expect.any(String) }),
    ]);
    expect((await setPlan(t.id, { plan: 'platinum' })).json().error.code).toBe('unknown_plan');
    expect((await setPlan(randomUUID(), { plan: 'pro' })).statusCode).toBe(404);
  });

  it('counts members and pending invitations as seats: an owner cannot invite past the plan', async () => {
    const t = await newTenant();
    await setPlan(t.id, { plan: 'starter' }); // 3 seats
    const owner = await createUser(api.db, t.id, { email: 'owner@shop.example', role: 'owner' });
    const session = await sessionFor(api.db, api.config, owner);
    const invite = (email: string) => api.app.inject({ method: 'POST', url: '/api/v1/team/invitations', headers: withSession(session), payload: { email, role: 'agent' } });
    expect((await invite('a@shop.example')).statusCode).toBe(201);
    const third = await invite('b@shop.example');
    expect(third.statusCode, third.body).toBe(201);
    expect(third.headers['x-plan-warning']).toBe('seats=100%');
    const fourth = await invite('c@shop.example');
    expect(fourth.statusCode).toBe(402);
    expect(fourth.json().error.details).toEqual({ limit: 'seats', used: 3, max: 3, plan: 'starter' });
  });

  it("stops the assistant at the plan's monthly messages, warning first (plans are rows: a new one applies)", async () => {
    const t = await newTenant();
    await api.db.plan.upsert({ where: { id: 'tiny' }, create: { id: 'tiny', name: 'Tiny', monthlyMessages: 5 }, update: {} });
    await setPlan(t.id, { plan: 'tiny' });
    for (let i = 0; i < 4; i++) await recordMeterEvent(api.db, { tenantId: t.id, key: `message:test-${i}`, meter: 'messages', quantity: 1, channel: 'webchat' });
    expect(await turnLimitReached(api.db, t.id)).toBeNull();
    expect(await forTenant(api.db, t.id).event.count({ where: { type: PLAN_LIMIT_WARNING_EVENT } })).toBe(1);
    await recordMeterEvent(api.db, { tenantId: t.id, key: 'message:test-4', meter: 'messages', quantity: 1, channel: 'webchat' });
    expect(await turnLimitReached(api.db, t.id)).toMatchObject({ limit: 'monthlyMessages', used: 5, max: 5, planId: 'tiny' });
    expect((await get('/api/v1/billing', t.key)).json()).toMatchObject({ warnings: ['monthlyMessages'], usage: { monthlyMessages: { used: 5, limit: 5, reached: true } } });
  });

  it('meters each event once: a retried activity, a message and a document stored once', async () => {
    const t = await newTenant();
    const ledger = createUsageLedger(api.db);
    // Two attempts of one activity, each making one call: one billable event, two report rows.
    const attempt = () => new MockActivityEnvironment({ activityId: 'generate-1', workflowExecution: { workflowId: 'wf-1', runId: 'run-1' } }).run(() => ledger.record(t.id, 'openai', 'gpt-4o-mini', 1000, 500));
    await attempt();
    await attempt();
    const tokens = await api.db.meterEvent.findMany({ where: { tenantId: t.id, meter: 'model_tokens' } });
    expect(tokens.map((m) => [Number(m.quantity), m.provider, m.model, Number(m.costUsd)])).toEqual([[1500, 'openai', 'gpt-4o-mini', 0.00045]]);
    expect((await api.db.usage.findFirstOrThrow({ where: { tenantId: t.id } })).requests).toBe(2);

    const tdb = forTenant(api.db, t.id);
    const channel = await post('/api/v1/channels', t.key, { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] });
    const conversation = await tdb.conversation.create({ data: { tenantId: t.id, channelId: channel.json().id, externalUserId: 'visitor-1' } });
    await tdb.message.create({ data: { tenantId: t.id, conversationId: conversation.id, channel: 'webchat', direction: 'inbound', type: 'text', content: { text: 'hi' }, status: 'delivered' } });
    const upload = await post('/api/v1/documents', t.key, { title: 'Hours', content: 'Open at nine.', format: 'text' });
    expect(upload.statusCode, upload.body).toBe(202);
    const meters = (await get('/api/v1/billing', t.key)).json().meters as { meter: string; channel: string | null; events: number; quantity: number }[];
    expect(meters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ meter: 'messages', channel: 'webchat', events: 1, quantity: 1 }),
        expect.objectContaining({ meter: 'storage_bytes', events: 1, quantity: 'Open at nine.'.length }),
        expect.objectContaining({ meter: 'model_tokens', events: 1, quantity: 1500 }),
      ]),
    );
  });

  it('subscribes through Stripe Checkout: the webhook, verified and deduplicated, moves the tenant to the plan by a workflow', async () => {
    const t = await newTenant();
    expect((await post('/api/v1/billing/portal', t.key, {})).json().error.code).toBe('no_billing_account');
    expect((await get('/api/v1/billing/invoices', t.key)).json()).toEqual({ items: [] });
    expect((await post('/api/v1/billing/checkout', t.key, { plan: 'business' })).json().error.code).toBe('plan_not_purchasable');
    expect((await post('/api/v1/billing/checkout', t.key, { plan: 'platinum' })).statusCode).toBe(404);
    const refusedByStripe = await post('/api/v1/billing/checkout', t.key, { plan: 'starter' });
    expect(refusedByStripe.statusCode, refusedByStripe.body).toBe(502);
    expect(refusedByStripe.json().error.code).toBe('billing_provider_error');

    const checkout = await post('/api/v1/billing/checkout', t.key, { plan: 'pro' });
    expect(checkout.statusCode, checkout.body).toBe(201);
    const { url, id } = checkout.json();
    expect(url).toBe(`${stripe.url}/pay/${id}`);
    const again = await post('/api/v1/billing/checkout', t.key, { plan: 'pro' });
    expect(again.statusCode).toBe(201);
    const created = stripe.requests.filter((r) => r.path === '/v1/customers' && r.idempotencyKey === `customer-of-tenant-${t.id}`);
    expect(created).toHaveLength(1);
    const session = stripe.requests.find((r) => r.path === '/v1/checkout/sessions' && r.params.client_reference_id === t.id && JSON.stringify(r.params).includes(PRO_PRICE))!;
    expect(session.params).toMatchObject({ mode: 'subscription', client_reference_id: t.id, line_items: [{ price: PRO_PRICE, quantity: '1' }], metadata: { tenantId: t.id, plan: 'pro' } });

    const { subscription, events } = stripe.completeCheckout(id);
    const forged = stripe.signedEvent(events[1]!, 'whsec_wrongsecret');
    const refused = await api.app.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': forged.signature }, payload: forged.payload });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.code).toBe('invalid_signature');
    for (const event of events) expect((await deliver(event)).json()).toEqual({ received: true });
    expect((await deliver(events[1]!)).statusCode).toBe(200); // a redelivery
    const invoicePaid = stripe.event('invoice.paid', { id: 'in_1', object: 'invoice' });
    expect((await deliver(invoicePaid)).json()).toEqual({ received: true });
    expect(await api.db.stripeEvent.findUnique({ where: { id: invoicePaid.id } })).toBeNull();

    // The summary reads the plan and the account row in parallel, so for a moment after the
    // subscription's event it can show the new plan beside the account as it was before.
    const billing = await eventually(() => get('/api/v1/billing', t.key).then((r) => r.json()), (b) => b.plan.id === 'pro' && b.subscription?.status === 'active', 'the plan and status from the subscription');
    expect(billing.subscription).toMatchObject({ status: 'active', customer: true, currentPeriodEnd: expect.any(String) });
    await eventually(() => api.db.stripeEvent.count({ where: { id: { in: events.map((e) => e.id) }, processedAt: { not: null } } }), (n) => n === 2, 'both events processed');
    const changes = await api.db.planChange.findMany({ where: { tenantId: t.id } });
    expect(changes.map((c) => [c.fromPlanId, c.toPlanId, c.actorKind, c.actor])).toEqual([['default', 'pro', 'stripe', events[1]!.id]]);

    // Out of order: a cancellation dated before the applied event changes nothing; a newer one does.
    const stale = stripe.event('customer.subscription.deleted', { ...subscription, status: 'canceled' }, Number(events[1]!.created) - 60);
    await deliver(stale);
    await eventually(() => api.db.stripeEvent.findUnique({ where: { id: stale.id } }), (e) => Boolean(e?.processedAt), 'the stale event processed');
    expect((await get('/api/v1/billing', t.key)).json().plan.id).toBe('pro');
    await deliver(stripe.event('customer.subscription.deleted', { ...subscription, status: 'canceled' }, Number(events[1]!.created) + 60));
    await eventually(() => get('/api/v1/billing', t.key).then((r) => r.json()), (b) => b.plan.id === 'default', 'the default plan after cancelling');

    const portal = await post('/api/v1/billing/portal', t.key, {});
    expect(portal.statusCode, portal.body).toBe(201);
    expect(portal.json().url).toMatch(`${stripe.url}/portal/`);
    const customer = (await api.db.billingAccount.findUniqueOrThrow({ where: { tenantId: t.id } })).stripeCustomerId!;
    const invoice = stripe.addInvoice(customer, { amountDue: 4900 });
    expect((await get('/api/v1/billing/invoices', t.key)).json().items).toEqual([expect.objectContaining({ id: invoice.id, number: 'FAKE-1', status: 'paid', amountDue: 4900, currency: 'usd' })]);
  });

  it('reports metered usage to Stripe meter events once, even when marking it reported was lost', async () => {
    const t = await newTenant();
    await post('/api/v1/billing/checkout', t.key, { plan: 'pro' }); // makes the customer
    const upload = await post('/api/v1/documents', t.key, { title: 'FAQ', content: 'Returns within 30 days.', format: 'text' });
    expect(upload.statusCode).toBe(202);
    const activities = createBillingActivities({ db: api.db, logger: pino({ level: 'silent' }), billing: billingOf(api.config) });
    const customer = (await api.db.billingAccount.findUniqueOrThrow({ where: { tenantId: t.id } })).stripeCustomerId!;
    const ofTenant = () => stripe.meterEvents.filter((e) => (e.payload as { stripe_customer_id: string }).stripe_customer_id === customer);
    await activities.reportMeteredUsage({ limit: 100 });
    expect(ofTenant().map((e) => [e.event_name, (e.payload as { value: string }).value])).toEqual([['metachat_storage', String('Returns within 30 days.'.length)]]);
    expect((await activities.reportMeteredUsage({ limit: 100 })).reported).toBe(0);
    // The report reached Stripe but its row was not marked: sent again, Stripe keeps one event.
    await api.db.meterEvent.updateMany({ where: { tenantId: t.id }, data: { reportedAt: null } });
    expect((await activities.reportMeteredUsage({ limit: 100 })).reported).toBe(1);
    expect(ofTenant()).toHaveLength(1);
  });

  it('without a Stripe key: the plan is shown, and checkout, portal, invoices and the webhook answer 404 billing_disabled', async () => {
    const t = await newTenant();
    expect((await get('/api/v1/billing', t.key, off)).json()).toMatchObject({ billingEnabled: false, plan: { id: 'default', purchasable: false } });
    for (const res of [await post('/api/v1/billing/checkout', t.key, { plan: 'pro' }, off), await post('/api/v1/billing/portal', t.key, {}, off), await get('/api/v1/billing/invoices', t.key, off)]) {
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json().error.code).toBe('billing_disabled');
    }
    expect((await deliver(stripe.event('customer.subscription.updated', { id: 'sub_x', object: 'subscription' }), off)).statusCode).toBe(404);
  });

  it('refuses a Stripe configuration that cannot work, naming the variable', () => {
    expect(() => testConfig({ STRIPE_SECRET_KEY: 'sk_test_x' })).toThrow(/STRIPE_WEBHOOK_SECRET: and STRIPE_SECRET_KEY go together/);
    expect(() => testConfig({ ...fakeStripeEnv(stripe, {}), STRIPE_PRICES: 'pro=price_1' })).toThrow(/STRIPE_PRICES: must be plan:price_id pairs/);
    expect(() => testConfig({ ...fakeStripeEnv(stripe, {}), STRIPE_SECRET_KEY: 'pk_test_publishable' })).toThrow(/STRIPE_SECRET_KEY/);
    expect(testConfig({ ...fakeStripeEnv(stripe, { pro: 'price_1', business: 'price_2' }) }).STRIPE_PRICES).toEqual({ pro: 'price_1', business: 'price_2' });
  });

  it('documents the plan and billing statuses in the OpenAPI document', async () => {
    const spec = (await api.app.inject({ url: '/docs/json', headers: bearer(api.adminKey) })).json();
    expect(Object.keys(spec.paths['/api/v1/channels/'].post.responses)).toContain('402');
    expect(Object.keys(spec.paths['/api/v1/billing/checkout'].post.responses)).toEqual(expect.arrayContaining(['201', '404', '409', '502']));
    expect(Object.keys(spec.paths['/webhooks/stripe/'].post.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '503']));
    expect(spec.paths['/api/v1/admin/tenants/{id}/plan'].put).toBeDefined();
  });
});
