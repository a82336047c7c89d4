// The webhooks page of the web app in a real browser against the real API, Postgres, Temporal dev
// server and a worker running the delivery workflow, with a node:http receiver on 127.0.0.1 as the
// tenant's system (ALLOW_INSECURE_TENANT_URLS lets a loopback http:// URL through, as in
// development). An owner adds an endpoint (its secret shown once, and the one the events are
// signed with), sends a test event the receiver refuses and sees the failure in the log,
// redelivers it once the receiver answers and reads the body it POSTed, rotates the secret,
// edits, disables and re-enables the endpoint, pages through its log and deletes it.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { forTenant } from '../../lib/tenant-db.ts';
import { verifyWebhookSignature, webhookOptionsFrom, webhookSecret } from '../../lib/tenant-webhooks.ts';
import { createTenant } from '../../lib/tenants.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { createTestWorkers } from '../support/workers.ts';
import { bearer, startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { connectTestTemporal, uniqueQueuePrefix } from '../support/temporal.ts';

/** The tenant's system: records every request and answers with `status`. */
async function startReceiver() {
  const received: { headers: IncomingHttpHeaders; raw: string }[] = [];
  const state = { status: 200 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end(state.status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { received, state, url: `http://127.0.0.1:${port}/hooks`, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('web app: webhooks page', { timeout: 150_000 }, () => {
  let api: TestApi;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string; key: string };

  beforeAll(async () => {
    receiver = await startReceiver();
    temporal = await connectTestTemporal();
    api = await startTestApi('web_app_webhooks', {
      ALLOW_INSECURE_TENANT_URLS: 'true',
      TEMPORAL_TASK_QUEUE_PREFIX: `${uniqueQueuePrefix('webhooks-page')}-`,
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_RETRY_INITIAL_MS: '100',
      WEBHOOK_RETRY_MAX_INTERVAL_MS: '200',
      WEBHOOK_RETRY_MAX_ATTEMPTS: '2',
    });
    const config = api.config;
    workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueues: ['conversations'],
      tuning: config,
      deps: { db: api.db, logger: pino({ level: 'silent' }), keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: api.graph.url, webhooks: webhookOptionsFrom(config) },
      queueName: (q) => taskQueueName(config, q),
    });
    running = Promise.all(workers.map((w) => w.run()));
    base = await listen(api.app);
    const slug = `hooks-${Math.random().toString(36).slice(2, 8)}`;
    const created = await createTenant(api.db, { name: 'Hooks Ltd', slug });
    tenant = { id: created.tenant.id, slug, key: created.apiKey.key };
    await createUser(api.db, tenant.id, { email: 'owner@example.com', role: 'owner' });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await temporal?.close();
    await receiver?.close();
  });

  const tdb = () => forTenant(api.db, tenant.id);
  const endpointCard = (page: Page) => page.locator('#endpoints > li').first();

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-webhooks', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('adds an endpoint, sees a refused test event in the log, redelivers it, rotates, edits, disables, pages and deletes', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/webhooks', { tenant: tenant.slug, email: 'owner@example.com', password: TEST_PASSWORD }, ['400 /api/v1/webhook-endpoints/']);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.locator('#no-endpoints').waitFor();
    await check(page, 'empty');

    // A URL with credentials in it is refused at its field; nothing is stored.
    const form = page.locator('#endpoint-form');
    await page.getByLabel('URL').fill(receiver.url.replace('http://', 'http://user:pw@'));
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error').waitFor();
    expect(await form.locator('.field-error').textContent()).toBe('must not contain a user name or password');
    expect(await page.getByLabel('URL').getAttribute('aria-invalid')).toBe('true');
    expect(await tdb().webhookEndpoint.count()).toBe(0);
    await check(page, 'refused-url');

    // Added for two event types: the secret is shown once, copied by its button.
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel('Description').fill('CRM sync');
    await page.getByLabel('handoff.requested').check();
    await page.getByLabel('message.received').check();
    await form.locator('button[type=submit]').click();
    const shown = page.getByLabel(`Signing secret of ${receiver.url}`);
    await shown.waitFor();
    const secret = await shown.inputValue();
    await page.click('#signing-secret button.copy');
    await page.locator('#signing-secret .copied').waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(secret);
    const [endpoint] = await tdb().webhookEndpoint.findMany();
    expect(endpoint).toMatchObject({ url: receiver.url, description: 'CRM sync', status: 'active' });
    expect([...endpoint!.events].sort()).toEqual(['handoff.requested', 'message.received']);
    expect(webhookSecret(api.config.SECRETS_KEYS, endpoint!)).toBe(secret);
    expect(await endpointCard(page).locator('.events').textContent()).toBe('Events: message.received, handoff.requested');
    await check(page, 'added');

    // A test event the receiver refuses: retried, then failed, as the log shows.
    receiver.state.status = 500;
    await endpointCard(page).locator('button.test').click();
    const row = page.locator('#deliveries tr[data-delivery-id]').first();
    await vi.waitFor(async () => expect(await row.getAttribute('data-status')).toBe('failed'), { timeout: 20_000, interval: 200 });
    expect(await row.locator('.attempts').textContent()).toBe('2');
    expect(await row.locator('.answer').textContent()).toContain('HTTP 500');
    expect(await row.locator('th code').textContent()).toBe('ping');
    const deliveryId = (await row.getAttribute('data-delivery-id'))!;
    expect(await tdb().webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({ status: 'failed', attempts: 2, lastStatusCode: 500 });
    // What arrived was signed with the secret the page showed.
    expect(receiver.received).toHaveLength(2);
    expect(verifyWebhookSignature(secret, String(receiver.received[0]!.headers['x-metachat-signature']), receiver.received[0]!.raw)).toBe(true);
    await check(page, 'test-failed');

    // The receiver is fixed: redelivered from the log, the same delivery lands.
    receiver.state.status = 200;
    await row.locator('button.redeliver').click();
    await vi.waitFor(async () => expect(await row.getAttribute('data-status')).toBe('delivered'), { timeout: 20_000, interval: 200 });
    expect(await row.locator('.attempts').textContent()).toBe('3');
    expect(await row.locator('.answer').textContent()).toContain('HTTP 200');
    expect(await tdb().webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200 });
    expect(receiver.received).toHaveLength(3);
    // Its body, as the receiver got it.
    await row.locator('button.details').click();
    const body = page.getByLabel('Body of the ping delivery');
    await body.waitFor();
    expect(JSON.parse((await body.textContent())!)).toEqual(JSON.parse(receiver.received[2]!.raw));
    expect(await row.locator('button.details').getAttribute('aria-expanded')).toBe('true');
    await check(page, 'redelivered');

    // Rotated: a new secret is shown once, and the next event is signed with it, not the old one.
    await endpointCard(page).locator('button.rotate').click();
    await page.locator('#signing-secret').getByText('The new signing secret').waitFor();
    const rotated = await page.getByLabel(`Signing secret of ${receiver.url}`).inputValue();
    expect(rotated).not.toBe(secret);
    await endpointCard(page).locator('button.test').click();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(4), { timeout: 20_000 });
    const last = receiver.received[3]!;
    expect(verifyWebhookSignature(rotated, String(last.headers['x-metachat-signature']), last.raw)).toBe(true);
    expect(verifyWebhookSignature(secret, String(last.headers['x-metachat-signature']), last.raw)).toBe(false);
    await check(page, 'rotated');

    // Edited: every event, another description.
    await endpointCard(page).locator('button.edit').click();
    await page.getByRole('heading', { name: `Edit ${receiver.url}` }).waitFor();
    expect(await page.getByLabel('handoff.requested').isChecked()).toBe(true);
    await page.getByLabel('handoff.requested').uncheck();
    await page.getByLabel('message.received').uncheck();
    await page.getByLabel('Description').fill('CRM sync, every event');
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(await endpointCard(page).locator('.events').textContent()).toBe('Events: all'));
    expect(await tdb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint!.id } })).toMatchObject({ events: [], description: 'CRM sync, every event' });

    // Disabled: no test event, no redelivery, until it is enabled again.
    await endpointCard(page).locator('button.disable').click();
    await vi.waitFor(async () => expect(await endpointCard(page).getAttribute('data-status')).toBe('disabled'));
    expect(await endpointCard(page).locator('button.test').isDisabled()).toBe(true);
    expect(await page.locator('#deliveries button.redeliver').first().isDisabled()).toBe(true);
    expect(await tdb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint!.id } })).toMatchObject({ status: 'disabled' });
    await check(page, 'disabled');
    await endpointCard(page).locator('button.enable').click();
    await vi.waitFor(async () => expect(await endpointCard(page).getAttribute('data-status')).toBe('active'));
    expect(await tdb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint!.id } })).toMatchObject({ status: 'active', consecutiveFailures: 0 });

    // Ten more pings through the API: the log shows a page of ten, then the older ones on request.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${base}/api/v1/webhook-endpoints/${endpoint!.id}/test`, { method: 'POST', headers: bearer(tenant.key) });
      expect(res.status).toBe(202);
    }
    await vi.waitFor(async () => expect(await tdb().webhookDelivery.count({ where: { status: 'delivered' } })).toBe(12), { timeout: 30_000, interval: 200 });
    await page.reload();
    await endpointCard(page).locator('button.log').click();
    await vi.waitFor(async () => expect(await page.locator('#deliveries tr[data-delivery-id]').count()).toBe(10));
    await page.click('.delivery-log button.older');
    await vi.waitFor(async () => expect(await page.locator('#deliveries tr[data-delivery-id]').count()).toBe(12));
    expect(await page.locator('.delivery-log button.older').count()).toBe(0);
    expect(new Set(await page.locator('#deliveries tr[data-delivery-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-delivery-id')))).size).toBe(12);
    await check(page, 'paged-log');

    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'narrow');
    await page.setViewportSize({ width: 1280, height: 720 });

    // Deleted after its confirmation, with its log.
    await endpointCard(page).locator('button.delete').click();
    expect(await tdb().webhookEndpoint.count()).toBe(1);
    await endpointCard(page).locator('button.confirm-delete').click();
    await page.locator('#no-endpoints').waitFor();
    expect(await tdb().webhookEndpoint.count()).toBe(0);
    expect(await tdb().webhookDelivery.count()).toBe(0);
    expect(await page.locator('.delivery-log').count()).toBe(0);

    expect(problems).toEqual([]);
  });
});
