// The functions page of the web app in a real browser against the real API and Postgres (with the
// production URL rules: https only, no internal address): an admin is told at the field that the
// parameters are not JSON, then that the schema and a loopback URL are refused; adds a function,
// edits it keeping and then replacing its write-only secret, and deletes it after a confirmation.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { forTenant } from '../../lib/tenant-db.ts';
import { functionSecret } from '../../lib/tenant-functions.ts';
import { createTenant } from '../../lib/tenants.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';

const FIRST_SECRET = 'first signing secret, long enough';
const SECOND_SECRET = 'second signing secret, long enough';

describe('web app: functions page', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    api = await startTestApi('web_app_functions');
    expect(api.config.ALLOW_INSECURE_TENANT_URLS).toBe(false);
    base = await listen(api.app);
    const slug = `fns-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Functions Ltd', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'admin@example.com', role: 'admin' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  const functions = () => forTenant(api.db, tenant.id).tenantFunction.findMany();

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-functions', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('validates at the fields, adds, edits (the secret write-only) and deletes a function', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/functions', { tenant: tenant.slug, email: 'admin@example.com', password: TEST_PASSWORD }, ['400 /api/v1/functions/']);
    await page.locator('#no-functions').waitFor();
    await check(page, 'empty');

    const form = page.locator('#function-form');
    const parameters = form.getByLabel('Parameters (JSON Schema)');
    const endpoint = form.getByLabel('Endpoint URL');
    await form.getByLabel('Name').fill('order_status');
    await form.getByLabel('Description').fill('Looks up an order by its number');
    await endpoint.fill('https://127.0.0.1/orders');
    await form.getByLabel('Signing secret').fill(FIRST_SECRET);

    // Text that is not JSON is refused before anything is sent.
    await parameters.fill('{"type": "object", ');
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error').first().waitFor();
    expect(await form.locator('.field-error').allTextContents()).toEqual([expect.stringMatching(/^This is not JSON: /)]);
    expect(await parameters.getAttribute('aria-invalid')).toBe('true');
    await check(page, 'parameters-not-json');

    // JSON that is no object schema, and a loopback URL: the API's 400 is shown at both fields.
    await parameters.fill('{"type": "string"}');
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(await endpoint.getAttribute('aria-invalid')).toBe('true'));
    const errors = await form.locator('.field-error').allTextContents();
    expect(errors).toHaveLength(2);
    expect(errors.join(' | ')).toContain('must not be a loopback, private or link-local address');
    expect(errors.join(' | ')).toContain('"type": "object"');
    expect(await parameters.getAttribute('aria-invalid')).toBe('true');
    expect(await functions()).toEqual([]);
    await check(page, 'refused-url-and-schema');

    // Fixed: added, listed, and the secret is nowhere on the page.
    await endpoint.fill('https://orders.example.com/status');
    await parameters.fill(JSON.stringify({ type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] }));
    await form.locator('button[type=submit]').click();
    const row = page.locator('#functions tr[data-name="order_status"]');
    await row.waitFor();
    expect(await page.locator('.saved').textContent()).toBe('Added order_status.');
    expect(await row.locator('.endpoint').textContent()).toBe('https://orders.example.com/status');
    const [added] = await functions();
    expect(added).toMatchObject({ name: 'order_status', description: 'Looks up an order by its number', endpoint: 'https://orders.example.com/status', timeoutMs: 10_000, enabled: true });
    expect(added!.parameters).toEqual({ type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] });
    expect(functionSecret(api.config.SECRETS_KEYS, added!)).toBe(FIRST_SECRET);
    expect(await form.getByLabel('Signing secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain(FIRST_SECRET);
    await check(page, 'added');

    // Edited without a secret: the stored one stays.
    await page.click('#functions button.edit');
    await page.getByRole('heading', { name: 'Edit order_status' }).waitFor();
    expect(await form.getByLabel('New signing secret').inputValue()).toBe('');
    expect(JSON.parse(await parameters.inputValue())).toEqual(added!.parameters);
    await form.getByLabel('Description').fill('Looks up an order and its delivery date');
    await form.getByLabel('Timeout (ms)').fill('2500');
    await form.getByLabel('Enabled: the assistant may call it').uncheck();
    await check(page, 'editing');
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(await page.locator('.saved').textContent()).toBe('Saved order_status.'));
    await vi.waitFor(async () => expect(await row.locator('.enabled').textContent()).toBe('no'));
    const [edited] = await functions();
    expect(edited).toMatchObject({ description: 'Looks up an order and its delivery date', timeoutMs: 2500, enabled: false });
    expect(functionSecret(api.config.SECRETS_KEYS, edited!)).toBe(FIRST_SECRET);

    // Edited with a new secret: replaced.
    await page.click('#functions button.edit');
    await form.getByLabel('New signing secret').fill(SECOND_SECRET);
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(functionSecret(api.config.SECRETS_KEYS, (await functions())[0]!)).toBe(SECOND_SECRET));
    await page.getByRole('heading', { name: 'Add a function' }).waitFor();

    // Deleted only after the confirmation.
    await page.click('#functions button.delete');
    expect(await functions()).toHaveLength(1);
    await check(page, 'delete-confirm');
    await page.click('#functions button.confirm-delete');
    await page.locator('#no-functions').waitFor();
    expect(await functions()).toEqual([]);

    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'narrow');
    await page.setViewportSize({ width: 1280, height: 720 });

    expect(problems).toEqual([]);
  });
});
