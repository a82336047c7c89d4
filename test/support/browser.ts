// Real pages in a real browser: Debian's Chromium (found or installed by `scripts/setup.ts
// --browser`, its path provided by test/global-setup.ts) driven through playwright-core, against
// an API listening on a free port. Screenshots are kept as test artifacts.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
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

const fileSafe = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/** Saves the page as test-artifacts/screenshots/<test>-<step>.png and returns the path. */
export async function screenshot(page: Page, test: string, step: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${fileSafe(test)}-${fileSafe(step)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
