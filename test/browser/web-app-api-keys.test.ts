// The API keys page of the web app in a real browser against the real API and Postgres: an owner
// creates a key (shown once, copied through the copy button), the test calls the API with it and
// the page shows its last use; a rotation shows the new key and ends the old one; a revocation,
// after its confirmation, makes the API refuse the key.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';

describe('web app: API keys page', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    api = await startTestApi('web_app_api_keys');
    base = await listen(api.app);
    const slug = `keys-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Keys Ltd', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'owner@example.com', role: 'owner', name: 'Olga Owner' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  const callWith = (key: string) => fetch(`${base}/api/v1/api-keys`, { headers: bearer(key) }).then((r) => r.status);
  const keyRow = (name: string) => forTenant(api.db, tenant.id).apiKey.findFirstOrThrow({ where: { name, revokedAt: null }, orderBy: { createdAt: 'desc' } });

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-api-keys', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('creates a key shown once with a copy button, shows its last use, rotates it and revokes it after a confirmation', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/api-keys', { tenant: tenant.slug, email: 'owner@example.com', password: TEST_PASSWORD }, ['400 /api/v1/api-keys/']);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.locator('#api-keys').waitFor();
    await check(page, 'list');

    // A key of scope agent without its agent id: the API's 400 is shown at the field.
    await page.getByLabel('Name', { exact: true }).fill('Helpdesk');
    await page.selectOption('#key-scope', 'agent');
    await page.click('#create-key button[type=submit]');
    const agentError = page.locator('#create-key .field-error');
    await agentError.waitFor();
    expect(await agentError.textContent()).toContain('agentId is required');
    expect(await page.getByLabel('Agent id').getAttribute('aria-invalid')).toBe('true');
    await check(page, 'agent-id-missing');
    expect(await forTenant(api.db, tenant.id).apiKey.count({ where: { name: 'Helpdesk' } })).toBe(0);

    // Created: shown once with a warning; the copy button puts it on the clipboard.
    await page.selectOption('#key-scope', 'tenant');
    await page.getByLabel('Name', { exact: true }).fill('CRM sync');
    await page.click('#create-key button[type=submit]');
    const shown = page.getByLabel('API key CRM sync');
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(await page.locator('#issued-key').textContent()).toContain('shown only now');
    await page.click('#issued-key button.copy');
    await page.locator('#issued-key .copied').waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);
    const row = page.locator('#api-keys tr[data-name="CRM sync"]');
    expect(await row.locator('.last-used').textContent()).toBe('never');
    expect(await row.locator('code').textContent()).toBe((await keyRow('CRM sync')).prefix);
    expect(key).toContain(`_${(await keyRow('CRM sync')).prefix}_`);
    await check(page, 'created');

    // The key works; after a reload the page says when it was last used (and never shows it again).
    expect(await callWith(key)).toBe(200);
    await vi.waitFor(async () => expect((await keyRow('CRM sync')).lastUsedAt).not.toBeNull());
    await page.reload();
    await row.waitFor();
    expect(await row.locator('.last-used time').count()).toBe(1);
    expect(await page.locator('#issued-key').count()).toBe(0);

    // Rotated, the old key stopping at once: the new one is shown once and works, the old one is refused.
    await page.click('#api-keys tr[data-name="CRM sync"] button.rotate');
    await page.getByLabel('After rotation the old key of CRM sync').selectOption('0');
    await check(page, 'rotate-confirm');
    await page.click('#api-keys button.confirm-rotate');
    await page.locator('#issued-key').waitFor();
    const rotated = await page.getByLabel('API key CRM sync').inputValue();
    expect(rotated).not.toBe(key);
    expect(await page.locator('#issued-key').textContent()).toContain('The new key for “CRM sync”');
    await vi.waitFor(async () => expect(await page.locator('#api-keys tr[data-name="CRM sync"]').count()).toBe(1));
    expect(await callWith(key)).toBe(401);
    expect(await callWith(rotated)).toBe(200);
    await check(page, 'rotated');

    // Revoked only after the confirmation; then the API refuses the key.
    await page.click('#api-keys tr[data-name="CRM sync"] button.revoke');
    expect(await callWith(rotated)).toBe(200);
    await check(page, 'revoke-confirm');
    await page.click('#api-keys button.confirm-revoke');
    await vi.waitFor(async () => expect(await page.locator('#api-keys tr[data-name="CRM sync"]').count()).toBe(0));
    expect(await callWith(rotated)).toBe(401);
    const rows = await forTenant(api.db, tenant.id).apiKey.findMany({ where: { name: 'CRM sync' } });
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.revokedAt !== null || (r.expiresAt !== null && r.expiresAt <= new Date()))).toBe(true);

    // Revoked and expired keys are listed on request, without actions.
    await page.check('#show-all-keys');
    await vi.waitFor(async () => expect(await page.locator('#api-keys tr[data-name="CRM sync"]').count()).toBe(2));
    expect((await page.locator('#api-keys tr[data-name="CRM sync"] .status').allTextContents()).sort()).toEqual(['expired', 'revoked']);
    expect(await page.locator('#api-keys tr[data-name="CRM sync"] button').count()).toBe(0);
    await check(page, 'all-keys');

    // A phone's width: nothing wider than the screen (the table scrolls inside its frame).
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'narrow');
    await page.setViewportSize({ width: 1280, height: 720 });

    expect(problems).toEqual([]);
  });
});
