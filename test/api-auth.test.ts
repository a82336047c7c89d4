// Every /api/v1 route × every kind of credential: none, malformed, unknown, wrong secret, the
// wrong kind of key, another tenant's key, revoked, rotated (inside and after its grace period),
// agent scope, and the session of a signed-in owner, admin and agent, one sent without its CSRF
// token, and an ended one. Failures are the same 401 envelope whatever the reason; nothing
// answers 5xx. Sign-in and the password links take no credentials and answer alike for all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../lib/crypto.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey, revokeApiKey, rotateApiKey } from '../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { injectRoute, ROUTES, seedTenant, type Ids, type RouteCase, type SeededTenant } from './support/api-routes.ts';
import { withSession, type TestSession } from './support/team.ts';

type Expect = 'ok' | 401 | 403 | 404;

describe('authentication on every route', () => {
  let api: TestApi;
  let tenant: SeededTenant;
  let other: SeededTenant;
  let throwaway: SeededTenant;
  const keys: Record<string, string | undefined> = {};
  const sessions: Record<string, { session: TestSession; csrf: boolean }> = {};
  const registered: string[] = [];
  /** Operations the document says take no credentials. */
  const open = new Set<string>();

  beforeAll(async () => {
    api = await startTestApi('api_auth');
    // Every route has a schema, so the OpenAPI document lists them all.
    const spec = (await api.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (!path.startsWith('/api/v1')) continue;
      for (const [m, op] of Object.entries(methods)) {
        const entry = `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
        registered.push(entry);
        if (op.security?.length === 0) open.add(entry);
      }
    }
    const keyring = api.config.SECRETS_KEYS;
    tenant = await seedTenant(api.db, keyring, 'Main');
    other = await seedTenant(api.db, keyring, 'Other');
    throwaway = await seedTenant(api.db, keyring, 'Gone');
    const tdb = forTenant(api.db, tenant.ids.tenantId);

    const revoked = await createApiKey(tdb, { name: 'revoked', scope: 'tenant' });
    await revokeApiKey(tdb, revoked.id);
    const inGrace = await createApiKey(tdb, { name: 'rotating', scope: 'tenant' });
    await rotateApiKey(tdb, inGrace.id, 3600);
    const pastGrace = await createApiKey(tdb, { name: 'rotated long ago', scope: 'tenant' });
    await rotateApiKey(tdb, pastGrace.id, 3600);
    await api.db.apiKey.update({ where: { id: pastGrace.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await createApiKey(tdb, { name: 'expired', scope: 'tenant', expiresAt: new Date(Date.now() - 1) });

    const [, prefix] = tenant.key.split('_');
    Object.assign(keys, {
      none: undefined,
      malformed: 'not-a-key',
      unknown: generateApiKey().key,
      wrongSecret: `mcp_${prefix}_${generateApiKey().key.slice('mcp_'.length + 13)}`,
      revoked: revoked.key,
      expired: expired.key,
      rotatedAfterGrace: pastGrace.key,
      rotatedInGrace: inGrace.key,
      agent: tenant.agentKey,
      otherTenant: other.key,
      tenant: tenant.key,
      admin: api.adminKey,
    });
    const s = tenant.sessions;
    Object.assign(sessions, {
      ownerSession: { session: s.owner, csrf: true },
      adminSession: { session: s.admin, csrf: true },
      agentSession: { session: s.agent, csrf: true },
      sessionWithoutCsrf: { session: s.secondOwner, csrf: false },
      endedSession: { session: s.ended, csrf: true },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('knows every route of its table among the registered ones', () => {
    const table = ROUTES.map((r) => `${r.method} ${r.pattern}`);
    expect(registered).toEqual(expect.arrayContaining(table));
  });

  it('documents exactly the sign-in and password link routes as taking no credentials', () => {
    expect([...open].sort()).toEqual(ROUTES.filter((r) => r.who === 'public').map((r) => `${r.method} ${r.pattern}`).sort());
  });

  // Routes added later without a row in the table still get every credential that must fail:
  // the scope's hook refuses them before any route-specific code runs.
  it('refuses bad credentials on every registered route, including routes not in the table', async () => {
    const failing = ['none', 'malformed', 'unknown', 'wrongSecret', 'revoked', 'expired', 'rotatedAfterGrace'];
    for (const entry of new Set(registered)) {
      if (open.has(entry)) continue;
      const [method, pattern] = entry.split(' ') as [RouteCase['method'], string];
      const url = pattern.replace(/:channel\b/, 'whatsapp').replace(/:\w+/g, '00000000-0000-4000-8000-000000000001');
      for (const credential of failing) {
        const key = keys[credential];
        const res = await api.app.inject({ method, url, headers: key ? bearer(key) : {}, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) });
        expect(res.statusCode, `${entry} with ${credential}: ${res.body}`).toBe(401);
      }
      const wrongKind = /^\/api\/v1\/(tenants|admin)\b/.test(pattern) ? tenant.key : api.adminKey;
      expect((await api.app.inject({ method, url, headers: bearer(wrongKind), ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) })).statusCode, entry).toBe(401);
    }
  });

  function expected(route: RouteCase, credential: string): Expect {
    if (route.who === 'public') return 'ok';
    const admin = route.who === 'admin';
    const sessionOnly = route.who === 'self' || route.who === 'team';
    switch (credential) {
      case 'admin':
        return admin ? 'ok' : 401;
      case 'tenant':
      case 'rotatedInGrace':
        return admin ? 401 : sessionOnly ? 403 : 'ok';
      case 'agent':
        return admin ? 401 : route.who === 'agent' ? 'ok' : 403;
      case 'otherTenant':
        // Lists answer with the other tenant's own (empty of ours) data; ids of ours are not found.
        return admin ? 401 : sessionOnly ? 403 : /:id|:externalUserId/.test(route.pattern) ? 404 : 'ok';
      case 'ownerSession':
      case 'adminSession':
        return admin ? 401 : 'ok';
      case 'agentSession':
        return admin ? 401 : route.who === 'agent' || route.who === 'self' ? 'ok' : 403;
      case 'sessionWithoutCsrf':
        return admin ? 401 : route.method === 'GET' ? 'ok' : 403;
      default:
        return 401;
    }
  }

  const credentials = [
    'none', 'malformed', 'unknown', 'wrongSecret', 'revoked', 'expired', 'rotatedAfterGrace', 'otherTenant', 'agent', 'rotatedInGrace', 'tenant', 'admin',
    'endedSession', 'sessionWithoutCsrf', 'agentSession', 'adminSession', 'ownerSession',
  ];
  const cases = credentials.flatMap((credential) => ROUTES.map((route) => ({ credential, route, name: `${route.method} ${route.pattern} with ${credential}` })));

  const admin = (route: RouteCase) => route.who === 'admin';
  /** A signed-in user acts as themselves on the handoff routes: their requests name no agentId. */
  const bodyFor = (route: RouteCase, ids: Ids, signedIn: boolean): object => {
    const { agentId: _, ...rest } = route.body!(ids) as { agentId?: string };
    return signedIn ? rest : (route.body!(ids) as object);
  };

  it.each(cases)('$name', async ({ credential, route }) => {
    // Admin routes act on a throwaway tenant: the valid DELETE removes it.
    const ids: Ids = route.who === 'admin' ? throwaway.ids : tenant.ids;
    const key = keys[credential];
    const session = sessions[credential];
    const res = await injectRoute(api.app, route, {
      method: route.method,
      url: route.url(ids),
      headers: { ...(key ? bearer(key) : {}), ...(session ? withSession(session.session, session.csrf) : {}), ...(route.headers ?? {}) },
      ...(route.body ? { payload: bodyFor(route, ids, !!session) } : {}),
    });
    expect(res.statusCode).toBeLessThan(500);
    const want = expected(route, credential);
    if (want === 'ok') {
      expect([401, 403], `${res.statusCode} ${res.body}`).not.toContain(res.statusCode);
      return;
    }
    expect(res.statusCode, res.body).toBe(want);
    const body = res.json();
    expect(body.error.requestId).toBe(res.headers['x-request-id']);
    const sessionRefused = session && !admin(route);
    if (want === 401) expect(body.error).toMatchObject({ code: 'unauthorized', message: sessionRefused ? 'The session has ended or is not valid: sign in again' : 'Missing or invalid API key' });
    if (want === 403 && credential === 'sessionWithoutCsrf') expect(body.error.code).toBe('csrf_token_invalid');
  });

  it('records when a key was last used, without a write per request', async () => {
    const row = await api.db.apiKey.findFirstOrThrow({ where: { prefix: tenant.key.split('_')[1] } });
    expect(row.lastUsedAt).not.toBeNull();
    const before = row.lastUsedAt!.getTime();
    await api.app.inject({ url: '/api/v1/settings', headers: bearer(tenant.key) });
    await new Promise((r) => setTimeout(r, 50));
    const after = await api.db.apiKey.findFirstOrThrow({ where: { id: row.id } });
    expect(after.lastUsedAt!.getTime()).toBe(before);
  });

  it('logged no key, secret or token', () => {
    const text = api.logs.join('');
    const csrfTokens = Object.values(sessions).map((s) => s.session.csrfToken);
    for (const s of [...tenant.secrets, ...other.secrets, ...throwaway.secrets, ...csrfTokens, ...Object.values(keys).filter((k): k is string => !!k)]) {
      expect(text).not.toContain(s);
    }
  });
});
