// The Overview, Usage and Account pages of the web app in a real browser against a real API and
// Postgres: an owner reads the charts of a seeded history (test/support/analytics.ts) over 7 and
// 30 days, a tenant without data sees the empty states, the usage page shows what Postgres holds,
// and on the account page a refused password, two sessions and signing the other one out (that
// browser is then signed out); an agent's overview has no analytics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { WEB_APP_CSP } from '../../api/web-app/index.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { daysAgo, seedAnalyticsTenant, type SeededAnalytics } from '../support/analytics.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, signIn, TEST_PASSWORD } from '../support/team.ts';

const NEW_PASSWORD = 'a fresh and rather long passphrase';

describe('web app: overview, usage and account', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let seeded: SeededAnalytics;
  const owner = { email: 'owen@example.com', password: TEST_PASSWORD };
  const signInAs = (who: { email: string; password: string }, path = '/', tenant = seeded.tenant.slug, expected: string[] = []) =>
    openSignedInPage(browser, base, path, { tenant, ...who }, expected);

  beforeAll(async () => {
    api = await startTestApi('web_app_overview');
    base = await listen(api.app);
    seeded = await seedAnalyticsTenant(api.db, api.config, 'Acme Bikes');
    await createUser(api.db, seeded.tenant.id, { email: owner.email, role: 'owner', name: 'Owen Owner' });
    await createUser(api.db, seeded.tenant.id, { email: 'ada@example.com', role: 'agent', name: 'Ada Agent' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  /** The figures of a chart's table, by day: the cells of each row. */
  const figures = (page: Page, chart: string) =>
    page.locator(`${chart} table tbody tr`).evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.getAttribute('data-day'), [...r.querySelectorAll('td')].map((td) => td.textContent)])));
  const caption = (page: Page, chart: string) => page.locator(`${chart} figcaption`).textContent();
  const check = async (page: Page, step: string) => {
    await screenshot(page, 'web-app-overview', step);
    expect(await seriousA11yViolations(page)).toEqual([]);
  };
  /** At 360 px wide nothing is wider than the screen. */
  const checkNarrow = async (page: Page, step: string) => {
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await check(page, step);
    await page.setViewportSize({ width: 1280, height: 800 });
  };

  it("shows an owner the last 7 and 30 days as charts whose figures are the seeded history's, under the page's CSP", async () => {
    const { page, problems } = await signInAs(owner);
    const document = await page.request.get(`${base}/app/`);
    expect(document.headers()['content-security-policy']).toBe(WEB_APP_CSP);
    await page.locator('#charts[data-range="7"]').waitFor();
    const [d1, d3, d10] = [daysAgo(1), daysAgo(3), daysAgo(10)];

    // Messages in and out per day, one chart per channel.
    expect(await page.locator('[data-chart=messages]').evaluateAll((els) => els.map((e) => e.getAttribute('data-channel')))).toEqual(['Shop WhatsApp', 'Shop Messenger']);
    const whatsapp = await figures(page, '[data-channel="Shop WhatsApp"]');
    expect(Object.keys(whatsapp)).toHaveLength(7);
    expect([whatsapp[d3], whatsapp[d1], whatsapp[daysAgo(2)]]).toEqual([['3', '2'], ['2', '2'], ['0', '0']]);
    expect((await figures(page, '[data-channel="Shop Messenger"]'))[d1]).toEqual(['2', '2']);
    expect(await caption(page, '[data-channel="Shop WhatsApp"]')).toBe('Shop WhatsApp: 5 messages in and 4 out in the last 7 days.');
    // The message bars drawn are the days with messages: 2 + 2 on WhatsApp (3 and 1 days ago), 2 on Messenger.
    expect(await page.locator('[data-chart=messages] svg rect').count()).toBe(6);

    expect(await caption(page, '[data-chart=latency]')).toBe('Over 6 replies in the last 7 days, half came within 3.5 s and 95 % within 7.5 s.');
    expect((await figures(page, '[data-chart=latency]'))[d1]).toEqual(['3.0 s', '7.4 s']);
    expect((await figures(page, '[data-chart=latency]'))[daysAgo(2)]).toEqual(['—', '—']);
    expect(await caption(page, '[data-chart=handoff]')).toBe('1 of 3 conversations (33 %) in the last 7 days asked for a person.');
    expect((await figures(page, '[data-chart=handoff]'))[d1]).toEqual(['50 %']);
    expect(await caption(page, '[data-chart=unanswered]')).toBe('2 of 5 assistant replies (40 %) in the last 7 days did not answer.');
    expect((await figures(page, '[data-chart=unanswered]'))[d3]).toEqual(['1', '1']);
    expect(await caption(page, '[data-chart=cost]')).toMatch(/^\$1\.67 in the last 7 days against a daily budget of \$1\.00; over it on \w+ \d+\.$/);
    expect((await figures(page, '[data-chart=cost]'))[d3]).toEqual(['$1.25']);
    expect(await page.locator('[data-chart=cost] rect.over').count()).toBe(1); // three days ago, over the $1 budget
    await check(page, 'owner-7-days');

    // Switching the range asks again and draws the 30 days.
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    await page.locator('#charts[data-range="30"]').waitFor();
    expect(await page.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed')).toBe('true');
    const messenger = await figures(page, '[data-channel="Shop Messenger"]');
    expect(Object.keys(messenger)).toHaveLength(30);
    expect(messenger[d10]).toEqual(['1', '1']);
    expect(await caption(page, '[data-chart=handoff]')).toBe('1 of 4 conversations (25 %) in the last 30 days asked for a person.');
    await page.locator('[data-chart=cost] details summary').click();
    await page.locator('[data-chart=cost] table').waitFor();
    await check(page, 'owner-30-days-cost-figures');
    await checkNarrow(page, 'owner-30-days-narrow');

    // Styles come from the stylesheet and the CSSOM only: no <style> element, no policy violation.
    expect(await page.locator('style').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('shows honest empty states to a tenant without any history', async () => {
    const slug = `empty-${Math.random().toString(36).slice(2, 8)}`;
    const { tenant } = await createTenant(api.db, { name: 'Quiet Ltd', slug });
    await createUser(api.db, tenant.id, { email: 'quinn@example.com', role: 'admin' });
    const { page, problems } = await signInAs({ email: 'quinn@example.com', password: TEST_PASSWORD }, '/', slug);
    await page.locator('#charts').waitFor();
    for (const [id, text] of [
      ['#messages-empty', 'No messages in the last 7 days.'],
      ['#latency-empty', 'No replies in the last 7 days.'],
      ['#handoff-empty', 'No conversations in the last 7 days.'],
      ['#unanswered-empty', 'No assistant replies in the last 7 days.'],
      ['#cost-empty', 'No model cost in the last 7 days.'],
    ]) expect(await page.locator(id!).textContent()).toBe(text);
    expect(await page.locator('#charts svg').count()).toBe(0);
    await check(page, 'empty-tenant');
    expect(problems).toEqual([]);
  });

  it('shows the usage of a month as Postgres holds it, against the daily budget', async () => {
    const { page, problems } = await signInAs(owner, '/usage');
    const tdb = forTenant(api.db, seeded.tenant.id);
    const now = new Date();
    for (const [period, offset] of [['This month', 0], ['Last month', -1]] as const) {
      const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
      const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset + 1, 1));
      await page.getByRole('button', { name: period }).click();
      await page.locator(`#usage[data-from="${from.toISOString().slice(0, 10)}"]`).waitFor();
      expect(await page.getByRole('button', { name: period }).getAttribute('aria-pressed')).toBe('true');
      const [inbound, outbound, usage] = await Promise.all([
        tdb.message.count({ where: { direction: 'inbound', createdAt: { gte: from, lt: to } } }),
        tdb.message.count({ where: { direction: 'outbound', createdAt: { gte: from, lt: to } } }),
        tdb.usage.aggregate({ where: { day: { gte: from, lt: to } }, _sum: { costUsd: true, promptTokens: true } }),
      ]);
      const facts = await page.locator('#totals dd').allTextContents();
      expect(facts).toEqual([String(inbound), String(outbound), expect.any(String), (usage._sum.promptTokens ?? 0).toLocaleString('en-US'), expect.any(String), `$${Number(usage._sum.costUsd ?? 0).toFixed(4)}`]);
      expect(await page.locator('#usage-days tbody tr, #days-empty').count()).toBeGreaterThan(0);
      await check(page, `usage-${period}`);
    }
    expect(await page.locator('#budget').textContent()).toBe('$0.00 of the daily budget of $1.00 spent today (UTC).');
    expect((await page.locator('#documents dd').allTextContents()).slice(0, 2)).toEqual([
      `0 of ${api.config.DOCUMENT_QUOTA_PER_TENANT.toLocaleString('en-US')} allowed`,
      `0 of ${api.config.CHUNK_QUOTA_PER_TENANT.toLocaleString('en-US')} allowed`,
    ]);
    await checkNarrow(page, 'usage-narrow');
    expect(problems).toEqual([]);
  });

  it('changes the password after a refused one, lists two sessions and signs the other one out', async () => {
    const ownerId = (await forTenant(api.db, seeded.tenant.id).user.findFirstOrThrow({ where: { email: owner.email } })).id;
    const sessions = () => forTenant(api.db, seeded.tenant.id).userSession.count({ where: { userId: ownerId } });
    await forTenant(api.db, seeded.tenant.id).userSession.deleteMany({ where: { userId: ownerId } }); // the earlier tests' sign-ins
    const other = await signInAs(owner, '/');
    const { page, problems } = await signInAs(owner, '/', seeded.tenant.slug, ['403 /api/v1/me/password', '400 /api/v1/me/password']);
    await page.locator('#whoami a').click();
    await page.locator('#sessions').waitFor();
    expect(new URL(page.url()).pathname).toBe('/app/account');
    const rows = page.locator('#sessions tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await page.locator('#sessions tr[data-current] th').textContent()).toMatch(/^Chrome on Linux \(this one\)$/);
    expect(await page.locator('#sessions tbody td:nth-child(2)').allTextContents()).toEqual(['127.0.0.1', '127.0.0.1']);
    await check(page, 'account-two-sessions');

    // A wrong current password, then a new one the server refuses: each at its field.
    await page.getByLabel('Current password').fill('not my password at all');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.click('#change-password button[type=submit]');
    await expect.poll(() => page.locator('#change-password .field-error').textContent()).toBe('This is not your current password.');
    expect(await page.getByLabel('Current password').getAttribute('aria-invalid')).toBe('true');
    await check(page, 'account-wrong-password');
    await page.getByLabel('Current password').fill(owner.password);
    await page.getByLabel('New password').fill('aaaaaaaaaaaaaaaa');
    await page.click('#change-password button[type=submit]');
    await expect.poll(() => page.locator('#change-password .field-error').textContent()).toBe('This password is one character repeated. Choose another.');
    expect(await page.getByLabel('New password').getAttribute('aria-invalid')).toBe('true');
    await check(page, 'account-weak-password');
    expect((await signIn(api.app, { tenant: seeded.tenant.slug, ...owner })).res.statusCode).toBe(200); // nothing changed

    // Signing the other browser's session out ends it there; one from elsewhere goes with "all other".
    expect(await sessions()).toBe(3); // the two browsers, and the sign-in just now
    await page.reload();
    await expect.poll(() => rows.count()).toBe(3);
    const otherRow = page.locator('#sessions tbody tr:not([data-current])').first();
    await otherRow.locator('button.end-session').click();
    await expect.poll(() => rows.count()).toBe(2);
    await page.click('#end-other-sessions');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await sessions()).toBe(1);
    expect(await page.locator('#end-other-sessions').isDisabled()).toBe(true);
    await check(page, 'account-one-session');
    await other.page.reload();
    await other.page.locator('#sign-in').waitFor();

    await page.getByLabel('Current password').fill(owner.password);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.click('#change-password button[type=submit]');
    await page.locator('#password-changed').waitFor();
    await check(page, 'account-password-changed');
    await checkNarrow(page, 'account-narrow');
    expect((await signIn(api.app, { tenant: seeded.tenant.slug, ...owner })).res.statusCode).toBe(401);
    expect((await signIn(api.app, { tenant: seeded.tenant.slug, email: owner.email, password: NEW_PASSWORD })).res.statusCode).toBe(200);
    owner.password = NEW_PASSWORD;
    expect(problems).toEqual([]);
    expect(other.problems).toEqual([]); // its 401 from GET /api/v1/me/ after the reload is the expected "signed out"
  });

  it("shows an agent the account summary and the conversations waiting for a person, without analytics", async () => {
    await forTenant(api.db, seeded.tenant.id).conversation.update({ where: { id: seeded.conversationIds[0] }, data: { status: 'handoff_requested' } });
    const { page, problems } = await signInAs({ email: 'ada@example.com', password: TEST_PASSWORD });
    await page.locator('#waiting').waitFor();
    expect(await page.locator('#waiting').textContent()).toBe('1 conversation is waiting for a person. Open the Inbox');
    expect(await page.locator('#account dd').allTextContents()).toEqual(['Ada Agent', 'ada@example.com', `Acme Bikes (${seeded.tenant.slug})`, 'agent']);
    expect(await page.locator('#charts').count()).toBe(0);
    await check(page, 'agent');
    await checkNarrow(page, 'agent-narrow');
    expect(problems).toEqual([]); // the page did not ask for analytics (an agent gets 403)
  });
});
