// The Usage page's billing panel in a real browser against the real API and Postgres, with Stripe's
// official SDK talking to the fake Stripe server. On a platform without Stripe a tenant sees its
// plan, its limits and that billing is not set up. With Stripe, the tenant on the Starter plan sees
// its limits with what is used of them (one at 80 % and more flagged), subscribes to Pro and lands on
// the Checkout page Stripe made for it; once Stripe's webhooks are applied it comes back to its
// success URL on Pro, sees its invoices and opens the customer portal.
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBillingActivities } from '../../activities/billing.ts';
import { buildApp, type App } from '../../api/app.ts';
import { billingOf } from '../../lib/billing.ts';
import { recordMeterEvent } from '../../lib/metering.ts';
import { createTenant } from '../../lib/tenants.ts';
import { stripeEventWorkflowId } from '../../workflows/stripe-events.ts';
import { fakeStripeEnv, startFakeStripe, type FakeStripe } from '../fakes/stripe.ts';
import { bearer, startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { freePort, launchBrowser, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { uniqueQueuePrefix } from '../support/temporal.ts';

const PRO_PRICE = 'price_pro_monthly';

describe('web app: billing on the Usage page', { timeout: 120_000 }, () => {
  let stripe: FakeStripe;
  let api: TestApi;
  let base: string;
  /** The same platform and database without Stripe configured. */
  let off: App;
  let offBase: string;
  let browser: Browser;
  let tenant: { id: string; slug: string; key: string };
  const stripeEventIds: string[] = [];

  beforeAll(async () => {
    stripe = await startFakeStripe();
    stripe.addPrice(PRO_PRICE);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // APP_BASE_URL names the listener: Checkout and the portal send the browser back there. The
    // webhook's workflows go to a maintenance queue of this file's own, which no worker polls.
    api = await startTestApi('web_app_billing', { ...fakeStripeEnv(stripe, { pro: PRO_PRICE }), APP_BASE_URL: base, TEMPORAL_TASK_QUEUE_PREFIX: `${uniqueQueuePrefix('web-app-billing')}-` });
    await api.app.listen({ host: '127.0.0.1', port });
    off = await buildApp({ config: { ...api.config, STRIPE_SECRET_KEY: undefined, STRIPE_WEBHOOK_SECRET: undefined }, db: api.db, temporal: api.app.temporal, logger: pino({ level: 'silent' }) });
    await off.listen({ host: '127.0.0.1', port: 0 });
    offBase = `http://127.0.0.1:${(off.server.address() as AddressInfo).port}`;

    const slug = `billing-${Math.random().toString(36).slice(2, 8)}`;
    const created = await createTenant(api.db, { name: 'Billing Ltd', slug });
    tenant = { id: created.tenant.id, slug, key: created.apiKey.key };
    await createUser(api.db, tenant.id, { email: 'owner@example.com', role: 'owner', name: 'Olga Owner' });
    // An operator put it on Starter (2000 messages, 2 channels, 3 seats a month); it has one
    // channel and stored 1700 messages this month (85 %: flagged).
    const plan = await api.app.inject({ method: 'PUT', url: `/api/v1/admin/tenants/${tenant.id}/plan`, headers: bearer(api.adminKey), payload: { plan: 'starter', operator: 'ops@platform' } });
    expect(plan.statusCode, plan.body).toBe(200);
    const channel = await api.app.inject({ method: 'POST', url: '/api/v1/channels', headers: bearer(tenant.key), payload: { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] } });
    expect(channel.statusCode, channel.body).toBe(201);
    await recordMeterEvent(api.db, { tenantId: tenant.id, key: 'test:messages-this-month', meter: 'messages', quantity: 1700, channel: 'webchat' });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stripeEventIds.map((id) => api.app.temporal.workflow.getHandle(stripeEventWorkflowId(id)).terminate('test over').catch(() => undefined)));
    await browser?.close();
    await off?.close();
    await api?.close();
    await stripe?.close();
  });

  const owner = () => ({ tenant: tenant.slug, email: 'owner@example.com', password: TEST_PASSWORD });
  const limit = (page: Page, name: string) => page.locator(`#plan-limits dd[data-limit="${name}"]`);

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-billing', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('says billing is not set up on a platform without Stripe, and offers no subscription', async () => {
    const { page, problems } = await openSignedInPage(browser, offBase, '/usage', owner());
    await page.locator('#billing-off').waitFor();
    expect(await page.locator('#plan-title').textContent()).toBe('Plan: Starter');
    expect(await limit(page, 'monthlyMessages').textContent()).toBe('1,700 of 2,000 — nearly used up');
    expect(await page.locator('#billing-off').textContent()).toContain('Billing is not set up on this platform');
    expect(await page.locator('#plan button').count()).toBe(0);
    expect(await page.locator('#invoices').count()).toBe(0);
    await check(page, 'billing-off');
    // No Stripe route was asked (each would have answered 404 billing_disabled).
    expect(problems).toEqual([]);
  });

  it('shows the plan and its limits, subscribes through Checkout, lists the invoices and opens the portal', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/usage', owner());
    await page.locator('#plan-limits').waitFor();
    expect(await page.locator('#plan-title').textContent()).toBe('Plan: Starter');
    expect(await limit(page, 'monthlyMessages').textContent()).toBe('1,700 of 2,000 — nearly used up');
    expect(await limit(page, 'monthlyMessages').getAttribute('class')).toBe('warning');
    expect(await limit(page, 'channels').textContent()).toBe('1 of 2');
    expect(await limit(page, 'seats').textContent()).toBe('1 of 3');
    expect(await page.locator('#plan').getByRole('status').textContent()).toContain('nearly used up');
    // Pro is the one plan with a Stripe price; no customer yet, so no portal and no invoices.
    await page.getByRole('button', { name: 'Subscribe to Pro' }).waitFor();
    expect(await page.locator('#plan button').allTextContents()).toEqual(['Subscribe to Pro']);
    expect(await page.locator('#invoices').count()).toBe(0);
    expect(await page.locator('#billing-off').count()).toBe(0);
    await screenshot(page, 'web-app-billing', 'starter');

    // Subscribing opens the Checkout session Stripe made for the Pro price, in this tab.
    await page.getByRole('button', { name: 'Subscribe to Pro' }).click();
    await page.waitForURL(`${stripe.url}/pay/**`);
    const checkout = stripe.requests.find((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
    expect(checkout?.params).toMatchObject({ mode: 'subscription', line_items: [{ price: PRO_PRICE, quantity: '1' }], client_reference_id: tenant.id, success_url: `${base}/app/usage?checkout=success` });
    const session = await page.locator('#session').textContent();
    expect(page.url()).toBe(`${stripe.url}/pay/${session}`);
    const account = await api.db.billingAccount.findUniqueOrThrow({ where: { tenantId: tenant.id } });
    expect(checkout?.params.customer).toBe(account.stripeCustomerId);

    // The customer pays: Stripe's signed webhooks reach the API, which stores them, and the
    // stripeEvent workflow's activity applies them (test/billing.test.ts runs it on a worker).
    const { events } = stripe.completeCheckout(session!);
    const activities = createBillingActivities({ db: api.db, logger: pino({ level: 'silent' }), billing: billingOf(api.config) });
    for (const event of events) {
      const { payload, signature } = stripe.signedEvent(event);
      const delivered = await fetch(`${base}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
      expect(delivered.status).toBe(200);
      stripeEventIds.push(event.id);
      await activities.applyStoredStripeEvent({ eventId: event.id });
    }

    // Back on the success URL: on Pro, its limits, the notice, and the invoices, newest first.
    stripe.addInvoice(account.stripeCustomerId!, { amountDue: 1900 });
    const open = stripe.addInvoice(account.stripeCustomerId!, { amountDue: 4900, status: 'open' });
    await page.goto(String(checkout?.params.success_url));
    await page.locator('#invoice-list').waitFor();
    expect(await page.locator('#checkout-return').textContent()).toContain('as soon as Stripe confirms the payment');
    expect(await page.locator('#plan-title').textContent()).toBe('Plan: Pro');
    expect(await page.locator('#subscription').textContent()).toMatch(/^Subscription active, current period until \w{3} \d{1,2}, \d{4}\.$/);
    expect(await limit(page, 'monthlyMessages').textContent()).toBe('1,700 of 20,000');
    expect(await page.locator('#plan').getByRole('status').count()).toBe(0);
    // Nothing left to subscribe to (Pro is the one plan with a price): the portal manages it.
    expect(await page.locator('#plan button').allTextContents()).toEqual(['Manage subscription']);
    const rows = page.locator('#invoice-list tbody tr');
    expect(await rows.locator('th').allTextContents()).toEqual(['FAKE-2', 'FAKE-1']);
    expect(await rows.locator('.amount').allTextContents()).toEqual(['$49.00', '$19.00']);
    expect(await rows.locator('.status').allTextContents()).toEqual(['open', 'paid']);
    expect(await rows.first().getByRole('link', { name: 'Pay invoice FAKE-2' }).getAttribute('href')).toBe(open.hosted_invoice_url);
    await check(page, 'invoices');

    // The customer portal, for the tenant's own customer, returning to the Usage page.
    await page.getByRole('button', { name: 'Manage subscription' }).click();
    await page.waitForURL(`${stripe.url}/portal/**`);
    const portal = stripe.requests.find((r) => r.method === 'POST' && r.path === '/v1/billing_portal/sessions');
    expect(portal?.params).toEqual({ customer: account.stripeCustomerId, return_url: `${base}/app/usage` });
    expect(await page.locator('h1').textContent()).toBe('Fake Stripe customer portal');

    expect(problems).toEqual([]);
  });

});
