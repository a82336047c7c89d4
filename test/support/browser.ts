// Real pages in a real browser: Debian's Chromium (found or installed by `scripts/setup.ts
// --browser`, its path provided by test/global-setup.ts) driven through playwright-core, against
// an API listening on a free port. Screenshots are kept as test artifacts.
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { inject } from 'vitest';
import type { App } from '../../api/app.ts';
import { PROJECT_ROOT } from '../../scripts/provision/tools.ts';

export const SCREENSHOT_DIR = join(PROJECT_ROOT, 'test-artifacts', 'screenshots');

/** What works as root, without a GPU or a network: no sandbox, no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--no-first-run',
  '--no-default-browser-check',
];

export async function launchBrowser(): Promise<Browser> {
  const executablePath = inject('chromiumPath');
  if (!executablePath) {
    throw new Error('No Chromium for the browser tests: run `npx tsx scripts/setup.ts --browser` (installs Debian\'s chromium as root) or set CHROMIUM_PATH');
  }
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** Serves the app on a free loopback port; returns its origin (http://127.0.0.1:<port>). */
export async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** A free loopback port, so that APP_BASE_URL can name the address the API will then listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const fileSafe = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/** Saves the page as test-artifacts/screenshots/<test>-<step>.png and returns the path. */
export async function screenshot(page: Page, test: string, step: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${fileSafe(test)}-${fileSafe(step)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A fresh browser context (its own cookies and storage) on `url`, with what went wrong on the page
 * collected: page errors, console errors, and every answer of 400 or more that `expected` does not
 * name (as "401 /api/v1/me/"). Failed loads are reported by URL, not by their console line, so a
 * test can expect its own 401 or 409.
 */
export async function openWatchedPage(browser: Browser, url: string, expected: readonly string[] = []): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    const what = `${res.status()} ${new URL(res.url()).pathname}`;
    if (res.status() >= 400 && !expected.includes(what)) problems.push(what);
  });
  await page.goto(url);
  return { page, problems };
}

/**
 * A watched page signed in through the app's own sign-in form, then on `path` under /app. The
 * signed-out start's 401 from GET /api/v1/me/ is expected; nothing else is.
 */
export async function openSignedInPage(browser: Browser, base: string, path: string, who: { tenant: string; email: string; password: string }, expected: readonly string[] = []): Promise<{ page: Page; problems: string[] }> {
  const opened = await openWatchedPage(browser, `${base}/app/sign-in`, ['401 /api/v1/me/', ...expected]);
  const { page } = opened;
  await page.getByLabel('Tenant').fill(who.tenant);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.click('#sign-in button[type=submit]');
  await page.locator('#whoami').waitFor();
  if (path !== '/') await page.goto(`${base}/app${path}`);
  await page.locator('main.content h1').first().waitFor();
  return opened;
}
