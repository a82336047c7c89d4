// The Knowledge page in a real browser against the real ingestion path: the API listening on a
// port, Postgres, and ingestion and conversations workers on the Temporal dev server. An owner
// drops two files on the drop zone and watches them upload and become ready without a reload,
// sees a refused upload's reason and an unreadable file fail with its reason, reads a document's
// chunks, asks what the assistant would retrieve, uploads a new version, restores the old one and
// deletes a document; what the page shows is checked against what Postgres then holds.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import type { TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';
import { startWebAppRig, type WebAppRig } from '../support/web-app-rig.ts';

const SHOT = 'web-app-knowledge';

describe('knowledge page in a browser', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let rig: WebAppRig;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    rig = await startWebAppRig('web-app-knowledge');
    ({ api, base } = rig);
    const slug = `shelf-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Shelf & Co', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'olga@example.com', role: 'owner' });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  const documents = () => forTenant(api.db, tenant.id).document.findMany({ orderBy: [{ title: 'asc' }, { version: 'asc' }] });
  const row = (page: Page, title: string) => page.locator(`#documents tr[data-title="${title}"]`);

  async function shot(page: Page, step: string) {
    await screenshot(page, SHOT, step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  /** Drops files on the drop zone the way a browser does: a drop event carrying a DataTransfer. */
  async function drop(page: Page, selector: string, files: { name: string; type: string; text: string }[]) {
    // A string: the page's own DataTransfer and File (this project is type-checked without the DOM's types).
    const dataTransfer = await page.evaluateHandle(
      `(() => { const dt = new DataTransfer(); for (const f of ${JSON.stringify(files)}) dt.items.add(new File([f.text], f.name, { type: f.type })); return dt; })()`,
    );
    await page.dispatchEvent(selector, 'dragover', { dataTransfer });
    await page.dispatchEvent(selector, 'drop', { dataTransfer });
  }

  it('uploads by drop and by the file input, shows progress, statuses and failures, chunks, retrieval, versions, restore and delete', async () => {
    // The refused upload (its type disagrees with its name) answers 415: expected, and shown.
    const { page, problems } = await openSignedInPage(browser, base, '/knowledge', { tenant: tenant.slug, email: 'olga@example.com', password: TEST_PASSWORD }, ['415 /api/v1/documents']);
    await page.locator('#no-documents').waitFor();
    await shot(page, 'empty');

    // Three files dropped at once: a progress bar each, then all ready without a reload.
    const handbook = Array.from({ length: 8 }, (_, i) => `## Step ${i + 1}\n\n` + `Step ${i + 1} of the handbook covers the shelves of aisle ${i + 1}. `.repeat(14)).join('\n\n');
    await drop(page, '#drop-zone', [
      { name: 'opening-hours.md', type: 'text/markdown', text: '# Opening hours\n\nThe shop opens at nine in the morning and closes at six in the evening.' },
      { name: 'returns.txt', type: 'text/plain', text: 'Returns are accepted within thirty days when the receipt is shown.' },
      { name: 'handbook.md', type: 'text/markdown', text: handbook },
    ]);
    const bars = page.locator('#uploads progress');
    await expect.poll(() => bars.count()).toBe(3);
    await expect.poll(() => bars.evaluateAll((els) => els.map((e) => (e as unknown as { value: number }).value))).toEqual([1, 1, 1]);
    for (const title of ['opening-hours', 'returns', 'handbook']) await row(page, title).and(page.locator('[data-status="ready"]')).waitFor({ timeout: 30_000 });
    expect((await documents()).map((d) => [d.title, d.status, d.deletedAt])).toEqual([['handbook', 'ready', null], ['opening-hours', 'ready', null], ['returns', 'ready', null]]);
    await shot(page, 'uploaded');

    // On a slow connection the bar moves while the bytes go: part of the way, then all of it.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 48 * 1024 });
    const catalogue = Array.from({ length: 1600 }, (_, i) => `Catalogue line ${i + 1}: article ${i + 1} is kept on shelf ${i % 40}.`).join('\n');
    await page.locator('#drop-zone input[type=file]').setInputFiles([{ name: 'catalogue.txt', mimeType: 'text/plain', buffer: Buffer.from(catalogue) }]);
    const catalogueBar = page.locator('#uploads li[data-name="catalogue.txt"] progress');
    const sent = () => catalogueBar.evaluate((bar) => (bar as unknown as { value: number }).value);
    await expect.poll(async () => { const v = await sent(); return v > 0 && v < 1; }, { interval: 50 }).toBe(true);
    await shot(page, 'uploading');
    await expect.poll(sent, { timeout: 20_000 }).toBe(1);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await row(page, 'catalogue').and(page.locator('[data-status="ready"]')).waitFor({ timeout: 30_000 });

    // Through the plain file input: a text file named .pdf is refused with the server's reason,
    // and a file that is a PDF only by its first bytes fails in ingestion with its reason.
    await page.locator('#drop-zone input[type=file]').setInputFiles([
      { name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('Plain text, not a PDF at all.') },
    ]);
    await page.locator('#uploads li[data-name="notes.pdf"] [role=alert]').filter({ hasText: /PDF|type/i }).waitFor();
    await page.locator('#drop-zone input[type=file]').setInputFiles([
      { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n%\u00e2\u00e3\nthis is not the rest of a PDF\n%%EOF\n') },
    ]);
    await row(page, 'scan').and(page.locator('[data-status="failed"]')).waitFor({ timeout: 30_000 });
    const failed = (await documents()).find((d) => d.title === 'scan')!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toBeTruthy();
    expect(await row(page, 'scan').locator('.failure').textContent()).toBe(failed.error);
    expect((await documents()).some((d) => d.title === 'notes')).toBe(false);
    await shot(page, 'failed');

    // The chunk preview of a document, a page at a time.
    const handbookChunks = (await documents()).find((d) => d.title === 'handbook')!.chunkCount;
    expect(handbookChunks).toBeGreaterThan(5);
    await row(page, 'handbook').getByRole('button', { name: 'Details of handbook' }).click();
    await page.locator('#chunk-range', { hasText: `Chunks 1–5 of ${handbookChunks}` }).waitFor();
    await page.getByRole('button', { name: 'Next chunks' }).click();
    await page.locator('#chunk-range', { hasText: `Chunks 6–${Math.min(10, handbookChunks)} of ${handbookChunks}` }).waitFor();
    expect(await page.locator('#chunk-preview .chunk').first().textContent()).toMatch(/^#6 · \d+ characters/);
    await page.getByRole('button', { name: 'Previous chunks' }).click();
    await page.locator('#chunk-range', { hasText: 'Chunks 1–5' }).waitFor();
    await row(page, 'opening-hours').getByRole('button', { name: 'Details of opening-hours' }).click();
    const chunks = page.locator('#chunk-preview .chunk');
    await expect.poll(() => chunks.count()).toBe(1);
    expect(await chunks.first().textContent()).toContain('The shop opens at nine in the morning');
    expect(await page.locator('#chunk-range').textContent()).toContain('of 1');
    await shot(page, 'chunks');

    // What the assistant would retrieve, with a score.
    const ask = async (question: string) => {
      await page.getByLabel('Question').fill(question);
      await page.getByRole('button', { name: 'Show passages' }).click();
    };
    await ask('When does the shop open in the morning?');
    const firstPassage = page.locator('#passages .passage').first();
    await firstPassage.filter({ hasText: 'opens at nine' }).waitFor();
    expect(await firstPassage.locator('.score').textContent()).toMatch(/^score \d\.\d{3}$/);
    expect(await firstPassage.textContent()).toContain('opening-hours');
    await shot(page, 'retrieval');

    // A new version through the detail's input; the list follows it to ready by itself, even
    // past a read of the list that never reached the server.
    let dropped = 0;
    const list = (url: URL) => url.pathname === '/api/v1/documents/';
    await page.route(list, (route) => (dropped++ === 0 ? route.abort('connectionreset') : route.continue()));
    await page.locator('#version-drop-zone input[type=file]').setInputFiles([
      { name: 'opening-hours.md', mimeType: 'text/markdown', buffer: Buffer.from('# Opening hours\n\nThe shop opens at ten in the morning since the works began.') },
    ]);
    await page.locator('#versions tr[data-version="2"]').waitFor();
    await row(page, 'opening-hours').and(page.locator('[data-status="ready"]')).locator('td.doc-version', { hasText: '2' }).waitFor({ timeout: 30_000 });
    expect(dropped).toBeGreaterThan(1);
    await page.unroute(list);
    await ask('When does the shop open in the morning?');
    await firstPassage.filter({ hasText: 'opens at ten' }).waitFor();
    const hours = async () => (await documents()).filter((d) => d.title === 'opening-hours').map((d) => [d.version, d.deletedAt === null]);
    expect(await hours()).toEqual([[1, false], [2, true]]);

    // Restore version 1: it is the live one again, and retrieval finds it.
    await page.getByRole('button', { name: 'Restore version 1' }).click();
    await expect.poll(hours).toEqual([[1, true], [2, false]]);
    await row(page, 'opening-hours').locator('td.doc-version', { hasText: '1' }).waitFor();
    await page.getByRole('button', { name: 'Restore version 2' }).waitFor();
    await ask('When does the shop open in the morning?');
    await firstPassage.filter({ hasText: 'opens at nine' }).waitFor();
    await shot(page, 'restored');

    // Delete, after a confirmation.
    await row(page, 'returns').getByRole('button', { name: 'Delete returns' }).click();
    await row(page, 'returns').locator('button.confirm-delete').click();
    await row(page, 'returns').waitFor({ state: 'detached' });
    expect((await documents()).find((d) => d.title === 'returns')!.deletedAt).not.toBeNull();
    await shot(page, 'deleted');

    // A phone's width: nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await shot(page, 'narrow');

    expect(problems).toEqual([]);
  });
});
