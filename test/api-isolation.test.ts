// Two tenants with data; every id of one is tried on every route with the other's key. Each
// answers 404 (or, for lists and aggregates, only the caller's own data), and afterwards the
// victim's rows are byte-for-byte what they were.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { ROUTES, seedTenant, type SeededTenant } from './support/api-routes.ts';

const TABLES = [
  'tenants', 'api_keys', 'channels', 'channel_secrets', 'conversations', 'messages', 'documents', 'chunks', 'events', 'usage',
  'tenant_functions', 'tenant_llm_credentials', 'webhook_endpoints', 'webhook_deliveries',
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

  const tenantRoutes = ROUTES.filter((r) => r.who !== 'admin');

  it("answers 404 for every id of another tenant, on every route, with either of the caller's keys, and changes nothing", async () => {
    const before = await snapshot(victim.ids.tenantId);
    const victimIds = Object.values(victim.ids);
    for (const key of [attacker.key, attacker.agentKey]) {
      for (const route of tenantRoutes) {
        const res = await api.app.inject({
          method: route.method,
          url: route.url(victim.ids),
          headers: { ...bearer(key), ...(route.headers ?? {}) },
          ...(route.body ? { payload: route.body(victim.ids) as object } : {}),
        });
        const label = `${route.method} ${route.url(victim.ids)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, label).toBeLessThan(500);
        if (/:id|:externalUserId/.test(route.pattern)) {
          if (key === attacker.agentKey && route.who !== 'agent') expect(res.statusCode, label).toBe(403);
          else expect(res.statusCode, label).toBe(404);
        }
        for (const id of victimIds) expect(res.body, label).not.toContain(id);
        expect(res.body, label).not.toContain('Victim');
      }
    }
    expect(await snapshot(victim.ids.tenantId)).toBe(before);
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
    for (const s of [...attacker.secrets, ...victim.secrets, api.adminKey]) expect(text).not.toContain(s);
  });
});
