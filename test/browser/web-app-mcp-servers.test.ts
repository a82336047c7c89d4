// The MCP servers section of the functions page in a real browser against the real API, Postgres
// and a real MCP server (the SDK's, on 127.0.0.1: ALLOW_INSECURE_TENANT_URLS lets a loopback
// http:// URL through, as in development). An admin mistypes a header line and is told at the
// field; registers a server with a wrong token and sees why no tools were listed; fixes the token
// through an edit that keeps the URL, sees the tools as the model is offered them, refreshes them,
// disables the server and deletes it. The URL's path and the token never appear on the page.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { mcpConnection } from '../../lib/mcp-servers.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { MCP_TEST_TOKEN, startTestMcpServer, type TestMcpServer } from '../support/mcp-server.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';

describe('web app: MCP servers', { timeout: 120_000 }, () => {
  let api: TestApi;
  let mcp: TestMcpServer;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    [api, mcp] = await Promise.all([startTestApi('web_app_mcp', { ALLOW_INSECURE_TENANT_URLS: 'true' }), startTestMcpServer()]);
    base = await listen(api.app);
    const slug = `mcp-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Tools Ltd', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'admin@example.com', role: 'admin' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([api?.close(), mcp?.close()]);
  });

  const servers = () => forTenant(api.db, tenant.id).mcpServer.findMany();

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-mcp-servers', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('registers a server, shows why discovery failed, fixes its token by an edit, refreshes, disables and deletes it', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/functions', { tenant: tenant.slug, email: 'admin@example.com', password: TEST_PASSWORD });
    await page.locator('#no-mcp-servers').waitFor();
    const form = page.locator('#mcp-server-form');
    const headers = form.getByLabel('Headers');

    // A header line without a colon is refused before anything is sent.
    await form.getByLabel('Server name').fill('shop');
    await form.getByLabel('Server URL').fill(mcp.url);
    await headers.fill('Authorization Bearer wrong');
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error').waitFor();
    expect(await form.locator('.field-error').textContent()).toBe('Line 1 is not “Name: value”.');
    expect(await servers()).toEqual([]);
    await check(page, 'header-line-refused');

    // Registered with a token the server refuses: kept, no tools, and the reason shown.
    await headers.fill('Authorization: Bearer wrong');
    await form.locator('button[type=submit]').click();
    const row = page.locator('#mcp-servers tr[data-name="shop"]');
    await row.waitFor();
    expect(await page.locator('.mcp-servers .saved').textContent()).toBe('Added shop: 0 tools.');
    expect(await row.locator('.tools-error').textContent()).toContain('could not be reached');
    expect(await row.locator('.endpoint').textContent()).toBe(new URL(mcp.url).host);
    expect(await row.locator('th .headers').textContent()).toBe('Headers: Authorization');
    expect(await headers.inputValue()).toBe('');
    await check(page, 'unreachable');

    // Edited with the right token and no URL: the stored URL stays, the tools are listed.
    await row.getByRole('button', { name: 'Edit shop' }).click();
    await page.getByRole('heading', { name: 'Edit shop' }).waitFor();
    expect(await form.getByLabel('New server URL').inputValue()).toBe('');
    await form.getByLabel('New headers').fill(`Authorization: ${MCP_TEST_TOKEN}`);
    await form.getByLabel('Timeout (ms)').fill('4000');
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(await page.locator('.mcp-servers .saved').textContent()).toBe('Saved shop: 2 tools.'), { timeout: 15_000 });
    // The notice comes before the list is read again.
    await vi.waitFor(async () => expect(await row.locator('.tools li code').allTextContents()).toEqual(['shop_order_lookup', 'shop_refund']), { timeout: 15_000 });
    expect(await row.locator('.tools-error').count()).toBe(0);
    const [stored] = await servers();
    expect(stored).toMatchObject({ name: 'shop', timeoutMs: 4000, enabled: true });
    expect(mcpConnection(api.config.SECRETS_KEYS, stored!)).toEqual({ url: mcp.url, headers: { Authorization: MCP_TEST_TOKEN } });
    const html = await page.content();
    expect(html).not.toContain(new URL(mcp.url).pathname + '"');
    expect(html).not.toContain(MCP_TEST_TOKEN);
    await check(page, 'tools-listed');

    // Refresh lists them again now.
    const before = stored!.toolsRefreshedAt!.getTime();
    await row.getByRole('button', { name: 'Refresh tools of shop' }).click();
    await vi.waitFor(async () => expect(await page.locator('.mcp-servers .saved').textContent()).toBe('Listed the tools of shop: 2.'), { timeout: 15_000 });
    expect((await servers())[0]!.toolsRefreshedAt!.getTime()).toBeGreaterThan(before);

    // Disabled through an edit, then deleted only after the confirmation.
    await row.getByRole('button', { name: 'Edit shop' }).click();
    await form.getByLabel('Enabled: the assistant may call its tools').uncheck();
    await form.locator('button[type=submit]').click();
    await vi.waitFor(async () => expect(await row.locator('.enabled').textContent()).toBe('no'), { timeout: 15_000 });
    expect((await servers())[0]!.enabled).toBe(false);
    await row.getByRole('button', { name: 'Delete shop' }).click();
    expect(await servers()).toHaveLength(1);
    await page.locator('#mcp-servers button.confirm-delete').click();
    await page.locator('#no-mcp-servers').waitFor();
    expect(await servers()).toEqual([]);

    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, 'narrow');
    expect(problems).toEqual([]);
  });
});
