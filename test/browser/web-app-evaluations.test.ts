// The evaluations page of the web app in a real browser against the real API and Postgres: an
// admin adds a case with expected facts and one expecting a refusal (the page asks for a fact
// first), edits and deletes one, sees two runs with their scores, the later one's regression
// marked in the list and in its details beside the previous run, and starts a run.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';

describe('web app: evaluations page', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    api = await startTestApi('web_app_evaluations');
    base = await listen(api.app);
    const slug = `evals-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Evaluations Ltd', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'admin@example.com', role: 'admin' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  const tdb = () => forTenant(api.db, tenant.id);

  /** Two finished runs of one case, as the evaluation workflow leaves them: passed, then regressed. */
  async function seedRuns(caseId: string, question: string) {
    const result = { caseId, tenantId: tenant.id, question, expectedFacts: ['30 days'], expectRefusal: false, outcome: 'reply', declined: false, refusalCorrect: true, latencyMs: 12 };
    const first = randomUUID();
    const second = randomUUID();
    await tdb().evaluationRun.create({ data: { id: first, tenantId: tenant.id, trigger: 'manual', settingsVersion: 1, status: 'finished', casesTotal: 1, casesPassed: 1, groundedness: 1, citationCorrectness: 1, refusalAccuracy: 1, latencyMsAvg: 12, startedAt: new Date(Date.now() - 60_000), finishedAt: new Date(Date.now() - 59_000) } });
    await tdb().evaluationResult.create({ data: { ...result, runId: first, answer: 'Returns are accepted within 30 days.', citedPassages: [{ chunkId: randomUUID(), documentId: randomUUID(), title: 'Returns policy', content: 'Returns are accepted within 30 days.' }], passed: true, groundedness: 1, citationCorrectness: 1 } });
    await tdb().evaluationRun.create({ data: { id: second, tenantId: tenant.id, trigger: 'documents_changed', settingsVersion: 1, status: 'finished', previousRunId: first, casesTotal: 1, casesPassed: 0, groundedness: 0, citationCorrectness: 0, refusalAccuracy: 0, latencyMsAvg: 9, regressions: 1, finishedAt: new Date() } });
    await tdb().evaluationResult.create({ data: { ...result, runId: second, answer: "I don't know the answer to that from what I have.", citedPassages: [], passed: false, declined: true, refusalCorrect: false, groundedness: 0, citationCorrectness: 0, regressed: true } });
    return { first, second };
  }

  async function check(page: Page, step: string) {
    await screenshot(page, 'web-app-evaluations', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  }

  it('adds, edits and deletes cases, shows runs with their scores and regressions, and starts a run', async () => {
    const { page, problems } = await openSignedInPage(browser, base, '/evaluations', { tenant: tenant.slug, email: 'admin@example.com', password: TEST_PASSWORD });
    await page.locator('#no-cases').waitFor();
    await page.locator('#no-runs').waitFor();
    expect(await page.locator('#start-run').isDisabled()).toBe(true);
    await check(page, 'empty');

    const form = page.locator('#case-form');
    await page.getByLabel('Question').fill('How long do I have to return a bike?');
    await form.locator('button[type=submit]').click();
    await form.getByRole('alert').waitFor();
    expect(await form.getByRole('alert').textContent()).toContain('at least one expected fact');
    await page.getByLabel('Expected facts').fill('30 days\n\nreceipt');
    await form.locator('button[type=submit]').click();
    await page.getByRole('status').filter({ hasText: 'Added the case.' }).waitFor();

    await page.getByLabel('Question').fill('What is the capital of Peru?');
    await page.getByLabel(/No document answers it/).check();
    expect(await page.getByLabel('Expected facts').count()).toBe(0);
    await form.locator('button[type=submit]').click();
    await page.locator('#evaluation-cases tbody tr').nth(1).waitFor();
    expect(await page.locator('#evaluation-cases .expected').allTextContents()).toEqual(['“30 days”, “receipt”', 'declines and offers a person']);
    await check(page, 'cases');

    // Edit the first: one fact fewer.
    await page.getByRole('button', { name: 'Edit “How long do I have to return a bike?”' }).click();
    await page.getByLabel('Expected facts').fill('30 days');
    await form.locator('button[type=submit]').click();
    await page.getByRole('status').filter({ hasText: 'Saved the case.' }).waitFor();
    const stored = await tdb().evaluationCase.findMany({ orderBy: { createdAt: 'asc' } });
    expect(stored.map((c) => [c.question, c.expectedFacts, c.expectRefusal])).toEqual([
      ['How long do I have to return a bike?', ['30 days'], false],
      ['What is the capital of Peru?', [], true],
    ]);

    // Delete the second, after the confirmation.
    await page.getByRole('button', { name: 'Delete “What is the capital of Peru?”' }).click();
    await page.locator('.confirm-delete').click();
    await page.getByRole('status').filter({ hasText: 'Deleted the case.' }).waitFor();
    expect(await tdb().evaluationCase.count()).toBe(1);

    // Runs: the list with the scores, the regression marked, and the later run's details.
    const { second } = await seedRuns(stored[0]!.id, stored[0]!.question);
    await page.reload();
    await page.locator('#evaluation-runs tbody tr').nth(1).waitFor();
    const latest = page.locator(`#evaluation-runs tr[data-id="${second}"]`);
    expect(await latest.locator('.passed').textContent()).toBe('0 of 1');
    expect(await latest.locator('.regressions').getAttribute('class')).toContain('regressed');
    expect(await page.locator('#evaluation-runs tbody tr').first().getAttribute('data-id')).toBe(second);
    await latest.locator('button.view').click();
    await page.locator('#run-detail #run-results tbody tr').waitFor();
    expect(await page.locator('#comparison').textContent()).toBe('Previous run: 1 passed; 1 regressed, 0 improved');
    const row = page.locator('#run-results tbody tr').first();
    expect(await row.getAttribute('data-regressed')).toBe('true');
    expect(await row.textContent()).toContain('regressed: passed in the previous run');
    await check(page, 'run-details');

    // Run now: the API accepts it and the list shows it running (no worker polls in this test).
    await page.locator('#start-run').click();
    await page.getByRole('status').filter({ hasText: 'Run started.' }).waitFor();
    await page.locator('#evaluation-runs tr[data-status="running"]').waitFor();
    expect(await page.locator('#start-run').textContent()).toBe('Running…');
    expect(await tdb().evaluationRun.count({ where: { status: 'running', trigger: 'manual' } })).toBe(1);
    expect(problems).toEqual([]);
  });
});
