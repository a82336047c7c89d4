// Team accounts through the real API on a real Postgres: a tenant's first owner invited by the
// operator, sign-in (success, failure, no enumeration, limits and lockout), the session cookie and
// its CSRF token, session expiry (absolute, idle), sign-out and revocation, invitations and
// password resets (single use, expiring), roles, and a tenant's deletion taking its team with it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../api/plugins/app/sessions.ts';
import { tokenHash } from '../lib/auth-tokens.ts';
import { createTenant } from '../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import argon2 from 'argon2';
import { createUser, sessionCookieOf, sessionFor, signIn, TEST_PASSWORD, tokenOfLink, withSession, type TestSession } from './support/team.ts';

const NEW_PASSWORD = 'another long passphrase, changed';

describe('team accounts', () => {
  let api: TestApi;
  let raw: pg.Client;
  let tenant: { id: string; slug: string; key: string };
  let owner: TestSession;
  const secrets: string[] = [];

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string> = {}, payload?: object) =>
    api.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  async function newTenant(label: string) {
    const slug = `${label}-${Math.random().toString(36).slice(2, 8)}`;
    const { tenant: t, apiKey } = await createTenant(api.db, { name: `${label} Ltd`, slug });
    secrets.push(apiKey.key);
    return { id: t.id, slug, key: apiKey.key };
  }

  /** An invitation link through the API: the operator's for an owner, else the given owner's or admin's. */
  async function invite(email: string, role: 'owner' | 'admin' | 'agent', by?: TestSession, tenantId = tenant.id): Promise<string> {
    const res = by
      ? await inject('POST', '/api/v1/team/invitations', withSession(by), { email, role })
      : await inject('POST', `/api/v1/tenants/${tenantId}/invitations`, bearer(api.adminKey), { email });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ delivery: 'link', invitation: { email: email.trim().toLowerCase(), role } });
    secrets.push(tokenOfLink(res.json().link));
    return res.json().link;
  }

  async function join(link: string, password = TEST_PASSWORD): Promise<TestSession> {
    const res = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(link), password });
    expect(res.statusCode, res.body).toBe(201);
    const token = sessionCookieOf(res.headers['set-cookie'])!;
    secrets.push(token);
    return { cookie: `${SESSION_COOKIE}=${token}`, csrfToken: res.json().csrfToken, sessionId: res.json().sessionId, token };
  }

  async function member(email: string, role: 'admin' | 'agent'): Promise<TestSession> {
    return join(await invite(email, role, owner));
  }

  beforeAll(async () => {
    api = await startTestApi('team_accounts', { APP_BASE_URL: 'https://chat.example.com' });
    raw = new pg.Client({ connectionString: api.config.DATABASE_URL });
    await raw.connect();
    tenant = await newTenant('acme');
  });
  afterAll(async () => {
    await raw?.end();
    await api?.close();
  });

  describe('a tenant\'s first owner', () => {
    it('is invited by the operator: a single-use link to the web app, its token stored only as a hash', async () => {
      const link = await invite('  Olivia@Example.COM ', 'owner');
      expect(link).toMatch(/^https:\/\/chat\.example\.com\/app\/accept-invitation#token=[A-Za-z0-9_-]{43}$/);
      const { rows } = await raw.query('SELECT * FROM user_invitations WHERE tenant_id = $1', [tenant.id]);
      expect(rows).toHaveLength(1);
      expect(Buffer.from(rows[0].token_hash).equals(Buffer.from(tokenHash(tokenOfLink(link))))).toBe(true);
      expect(JSON.stringify(rows)).not.toContain(tokenOfLink(link));

      const weak = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(link), password: 'password1234' });
      expect(weak.statusCode).toBe(400);
      expect(weak.json().error.code).toBe('weak_password');
      const short = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(link), password: 'short' });
      expect(short.statusCode).toBe(400);
      expect(short.json().error.code).toBe('validation_error');

      owner = await join(link);
      const me = await inject('GET', '/api/v1/me', withSession(owner));
      expect(me.statusCode, me.body).toBe(200);
      expect(me.json()).toMatchObject({ user: { email: 'olivia@example.com', role: 'owner' }, tenant: { id: tenant.id, slug: tenant.slug }, csrfToken: owner.csrfToken });

      const again = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(link), password: TEST_PASSWORD });
      expect(again.statusCode).toBe(400);
      expect(again.json().error).toMatchObject({ code: 'invalid_token', message: 'The link is invalid, already used or expired' });
    });

    it('answers 404 for an unknown tenant and 409 for an email already in the team', async () => {
      const unknown = await inject('POST', '/api/v1/tenants/00000000-0000-4000-8000-000000000000/invitations', bearer(api.adminKey), { email: 'x@example.com' });
      expect(unknown.statusCode).toBe(404);
      const taken = await inject('POST', `/api/v1/tenants/${tenant.id}/invitations`, bearer(api.adminKey), { email: 'OLIVIA@example.com' });
      expect(taken.statusCode).toBe(409);
      expect(taken.json().error.code).toBe('user_exists');
      const byTenantKey = await inject('POST', `/api/v1/tenants/${tenant.id}/invitations`, bearer(tenant.key), { email: 'x@example.com' });
      expect(byTenantKey.statusCode).toBe(401);
    });
  });

  describe('signing in', () => {
    it('sets an HttpOnly, Secure, SameSite=Lax __Host- cookie and answers who signed in', async () => {
      const res = await inject('POST', '/api/v1/auth/session', {}, { tenant: tenant.slug, email: ' OLIVIA@example.com', password: TEST_PASSWORD });
      expect(res.statusCode, res.body).toBe(200);
      const cookie = [res.headers['set-cookie']].flat().find((c) => c?.startsWith(`${SESSION_COOKIE}=`))!;
      secrets.push(sessionCookieOf(cookie)!);
      const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'secure', 'samesite=lax', `max-age=${12 * 3600}`]));
      expect(attributes.some((a) => a.startsWith('domain='))).toBe(false);
      expect(res.json()).toMatchObject({ user: { email: 'olivia@example.com', role: 'owner' }, tenant: { slug: tenant.slug } });
      expect(res.json().user.lastSignInAt).not.toBeNull();
      const { rows } = await raw.query('SELECT token_hash FROM user_sessions WHERE id = $1', [res.json().sessionId]);
      expect(Buffer.from(rows[0].token_hash).equals(Buffer.from(tokenHash(sessionCookieOf(cookie)!)))).toBe(true);
    });

    it('answers a wrong password, an unknown email and an unknown tenant alike, in about the same time', async () => {
      const attempts = {
        wrongPassword: { tenant: tenant.slug, email: 'olivia@example.com', password: 'not the password at all' },
        unknownEmail: { tenant: tenant.slug, email: 'nobody@example.com', password: 'not the password at all' },
        unknownTenant: { tenant: 'no-such-tenant', email: 'olivia@example.com', password: 'not the password at all' },
      };
      // The process's CPU time (all its threads, argon2's pool included), not the wall clock: the
      // work each answer costs is what tells them apart, and the other test files sharing the two
      // cores stretch the wall clock of one attempt and not another's.
      const times: Record<string, number[]> = {};
      const bodies = new Set<string>();
      for (let round = 0; round < 5; round++) {
        for (const [name, body] of Object.entries(attempts)) {
          const started = process.cpuUsage();
          const { res } = await signIn(api.app, body);
          const used = process.cpuUsage(started);
          (times[name] ??= []).push((used.user + used.system) / 1000);
          expect(res.statusCode).toBe(401);
          expect(res.headers['set-cookie']).toBeUndefined();
          const { requestId: _, ...error } = res.json().error;
          bodies.add(JSON.stringify(error));
        }
      }
      expect([...bodies]).toEqual([JSON.stringify({ code: 'invalid_credentials', message: 'The tenant, email or password is wrong' })]);
      // The cheapest of each: a garbage collection or a timer of the file only ever adds time.
      const fastest = (xs: number[]) => Math.min(...xs);
      const wrong = fastest(times.wrongPassword!);
      for (const name of ['unknownEmail', 'unknownTenant']) {
        const ratio = fastest(times[name]!) / wrong;
        expect(ratio, `${name}: ${fastest(times[name]!).toFixed(1)} ms against ${wrong.toFixed(1)} ms`).toBeGreaterThan(0.6);
        expect(ratio).toBeLessThan(1.7);
      }
    });

    it('rehashes a password stored with weaker parameters at its next sign-in', async () => {
      const weakHash = await argon2.hash(TEST_PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
      await createUser(api.db, tenant.id, { email: 'old@example.com', role: 'agent' });
      await raw.query("UPDATE users SET password_hash = $1 WHERE email = 'old@example.com'", [weakHash]);
      const { res, session } = await signIn(api.app, { tenant: tenant.slug, email: 'old@example.com', password: TEST_PASSWORD });
      expect(res.statusCode).toBe(200);
      secrets.push(session!.token);
      const { rows } = await raw.query("SELECT password_hash FROM users WHERE email = 'old@example.com'");
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,/);
    });

    it('refuses a body that is not JSON (no sign-in by a cross-site form)', async () => {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/auth/session', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `tenant=${tenant.slug}&email=olivia%40example.com&password=x` });
      expect(res.statusCode).toBe(415);
    });
  });

  describe('the session', () => {
    it('needs the CSRF token on a state-changing request, not on a read', async () => {
      const read = await inject('GET', '/api/v1/channels', withSession(owner, false));
      expect(read.statusCode).toBe(200);
      const payload = { type: 'webchat', name: 'Site chat', allowedOrigins: [] };
      const without = await inject('POST', '/api/v1/channels', withSession(owner, false), payload);
      expect(without.statusCode).toBe(403);
      expect(without.json().error.code).toBe('csrf_token_invalid');
      const wrong = await inject('POST', '/api/v1/channels', { cookie: owner.cookie, 'x-csrf-token': 'forged' }, payload);
      expect(wrong.statusCode).toBe(403);
      expect(await raw.query('SELECT 1 FROM channels WHERE tenant_id = $1', [tenant.id]).then((r) => r.rowCount)).toBe(0);
      const right = await inject('POST', '/api/v1/channels', withSession(owner), payload);
      expect(right.statusCode, right.body).toBe(201);
    });

    it('lets a Bearer key win over the cookie when both are sent', async () => {
      const agentKey = await inject('POST', '/api/v1/api-keys', withSession(owner), { name: 'agent Ann', scope: 'agent', agentId: 'ann' });
      expect(agentKey.statusCode, agentKey.body).toBe(201);
      secrets.push(agentKey.json().key);
      const both = await inject('GET', '/api/v1/channels', { ...withSession(owner), ...bearer(agentKey.json().key) });
      expect(both.statusCode).toBe(403);
      const badKey = await inject('GET', '/api/v1/channels', { ...withSession(owner), ...bearer('mcp_nonsense') });
      expect(badKey.statusCode).toBe(401);
      expect(badKey.json().error.message).toBe('Missing or invalid API key');
    });

    it('ends at its absolute expiry and after the idle time', async () => {
      const { session: a } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
      const { session: b } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
      secrets.push(a!.token, b!.token);
      expect((await inject('GET', '/api/v1/me', withSession(a!))).statusCode).toBe(200);
      await raw.query("UPDATE user_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [a!.sessionId]);
      const expired = await inject('GET', '/api/v1/me', withSession(a!));
      expect(expired.statusCode).toBe(401);
      expect(expired.json().error).toMatchObject({ code: 'unauthorized', message: 'The session has ended or is not valid: sign in again' });

      await raw.query("UPDATE user_sessions SET last_seen_at = now() - interval '59 minutes' WHERE id = $1", [b!.sessionId]);
      expect((await inject('GET', '/api/v1/me', withSession(b!))).statusCode).toBe(200);
      await raw.query("UPDATE user_sessions SET last_seen_at = now() - interval '61 minutes' WHERE id = $1", [b!.sessionId]);
      expect((await inject('GET', '/api/v1/me', withSession(b!))).statusCode).toBe(401);
    });

    it('moves the idle clock with use, at most once a minute', async () => {
      const { session } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
      secrets.push(session!.token);
      await raw.query("UPDATE user_sessions SET last_seen_at = now() - interval '30 minutes' WHERE id = $1", [session!.sessionId]);
      expect((await inject('GET', '/api/v1/me', withSession(session!))).statusCode).toBe(200);
      await expect.poll(async () => (await raw.query("SELECT last_seen_at > now() - interval '1 minute' AS fresh FROM user_sessions WHERE id = $1", [session!.sessionId])).rows[0].fresh).toBe(true);
    });

    it('ends on sign-out: the row is gone and the browser is told to drop the cookie', async () => {
      const { session } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
      secrets.push(session!.token);
      expect((await inject('DELETE', '/api/v1/me/session', withSession(session!, false))).statusCode).toBe(403);
      const out = await inject('DELETE', '/api/v1/me/session', withSession(session!));
      expect(out.statusCode).toBe(204);
      const cleared = [out.headers['set-cookie']].flat().find((c) => c?.startsWith(`${SESSION_COOKIE}=`))!;
      expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/);
      expect((await raw.query('SELECT 1 FROM user_sessions WHERE id = $1', [session!.sessionId])).rowCount).toBe(0);
      expect((await inject('GET', '/api/v1/me', withSession(session!))).statusCode).toBe(401);
    });

    it('lists my sessions and ends one of them', async () => {
      const { session } = await signIn(api.app, { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
      secrets.push(session!.token);
      const list = await inject('GET', '/api/v1/me/sessions', withSession(owner));
      expect(list.statusCode).toBe(200);
      const items = list.json().items as { id: string; current: boolean }[];
      expect(items.find((s) => s.id === owner.sessionId)?.current).toBe(true);
      expect(items.find((s) => s.id === session!.sessionId)?.current).toBe(false);
      expect(JSON.stringify(list.json())).not.toContain(session!.token);
      expect((await inject('DELETE', `/api/v1/me/sessions/${session!.sessionId}`, withSession(owner))).statusCode).toBe(204);
      expect((await inject('GET', '/api/v1/me', withSession(session!))).statusCode).toBe(401);
      expect((await inject('DELETE', `/api/v1/me/sessions/${session!.sessionId}`, withSession(owner))).statusCode).toBe(404);
    });

    it('a password change ends every other session of the user, keeps this one, and the old password stops working', async () => {
      const pat = await member('pat@example.com', 'admin');
      const { session: other } = await signIn(api.app, { tenant: tenant.slug, email: 'pat@example.com', password: TEST_PASSWORD });
      const wrong = await inject('PUT', '/api/v1/me/password', withSession(pat), { currentPassword: 'not my password', newPassword: NEW_PASSWORD });
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().error.code).toBe('wrong_password');
      const weak = await inject('PUT', '/api/v1/me/password', withSession(pat), { currentPassword: TEST_PASSWORD, newPassword: 'pat@example.com' });
      expect(weak.json().error.code).toBe('weak_password');
      const changed = await inject('PUT', '/api/v1/me/password', withSession(pat), { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
      expect(changed.statusCode, changed.body).toBe(204);
      expect((await inject('GET', '/api/v1/me', withSession(other!))).statusCode).toBe(401);
      expect((await inject('GET', '/api/v1/me', withSession(pat))).statusCode).toBe(200);
      expect((await signIn(api.app, { tenant: tenant.slug, email: 'pat@example.com', password: TEST_PASSWORD })).res.statusCode).toBe(401);
      const again = await signIn(api.app, { tenant: tenant.slug, email: 'pat@example.com', password: NEW_PASSWORD });
      expect(again.res.statusCode).toBe(200);
      secrets.push(other!.token, again.session!.token);
    });
  });

  describe('invitations', () => {
    it('are listed while pending, stop working when revoked, replaced or expired', async () => {
      const first = await invite('quinn@example.com', 'agent', owner);
      const second = await invite('quinn@example.com', 'agent', owner);
      const pending = (await inject('GET', '/api/v1/team/invitations', withSession(owner))).json().items as { id: string; email: string }[];
      expect(pending.filter((i) => i.email === 'quinn@example.com')).toHaveLength(1);
      const replaced = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(first), password: TEST_PASSWORD });
      expect(replaced.json().error.code).toBe('invalid_token');

      const id = pending.find((i) => i.email === 'quinn@example.com')!.id;
      expect((await inject('DELETE', `/api/v1/team/invitations/${id}`, withSession(owner))).statusCode).toBe(204);
      expect((await inject('DELETE', `/api/v1/team/invitations/${id}`, withSession(owner))).statusCode).toBe(404);
      const revoked = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(second), password: TEST_PASSWORD });
      expect(revoked.json().error.code).toBe('invalid_token');

      const third = await invite('quinn@example.com', 'agent', owner);
      await raw.query("UPDATE user_invitations SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [Buffer.from(tokenHash(tokenOfLink(third)))]);
      const expired = await inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(third), password: TEST_PASSWORD });
      expect(expired.statusCode).toBe(400);
      expect(expired.json().error.code).toBe('invalid_token');
      expect((await raw.query("SELECT 1 FROM users WHERE email = 'quinn@example.com'")).rowCount).toBe(0);
    });
  });

  describe('password resets', () => {
    it('always accept a request (202), whether or not the account exists', async () => {
      for (const email of ['olivia@example.com', 'nobody@example.com']) {
        const res = await inject('POST', '/api/v1/auth/password-reset', {}, { tenant: tenant.slug, email });
        expect(res.statusCode).toBe(202);
        expect(res.json()).toEqual({ accepted: true });
      }
    });

    it('set the password once with an admin-made link, end every session, and expire', async () => {
      const rita = await member('rita@example.com', 'agent');
      const made = await inject('POST', `/api/v1/team/users/${(await inject('GET', '/api/v1/me', withSession(rita))).json().user.id}/password-reset`, withSession(owner));
      expect(made.statusCode, made.body).toBe(201);
      expect(made.json()).toMatchObject({ delivery: 'link' });
      const link = made.json().link as string;
      expect(link).toMatch(/^https:\/\/chat\.example\.com\/app\/reset-password#token=/);
      secrets.push(tokenOfLink(link));
      const confirm = (token: string) => inject('POST', '/api/v1/auth/password-reset/confirm', {}, { token, password: NEW_PASSWORD });

      const done = await confirm(tokenOfLink(link));
      expect(done.statusCode, done.body).toBe(204);
      expect((await inject('GET', '/api/v1/me', withSession(rita))).statusCode).toBe(401);
      expect((await signIn(api.app, { tenant: tenant.slug, email: 'rita@example.com', password: NEW_PASSWORD })).res.statusCode).toBe(200);
      expect((await confirm(tokenOfLink(link))).json().error.code).toBe('invalid_token');

      const ritaId = (await raw.query("SELECT id FROM users WHERE email = 'rita@example.com'")).rows[0].id;
      const late = (await inject('POST', `/api/v1/team/users/${ritaId}/password-reset`, withSession(owner))).json().link as string;
      await raw.query("UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [Buffer.from(tokenHash(tokenOfLink(late)))]);
      expect((await confirm(tokenOfLink(late))).json().error.code).toBe('invalid_token');
      expect((await confirm('not-a-token')).statusCode).toBe(400);
    });
  });

  describe('roles', () => {
    it('gives an agent the conversations and their own account, and nothing else', async () => {
      const sam = await member('sam@example.com', 'agent');
      expect((await inject('GET', '/api/v1/conversations', withSession(sam))).statusCode).toBe(200);
      expect((await inject('GET', '/api/v1/me', withSession(sam))).statusCode).toBe(200);
      for (const url of ['/api/v1/channels', '/api/v1/api-keys', '/api/v1/settings', '/api/v1/team/users', '/api/v1/team/invitations']) {
        const res = await inject('GET', url, withSession(sam));
        expect(res.statusCode, url).toBe(403);
      }
      expect((await inject('POST', '/api/v1/team/invitations', withSession(sam), { email: 'x@example.com', role: 'agent' })).statusCode).toBe(403);
    });

    it('lets only an owner manage owners, and keeps the last owner', async () => {
      const ada = await member('ada@example.com', 'admin');
      const users = (await inject('GET', '/api/v1/team/users', withSession(ada))).json().items as { id: string; email: string; role: string }[];
      const olivia = users.find((u) => u.email === 'olivia@example.com')!;
      const sam = users.find((u) => u.email === 'sam@example.com')!;

      const promote = await inject('PATCH', `/api/v1/team/users/${sam.id}`, withSession(ada), { role: 'owner' });
      expect(promote.statusCode).toBe(403);
      expect(promote.json().error.code).toBe('owner_required');
      expect((await inject('PATCH', `/api/v1/team/users/${olivia.id}`, withSession(ada), { role: 'agent' })).statusCode).toBe(403);
      expect((await inject('DELETE', `/api/v1/team/users/${olivia.id}`, withSession(ada))).statusCode).toBe(403);
      expect((await inject('POST', '/api/v1/team/invitations', withSession(ada), { email: 'boss@example.com', role: 'owner' })).statusCode).toBe(403);
      expect((await inject('PATCH', `/api/v1/team/users/${sam.id}`, withSession(ada), { role: 'admin' })).json().role).toBe('admin');

      const last = await inject('PATCH', `/api/v1/team/users/${olivia.id}`, withSession(owner), { role: 'admin' });
      expect(last.statusCode).toBe(409);
      expect(last.json().error.code).toBe('last_owner');
      expect((await inject('DELETE', `/api/v1/team/users/${olivia.id}`, withSession(owner))).json().error.code).toBe('last_owner');

      expect((await inject('PATCH', `/api/v1/team/users/${sam.id}`, withSession(owner), { role: 'owner' })).json().role).toBe('owner');
      expect((await inject('PATCH', `/api/v1/team/users/${olivia.id}`, withSession(owner), { role: 'admin' })).statusCode).toBe(200);
      // The demoted owner's session carries the new role at once.
      expect((await inject('POST', '/api/v1/team/invitations', withSession(owner), { email: 'boss@example.com', role: 'owner' })).statusCode).toBe(403);
    });

    it('lets one of two owners demoting each other at once through, never both', async () => {
      const race = await newTenant('race');
      const [a, b] = await Promise.all(['a@race.example.com', 'b@race.example.com'].map((email) => createUser(api.db, race.id, { email, role: 'owner' })));
      const [sa, sb] = await Promise.all([sessionFor(api.db, api.config, a!), sessionFor(api.db, api.config, b!)]);
      secrets.push(sa.token, sb.token);
      const answers = await Promise.all([
        inject('PATCH', `/api/v1/team/users/${b!.id}`, withSession(sa), { role: 'admin' }),
        inject('PATCH', `/api/v1/team/users/${a!.id}`, withSession(sb), { role: 'admin' }),
      ]);
      expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 409]);
      expect((await raw.query("SELECT 1 FROM users WHERE tenant_id = $1 AND role = 'owner'", [race.id])).rowCount).toBe(1);
    });

    it('accepts an invitation used twice at once only once', async () => {
      const link = await invite('twice@example.com', 'agent', owner);
      const answers = await Promise.all([0, 1].map(() => inject('POST', '/api/v1/auth/invitation/accept', {}, { token: tokenOfLink(link), password: TEST_PASSWORD })));
      expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 400]);
      expect((await raw.query("SELECT 1 FROM users WHERE email = 'twice@example.com'")).rowCount).toBe(1);
      secrets.push(...answers.map((r) => sessionCookieOf(r.headers['set-cookie'])).filter((t): t is string => !!t));
    });

    it('ends a removed user\'s sessions at once', async () => {
      const gone = await member('gone@example.com', 'agent');
      const id = (await inject('GET', '/api/v1/me', withSession(gone))).json().user.id;
      const ada = await signIn(api.app, { tenant: tenant.slug, email: 'ada@example.com', password: TEST_PASSWORD });
      secrets.push(ada.session!.token);
      expect((await inject('DELETE', `/api/v1/team/users/${id}`, withSession(ada.session!))).statusCode).toBe(204);
      expect((await inject('GET', '/api/v1/conversations', withSession(gone))).statusCode).toBe(401);
      expect((await raw.query('SELECT 1 FROM user_sessions WHERE user_id = $1', [id])).rowCount).toBe(0);
      expect((await inject('DELETE', `/api/v1/team/users/${id}`, withSession(ada.session!))).statusCode).toBe(404);
    });

    it('keeps API keys out of the account and team routes', async () => {
      for (const url of ['/api/v1/me', '/api/v1/me/sessions', '/api/v1/team/users', '/api/v1/team/invitations']) {
        const res = await inject('GET', url, bearer(tenant.key));
        expect(res.statusCode, url).toBe(403);
        expect(res.json().error.code).toBe('session_required');
      }
    });
  });

  it('deletes a tenant\'s users, sessions, invitations and reset links with the tenant', async () => {
    const doomed = await newTenant('doomed');
    const founder = await join(await invite('founder@example.com', 'owner', undefined, doomed.id));
    await invite('later@example.com', 'agent', founder, doomed.id);
    const founderId = (await inject('GET', '/api/v1/me', withSession(founder))).json().user.id;
    expect((await inject('POST', `/api/v1/team/users/${founderId}/password-reset`, withSession(founder))).statusCode).toBe(201);
    expect((await inject('DELETE', `/api/v1/tenants/${doomed.id}`, bearer(api.adminKey))).statusCode).toBe(204);
    for (const table of ['users', 'user_sessions', 'user_invitations', 'password_resets']) {
      expect((await raw.query(`SELECT 1 FROM ${table} WHERE tenant_id = $1`, [doomed.id])).rowCount, table).toBe(0);
    }
    expect((await inject('GET', '/api/v1/me', withSession(founder))).statusCode).toBe(401);
  });

  it('logged no password, session token, CSRF token or link token', () => {
    const text = api.logs.join('');
    for (const s of [...secrets, owner.csrfToken, TEST_PASSWORD, NEW_PASSWORD]) expect(text).not.toContain(s);
  });
});

describe('sign-in limits', () => {
  let api: TestApi;
  let slug: string;

  beforeAll(async () => {
    api = await startTestApi('team_limits', { LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: '6', LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: '4', LOGIN_LOCKOUT_FAILURES: '3', LOGIN_LOCKOUT_MINUTES: '15' });
    slug = `limits-${Math.random().toString(36).slice(2, 8)}`;
    const { tenant } = await createTenant(api.db, { name: 'Limits', slug });
    for (const email of ['locked@example.com', 'busy@example.com']) await createUser(api.db, tenant.id, { email, role: 'agent' });
  });
  afterAll(async () => {
    await api?.close();
  });

  const attempt = (email: string, password: string, ip: string) => signIn(api.app, { tenant: slug, email, password }, ip);

  it('locks an account after repeated failures, for its correct password too, and an unknown email exactly alike', async () => {
    const answers: string[] = [];
    for (const [email, ip] of [['locked@example.com', '192.0.2.1'], ['ghost@example.com', '192.0.2.2']] as const) {
      for (let i = 0; i < 3; i++) expect((await attempt(email, 'a wrong password!', ip)).res.statusCode).toBe(401);
      const { res } = await attempt(email, TEST_PASSWORD, ip);
      expect(res.statusCode).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(800);
      const { requestId: _, ...error } = res.json().error;
      answers.push(JSON.stringify(error).replace(/\d+ s/, 'N s'));
    }
    expect(answers[0]).toContain('locked');
    expect(answers[1]).toBe(answers[0]);
  });

  it('limits attempts per account per minute, successful ones included', async () => {
    for (let i = 0; i < 4; i++) expect((await attempt('busy@example.com', TEST_PASSWORD, `198.51.100.${i}`)).res.statusCode).toBe(200);
    const { res } = await attempt('busy@example.com', TEST_PASSWORD, '198.51.100.9');
    expect(res.statusCode).toBe(429);
    expect(res.json().error.message).toMatch(/Too many sign-in attempts for this account/);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('limits attempts per client IP, on every account and on the reset and invitation routes', async () => {
    const ip = '203.0.113.7';
    for (let i = 0; i < 6; i++) expect((await attempt(`someone${i}@example.com`, 'a wrong password!', ip)).res.statusCode).toBe(401);
    expect((await attempt('someone-else@example.com', 'a wrong password!', ip)).res.statusCode).toBe(429);
    const reset = await api.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { tenant: slug, email: 'x@example.com' }, remoteAddress: ip });
    expect(reset.statusCode).toBe(429);
    const accept = await api.app.inject({ method: 'POST', url: '/api/v1/auth/invitation/accept', payload: { token: 'x'.repeat(43), password: TEST_PASSWORD }, remoteAddress: ip });
    expect(accept.statusCode).toBe(429);
    expect((await attempt('someone-else@example.com', 'a wrong password!', '203.0.113.8')).res.statusCode).toBe(401);
  });
});
