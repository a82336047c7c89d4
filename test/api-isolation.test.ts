// Two tenants with data; every id of one is tried on every route with the other's keys and the
// sessions of its signed-in owner and agent. Each answers 404 (or, for lists and aggregates, only
// the caller's own data), and afterwards the victim's rows are byte-for-byte what they were.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { injectRoute, ROUTES, seedTenant, type RouteCase, type SeededTenant } from './support/api-routes.ts';
import { withSession } from './support/team.ts';

const TABLES = [
  'tenants', 'api_keys', 'channels', 'channel_secrets', 'conversations', 'messages', 'documents', 'chunks', 'events', 'usage',
  'tenant_functions', 'tenant_llm_credentials', 'webhook_endpoints', 'webhook_deliveries',
  'users', 'user_sessions', 'user_invitations', 'password_resets', 'settings_versions',
];

describe('tenant isolation', () => {
  let api: TestApi;
  let attacker: SeededTenant;
  let victim: SeededTenant;
  let raw: pg.Client;

  async function snapshot(tenantId: string): Promise<string> {
    const parts: string[] = [];
    for (const table of TABLES) {
      const column = table === 'tenants' ? 'id' : 'tenant_id';
      const { rows } = await raw.query(`SELECT * FROM ${table} WHERE ${column} = $1 ORDER BY 1`, [tenantId]);
      parts.push(`${table}:${JSON.stringify(rows)}`);
    }
    return parts.join('\n');
  }

  beforeAll(async () => {
    api = await startTestApi('api_isolation');
    raw = new pg.Client({ connectionString: api.config.DATABASE_URL });
    await raw.connect();
    attacker = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Attacker');
    victim = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Victim');
  });

  afterAll(async () => {
    await raw?.end();
    await api?.close();
  });

  const tenantRoutes = ROUTES.filter((r) => r.who !== 'admin' && r.who !== 'public');

  /** What a caller may reach at all (403 before any lookup otherwise). */
  const reaches = (caller: string, route: RouteCase) =>
    caller === 'ownerSession' || (caller === 'agentSession' && (route.who === 'agent' || route.who === 'self')) || (caller === 'key' && (route.who === 'tenant' || route.who === 'agent')) || (caller === 'agentKey' && route.who === 'agent');

  it("answers 404 for every id of another tenant, on every route, with either of the caller's keys and sessions, and changes nothing", async () => {
    const before = await snapshot(victim.ids.tenantId);
    const victimIds = Object.values(victim.ids);
    const callers = [
      { name: 'key', headers: bearer(attacker.key) },
      { name: 'agentKey', headers: bearer(attacker.agentKey) },
      { name: 'agentSession', headers: withSession(attacker.sessions.agent) },
      { name: 'ownerSession', headers: withSession(attacker.sessions.owner) },
    ];
    for (const caller of callers) {
      for (const route of tenantRoutes) {
        const body = route.body?.(victim.ids) as Record<string, unknown> | undefined;
        if (body && caller.name.endsWith('Session')) delete body.agentId;
        const res = await injectRoute(api.app, route, {
          method: route.method,
          url: route.url(victim.ids),
          headers: { ...caller.headers, ...(route.headers ?? {}) },
          ...(body ? { payload: body } : {}),
        });
        const label = `${caller.name}: ${route.method} ${route.url(victim.ids)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, label).toBeLessThan(500);
        if (!reaches(caller.name, route)) expect(res.statusCode, label).toBe(403);
        else if (/:id|:externalUserId/.test(route.pattern)) expect(res.statusCode, label).toBe(404);
        // A phone number is the customer's, not the victim tenant's: an opt-out route answers the caller's own
        // state for the number it was asked about, so only that echo of the request's own path is allowed.
        const echoed = route.pattern.includes(':phone') ? victim.ids.externalUserId : null;
        for (const id of victimIds) if (id !== echoed) expect(res.body, label).not.toContain(id);
        expect(res.body, label).not.toContain('Victim');
        expect(res.body, label).not.toContain('victim.example.com');
      }
    }
    expect(await snapshot(victim.ids.tenantId)).toBe(before);
  });

  it("a session of one tenant reads only its own team and account", async () => {
    const users = await api.app.inject({ url: '/api/v1/team/users', headers: withSession(attacker.sessions.admin) });
    expect(users.statusCode).toBe(200);
    expect(users.json().items.map((u: { email: string }) => u.email.split('@')[1])).toEqual(Array(5).fill('attacker.example.com'));
    const me = await api.app.inject({ url: '/api/v1/me', headers: withSession(attacker.sessions.admin) });
    expect(me.json().tenant.id).toBe(attacker.ids.tenantId);
  });

  it('filters naming the other tenant\'s ids find nothing', async () => {
    const urls = [
      `/api/v1/conversations?channelId=${victim.ids.channelId}`,
      `/api/v1/conversations?externalUserId=${victim.ids.externalUserId}`,
      `/api/v1/conversations/${victim.ids.conversationId}/messages?order=asc`,
    ];
    for (const url of urls) {
      const res = await api.app.inject({ url, headers: bearer(attacker.key) });
      expect(res.statusCode).toBeLessThan(500);
      if (res.statusCode === 200) expect(res.json().items).toEqual([]);
    }
  });

  it("aggregates only the caller's own data", async () => {
    const usage = (await api.app.inject({ url: '/api/v1/usage?from=2025-01-01&to=2025-02-01', headers: bearer(attacker.key) })).json();
    expect(usage.days.map((d: { model: string }) => d.model)).toEqual(['Attacker']);
    const analytics = (await api.app.inject({ url: '/api/v1/analytics?from=2025-01-01&to=2025-02-01', headers: bearer(attacker.key) })).json();
    expect(analytics.totals).toEqual({ inbound: 2, outbound: 1, conversations: 1 });
    expect(analytics.handoff).toEqual({ conversations: 1, rate: 1 });
  });

  it('a cursor forged from the other tenant\'s rows reveals nothing', async () => {
    const forged = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', victim.ids.conversationId])).toString('base64url');
    const res = await api.app.inject({ url: `/api/v1/conversations?cursor=${forged}`, headers: bearer(attacker.key) });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(victim.ids.conversationId);
  });

  it("the victim's own key still sees all of its data", async () => {
    const res = await api.app.inject({ url: `/api/v1/conversations/${victim.ids.conversationId}/messages`, headers: bearer(victim.key) });
    expect(res.json().items).toHaveLength(3);
  });

  it('logged no key, secret or token of either tenant', () => {
    const text = api.logs.join('');
    for (const s of [...attacker.secrets, ...victim.secrets, api.adminKey, attacker.sessions.owner.csrfToken]) expect(text).not.toContain(s);
  });
});
