// The tenant web app (/app) in a real browser (Debian's Chromium through playwright-core) against
// a real API listening on a port and Postgres: the operator invites the first owner, who joins
// through the link, invites an agent from the Team page; the agent joins in a browser of their own
// and meets only what an agent may; passwords the server refuses and a wrong password are shown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { WEB_APP_CSP } from '../../api/web-app/index.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, listen, openWatchedPage, screenshot } from '../support/browser.ts';
import { createUser, signIn, tokenOfLink, withSession } from '../support/team.ts';

const OWNER_PASSWORD = 'owner passphrase of some length';
const AGENT_PASSWORD = 'agent passphrase of some length';

describe('tenant web app in a browser', { timeout: 180_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string; name: string };

  beforeAll(async () => {
    api = await startTestApi('web_app');
    base = await listen(api.app);
    const slug = `acme-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { ...(await createTenant(api.db, { name: 'Acme Ltd', slug })).tenant, slug };
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  /** A page of the app in a fresh context; page errors fail the test. A signed-out start asks GET /api/v1/me/ who is signed in: its 401 is the answer "nobody". */
  const open = (path: string) => openWatchedPage(browser, `${base}/app${path}`, ['401 /api/v1/me/']);

  const users = () => forTenant(api.db, tenant.id).user.findMany({ orderBy: { createdAt: 'asc' } });

  it('serves index.html for every page under its own policy, hashed assets from a fixed list, and stays out of the OpenAPI document', async () => {
    for (const url of ['/app', '/app/', '/app/team', '/app/accept-invitation']) {
      const res = await api.app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['content-security-policy']).toBe(WEB_APP_CSP);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('<div id="root">');
      expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline scripts
    }
    expect(WEB_APP_CSP).toContain("script-src 'self'");
    expect(WEB_APP_CSP).not.toContain('unsafe-inline');

    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec((await api.app.inject({ url: '/app' })).body)![1]!;
    const asset = await api.app.inject({ url: script });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toContain('text/javascript');
    expect(asset.headers['cache-control']).toContain('immutable');
    for (const url of ['/app/assets/nope.js', '/app/assets/..%2F..%2Fvite.config.ts', '/app/assets/%2E%2E%2Findex.html']) {
      const missing = await api.app.inject({ url });
      expect(missing.statusCode, url).toBe(404);
      expect(missing.json().error.code).toBe('not_found');
    }
    const spec = (await api.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/app'))).toEqual([]);
  });

  it('the first owner joins through the link, invites an agent, who joins and sees only what an agent may; sign-out and a wrong password', async () => {
    // The operator invites the first owner through the API (no SMTP: the answer has the link).
    const invited = await fetch(`${base}/api/v1/tenants/${tenant.id}/invitations`, {
      method: 'POST',
      headers: { ...bearer(api.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'olivia@example.com' }),
    });
    expect(invited.status).toBe(201);
    const ownerLink = ((await invited.json()) as { link: string }).link;

    const owner = await open(`/accept-invitation#token=${tokenOfLink(ownerLink)}`);
    await owner.page.locator('#accept-invitation').waitFor();
    expect(new URL(owner.page.url()).hash).toBe(''); // the token leaves the address bar
    await screenshot(owner.page, 'web-app', 'accept-invitation');

    // A password the server refuses is shown at the field, in the server's words.
    await owner.page.getByLabel('Your name').fill('Olivia Owner');
    await owner.page.getByLabel('Password').fill('olivia@example.com');
    await owner.page.click('#accept-invitation button[type=submit]');
    const fieldError = owner.page.locator('#accept-invitation .field-error');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toBe("This password is the account's email. Choose another.");
    expect(await owner.page.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');
    await screenshot(owner.page, 'web-app', 'accept-invitation-weak-password');
    expect(owner.problems).toEqual(['400 /api/v1/auth/invitation/accept']);
    owner.problems.length = 0;

    await owner.page.getByLabel('Password').fill(OWNER_PASSWORD);
    await owner.page.click('#accept-invitation button[type=submit]');
    await owner.page.locator('#account').waitFor();
    expect(new URL(owner.page.url()).pathname).toBe('/app/');
    expect(await owner.page.locator('#whoami').textContent()).toContain('Olivia Owner');
    expect(await owner.page.locator('#role').textContent()).toBe('owner');
    expect(await owner.page.locator('#tenant-name').textContent()).toBe('Acme Ltd');
    const ownerNav = await owner.page.locator('nav.sections a').allTextContents();
    expect(ownerNav).toEqual(['Overview', 'Inbox', 'Knowledge', 'Assistant', 'Evaluations', 'Channels', 'Functions', 'Webhooks', 'Team', 'API keys', 'Usage']);
    await screenshot(owner.page, 'web-app', 'overview-owner');
    expect(await seriousA11yViolations(owner.page)).toEqual([]);

    // The Team page: the owner invites an agent; without SMTP the link is shown to pass on.
    await owner.page.click('nav.sections >> text=Team');
    await owner.page.locator('#members tr[data-email="olivia@example.com"]').waitFor();
    await owner.page.getByLabel('Email').fill('andy@example.com');
    await owner.page.selectOption('#invite-role', 'agent');
    await owner.page.click('#invite button[type=submit]');
    const agentLink = await owner.page.locator('#invite-link input').inputValue();
    await owner.page.locator('#invitations li[data-email="andy@example.com"]').waitFor();
    await screenshot(owner.page, 'web-app', 'team-invited');
    expect(await seriousA11yViolations(owner.page)).toEqual([]);

    // An invitation revoked from the page no longer works.
    await owner.page.getByLabel('Email').fill('mistake@example.com');
    await owner.page.click('#invite button[type=submit]');
    const revoked = owner.page.locator('#invitations li[data-email="mistake@example.com"]');
    await revoked.waitFor();
    const revokedLink = await owner.page.locator('#invite-link input').inputValue();
    await revoked.locator('button.revoke').click();
    await revoked.waitFor({ state: 'detached' });
    const afterRevoke = await fetch(`${base}/api/v1/auth/invitation/accept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokenOfLink(revokedLink), password: AGENT_PASSWORD }) });
    expect(afterRevoke.status).toBe(400);

    // The agent joins in a browser of their own.
    const agent = await open(`/accept-invitation#token=${tokenOfLink(agentLink)}`);
    await agent.page.getByLabel('Your name').fill('Andy Agent');
    await agent.page.getByLabel('Password').fill(AGENT_PASSWORD);
    await agent.page.click('#accept-invitation button[type=submit]');
    await agent.page.locator('#account').waitFor();
    expect(await agent.page.locator('#role').textContent()).toBe('agent');
    expect(await agent.page.locator('nav.sections a').allTextContents()).toEqual(['Overview', 'Inbox']);
    await screenshot(agent.page, 'web-app', 'overview-agent');
    await agent.page.goto(`${base}/app/team`);
    await agent.page.locator('#not-allowed').waitFor();
    expect(await agent.page.locator('#members').count()).toBe(0);
    await screenshot(agent.page, 'web-app', 'team-agent-not-allowed');
    expect(agent.problems).toEqual([]); // the page did not even ask the API

    // Sign out; a wrong password shows the error; the right one signs in again.
    await agent.page.click('#sign-out');
    await agent.page.locator('#sign-in').waitFor();
    expect(new URL(agent.page.url()).pathname).toBe('/app/sign-in');
    expect((await agent.page.context().cookies()).map((c) => c.name)).not.toContain('__Host-metachat_session');
    await agent.page.getByLabel('Tenant').fill(tenant.slug);
    await agent.page.getByLabel('Email').fill('andy@example.com');
    await agent.page.getByLabel('Password').fill('not my password at all');
    await agent.page.click('#sign-in button[type=submit]');
    await agent.page.locator('#sign-in .problem').waitFor();
    expect(await agent.page.locator('#sign-in .problem').textContent()).toBe('The tenant, email or password is wrong.');
    await screenshot(agent.page, 'web-app', 'sign-in-wrong-password');
    expect(await seriousA11yViolations(agent.page)).toEqual([]);
    await agent.page.getByLabel('Password').fill(AGENT_PASSWORD);
    await agent.page.click('#sign-in button[type=submit]');
    await agent.page.locator('#account').waitFor();
    expect(agent.problems).toEqual(['401 /api/v1/auth/session']);

    // The owner sees the agent join, promotes them, then removes them: their session ends.
    await owner.page.reload();
    const agentRow = owner.page.locator('#members tr[data-email="andy@example.com"]');
    await agentRow.waitFor();
    expect(await owner.page.locator('#invitations li[data-email="andy@example.com"]').count()).toBe(0);
    await agentRow.locator('select').selectOption('admin');
    await expect.poll(async () => (await users()).find((u) => u.email === 'andy@example.com')?.role).toBe('admin');
    await screenshot(owner.page, 'web-app', 'team-members');
    // On a phone the navigation goes above the page and the table scrolls on its own.
    await owner.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(owner.page, 'web-app', 'team-members-narrow');
    expect(await owner.page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await owner.page.setViewportSize({ width: 1280, height: 720 });
    await agentRow.locator('button.remove').click();
    await agentRow.locator('button.confirm-remove').click();
    await agentRow.waitFor({ state: 'detached' });
    expect((await users()).map((u) => u.email)).toEqual(['olivia@example.com']);
    await agent.page.reload();
    await agent.page.locator('#sign-in').waitFor();
    expect(owner.problems).toEqual([]);
  });

  it('resets a password: asks for a link, and sets the new one from it', async () => {
    const { page, problems } = await open('/reset-password');
    await page.getByLabel('Tenant').fill(tenant.slug);
    await page.getByLabel('Email').fill('olivia@example.com');
    await page.click('#request-reset button[type=submit]');
    await page.locator('#reset-requested').waitFor();
    await screenshot(page, 'web-app', 'reset-password-requested');

    // Without SMTP an owner makes the link; here the owner makes it for themselves.
    const { session } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: OWNER_PASSWORD });
    const olivia = (await users()).find((u) => u.email === 'olivia@example.com')!;
    const made = await api.app.inject({ method: 'POST', url: `/api/v1/team/users/${olivia.id}/password-reset`, headers: withSession(session!) });
    expect(made.statusCode).toBe(201);
    await page.goto(`${base}/app/reset-password#token=${tokenOfLink(made.json().link)}`);
    await page.getByLabel('New password', { exact: true }).fill('aaaaaaaaaaaaaaaa');
    await page.click('#confirm-reset button[type=submit]');
    await page.locator('#confirm-reset .field-error').waitFor();
    expect(await page.locator('#confirm-reset .field-error').textContent()).toBe('This password is one character repeated. Choose another.');
    await screenshot(page, 'web-app', 'reset-password-confirm-weak');
    await page.getByLabel('New password', { exact: true }).fill('a brand new owner passphrase');
    await page.click('#confirm-reset button[type=submit]');
    await page.locator('#reset-done').waitFor();
    await screenshot(page, 'web-app', 'reset-password-done');
    expect(problems).toEqual(['400 /api/v1/auth/password-reset/confirm']);
    expect((await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: 'a brand new owner passphrase' })).res.statusCode).toBe(200);
  });

  it('tells how long to wait when sign-in answers 429 with Retry-After', async () => {
    const locking = await startTestApi('web_app_lockout', { LOGIN_LOCKOUT_FAILURES: '2', LOGIN_LOCKOUT_MINUTES: '15' });
    try {
      const lockingBase = await listen(locking.app);
      const slug = `locked-${Math.random().toString(36).slice(2, 8)}`;
      const { tenant: locked } = await createTenant(locking.db, { name: 'Locked Ltd', slug });
      await createUser(locking.db, locked.id, { email: 'lee@example.com', role: 'agent' });
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${lockingBase}/app/sign-in`);
      await page.getByLabel('Tenant').fill(slug);
      await page.getByLabel('Email').fill('lee@example.com');
      await page.getByLabel('Password').fill('not my password at all');
      const answers: number[] = [];
      page.on('response', (res) => {
        if (new URL(res.url()).pathname === '/api/v1/auth/session') answers.push(res.status());
      });
      const problem = page.locator('#sign-in .problem');
      for (let attempt = 1; attempt <= 4 && !answers.includes(429); attempt++) {
        await page.click('#sign-in button[type=submit]');
        await expect.poll(() => answers.length).toBe(attempt);
      }
      expect(answers).toEqual([401, 401, 429]);
      await expect.poll(() => problem.textContent()).toBe('Too many attempts. Try again in 15 minutes.');
      await screenshot(page, 'web-app', 'sign-in-locked');
    } finally {
      await locking.close();
    }
  });
});
