// The Assistant page in a real browser against the real API listening on a port, Postgres, and
// ingestion and conversations workers on the Temporal dev server (the local provider, and the fake
// OpenAI server for a tool call). An owner changes settings — a bad value refused in the page, one
// refused by the API shown at its field, then a good save — sees the version in the history and
// restores the earlier one, then asks the playground about an uploaded document and sees the
// answer with its source, and through the fake OpenAI server a tool call with its result. What the
// page shows is checked against what Postgres then holds; the page fits a phone's width.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { llmEndpoints } from '../../activities/llm/index.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenantFunction } from '../../lib/tenant-functions.ts';
import { createTenant } from '../../lib/tenants.ts';
import type { FakeLlmServer } from '../fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from '../fakes/openai.ts';
import { bearer, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { startWebAppRig, type WebAppRig } from '../support/web-app-rig.ts';

const SHOT = 'web-app-assistant';
const RETURNS = 'Returns are accepted within 30 days of delivery. Refunds go back to the original payment method.';

/** A tenant's function endpoint answering an order's status. */
async function startOrderStatus() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'shipped', eta: '2 days' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/order-status`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('assistant page in a browser', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let rig: WebAppRig;
  let openai: FakeLlmServer;
  let fn: Awaited<ReturnType<typeof startOrderStatus>>;
  let tenant: { id: string; slug: string; key: string };

  beforeAll(async () => {
    [openai, fn] = await Promise.all([startFakeOpenAi(), startOrderStatus()]);
    rig = await startWebAppRig('web-app-assistant', { llm: llmEndpoints({ OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: openai.url, ALLOW_INSECURE_TENANT_URLS: true }) });
    ({ api, base } = rig);
    const { config } = api;
    const slug = `assist-${Math.random().toString(36).slice(2, 8)}`;
    const created = await createTenant(api.db, { name: 'Bikes & Co', slug });
    tenant = { id: created.tenant.id, slug, key: created.apiKey.key };
    await createUser(api.db, tenant.id, { email: 'olga@example.com', role: 'owner' });
    await createTenantFunction(forTenant(api.db, tenant.id), config.SECRETS_KEYS, {
      name: 'order_status', description: 'Status of an order by its id', parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
      endpoint: fn.url, secret: 'a-signing-secret-of-some-length', timeoutMs: 5000,
    }, { allowHttp: true });
    // The document the playground answers from, uploaded through the API and ingested by the worker.
    const upload = await api.app.inject({ method: 'POST', url: '/api/v1/documents', headers: bearer(tenant.key), payload: { title: 'Returns policy', content: RETURNS, format: 'text' } });
    expect(upload.statusCode, upload.body).toBe(202);
    await vi.waitFor(async () => expect((await forTenant(api.db, tenant.id).document.findFirstOrThrow()).status).toBe('ready'), { timeout: 30_000, interval: 200 });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.close();
    await Promise.all([openai?.close(), fn?.close()]);
  });

  const tenantRow = () => forTenant(api.db, tenant.id).tenant.findFirstOrThrow();

  async function check(page: Page, step: string) {
    await screenshot(page, SHOT, step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('edits settings with inline errors, restores an earlier version, and answers in the playground with its source and a tool call', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/assistant', { tenant: tenant.slug, email: 'olga@example.com', password: TEST_PASSWORD }, ['400 /api/v1/settings/']);
    const temperature = page.getByLabel('Temperature');
    await temperature.waitFor();
    expect(await temperature.inputValue()).toBe('0.2');
    expect(await page.locator('#settings-history-empty').textContent()).toContain('No changes yet');
    await check(page, 'loaded');

    // Out of range: refused in the page, at the field, nothing sent.
    await temperature.fill('5');
    await page.click('#assistant-settings button[type=submit]');
    const temperatureError = page.locator('.field:has(> label:text-is("Temperature")) .field-error');
    await temperatureError.waitFor();
    expect(await temperatureError.textContent()).toBe('Must be from 0 to 2');
    expect(await temperature.getAttribute('aria-invalid')).toBe('true');
    await check(page, 'temperature-refused');

    // A language tag only the API checks: its 400 is shown at the field it names.
    await temperature.fill('0.7');
    const locale = page.getByLabel('Language', { exact: true });
    await locale.fill('not a tag!');
    await page.click('#assistant-settings button[type=submit]');
    const localeError = page.locator('.field:has(> label:text-is("Language")) .field-error');
    await localeError.waitFor();
    expect(await localeError.textContent()).toContain('BCP 47');
    expect(await locale.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-error').count()).toBe(1);
    expect((await tenantRow()).settingsVersion).toBe(1);
    await check(page, 'locale-refused-by-api');

    // A good save: version 2, in Postgres and in the history with its author. PII redaction is
    // on for a new tenant, and its toggle turns it off.
    await locale.fill('en-GB');
    const redaction = page.getByLabel('Hide personal data from the model');
    expect(await redaction.inputValue()).toBe('on');
    await redaction.selectOption('off');
    await page.click('#assistant-settings button[type=submit]');
    await page.locator('#settings-status', { hasText: 'Saved as version 2.' }).waitFor();
    expect(await tenantRow()).toMatchObject({ settingsVersion: 2, settings: { locale: 'en-GB', llm: { temperature: 0.7 }, privacy: { redactPii: false } } });
    const v2 = page.locator('#settings-history tr[data-version="2"]');
    await v2.waitFor();
    expect(await v2.locator('.author').textContent()).toBe('olga@example.com');
    expect(await v2.locator('.changes').textContent()).toBe('Temperature, Language, Hide personal data from the model');
    expect(await page.locator('#settings-history tbody tr').count()).toBe(2);
    await check(page, 'saved');

    // Restore version 1 (after a confirmation): a new version 3 with the creation's settings.
    await page.getByRole('button', { name: 'Restore version 1' }).click();
    await page.click('#settings-history .confirm-restore');
    await page.locator('#assistant-notice', { hasText: 'Version 1 restored as version 3.' }).waitFor();
    expect(await page.locator('#settings-history tr[data-version="3"] .changes').textContent()).toContain('Restored version 1.');
    expect(await page.getByLabel('Temperature').inputValue()).toBe('0.2');
    expect(await tenantRow()).toMatchObject({ settingsVersion: 3, settings: {} });
    expect(await forTenant(api.db, tenant.id).settingsVersion.findFirstOrThrow({ where: { version: 3 } })).toMatchObject({ restoredFrom: 1, authorKind: 'user' });
    await check(page, 'restored');

    // The playground, on the local provider: the answer and its cited source.
    await page.getByLabel('Question').fill('How many days do I have for returns?');
    await page.click('#playground button[type=submit]');
    const answer = page.locator('#playground-chat .turn-assistant').first();
    await answer.waitFor({ timeout: 30_000 });
    expect(await answer.locator('.turn-text').textContent()).toContain('30 days');
    expect(await answer.locator('.source.cited .source-title').textContent()).toBe('Returns policy');
    expect(await answer.locator('.score').textContent()).toMatch(/^score \d\.\d{3}$/);
    expect(await answer.locator('.outcome').textContent()).toBe('Answered');
    await check(page, 'playground-local');

    // On OpenAI (the fake server): the model calls the tenant's function; the call and its result are shown.
    await page.getByLabel('Provider', { exact: true }).selectOption('openai');
    await page.click('#assistant-settings button[type=submit]');
    await page.locator('#settings-status', { hasText: 'Saved as version 4.' }).waitFor();
    openai.respond((_call, n) => (n === 0 ? { toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-1' } }] } : { text: 'Your order A-1 has shipped and arrives in 2 days.' }));
    await page.getByLabel('Question').fill('Where is my order A-1?');
    await page.click('#playground button[type=submit]');
    const second = page.locator('#playground-chat .turn-assistant').nth(1);
    await second.waitFor({ timeout: 30_000 });
    expect(await second.locator('.turn-text').textContent()).toBe('Your order A-1 has shipped and arrives in 2 days.');
    expect(await second.locator('.tool-name').textContent()).toBe('order_status');
    expect(await second.getByLabel('Arguments of order_status').textContent()).toContain('"orderId":"A-1"');
    expect(await second.getByLabel('Result of order_status').textContent()).toContain('shipped');
    expect(await second.locator('.answer-facts').textContent()).toContain('openai · gpt-4o-mini');
    await check(page, 'playground-tool-call');

    // Nothing of it reached a conversation; the model's spend is in usage.
    const tdb = forTenant(api.db, tenant.id);
    expect(await tdb.conversation.count()).toBe(0);
    expect(await tdb.message.count()).toBe(0);
    expect((await tdb.usage.findFirstOrThrow({ where: { provider: 'openai' } })).requests).toBe(2);

    // A phone's width: nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(problems).toEqual([]);
  });
});
