// The API's edge against abuse (issue 13): what request logs say, bounded webhook lookups, failed
// authentication limited per IP (also across two API processes sharing the Postgres store), the
// client IP behind a trusted proxy, the cap on API keys, agent keys bound to their agent, neutral
// handoff conflicts, rotation keeping the expiry, /metrics and /docs switches, and CORS per route.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { handoffError } from '../api/routes/v1/handoff/index.ts';
import { MAX_CHANNELS_PER_DELIVERY } from '../api/webhooks/meta-webhook.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createChannel } from '../lib/channels.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { seedTenant, type SeededTenant } from './support/api-routes.ts';

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
type Line = { level: number; msg?: string; req?: { url?: string } };
const lines = (api: TestApi) => api.logs.map((l) => JSON.parse(l) as Line);

/** A second API process on the same database and configuration (another replica). */
async function secondInstance(api: TestApi): Promise<{ app: App; close(): Promise<void> }> {
  const db: Db = createDb(api.config, 'api-edge-second');
  const temporal = createTemporalClient(api.config);
  const app = await buildApp({ config: api.config, db, temporal, logger: pino({ level: 'silent' }) });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      await db.$disconnect();
      await temporal.connection.close();
    },
  };
}

describe('the API edge', () => {
  let api: TestApi;
  let tenant: SeededTenant;

  beforeAll(async () => {
    api = await startTestApi('api_edge', { CORS_ORIGINS: 'https://app.example' });
    tenant = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Edge');
  });
  afterAll(async () => {
    await api?.close();
  });

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', url: string, key: string, payload?: object) =>
    api.app.inject({ method, url, headers: bearer(key), ...(payload && { payload }) });

  describe('request logs', () => {
    it('record the path at info, never a verify token, visitor id or phone number', async () => {
      const token = `verify-${randomBytes(8).toString('hex')}`;
      const visitor = `visitor-${randomBytes(8).toString('hex')}`;
      const phone = tenant.ids.externalUserId; // the seeded end user's phone number
      await api.app.inject({ url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=42` });
      await api.app.inject({ url: `/webchat?widgetId=${randomBytes(8).toString('hex')}&visitorId=${visitor}` });
      expect((await call('GET', `/api/v1/end-users/whatsapp/${phone}/export`, tenant.key)).statusCode).toBe(200);
      await call('GET', `/api/v1/conversations/${tenant.ids.conversationId}`, tenant.key);
      await api.app.inject({ url: '/app/favicon.ico' });

      const info = lines(api).filter((l) => l.level >= 30);
      for (const line of info) {
        const text = JSON.stringify(line);
        expect(text).not.toContain(token);
        expect(text).not.toContain(visitor);
        expect(text).not.toContain(phone);
      }
      const urls = info.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url);
      expect(urls).toEqual(
        expect.arrayContaining([
          '/webhooks/whatsapp',
          '/webchat',
          '/api/v1/end-users/whatsapp/:externalUserId/export',
          `/api/v1/conversations/${tenant.ids.conversationId}`,
          '/app/favicon.ico',
        ]),
      );
    });
  });

  describe('webhook deliveries', () => {
    it(`refuse a body naming more than ${MAX_CHANNELS_PER_DELIVERY} channels before looking any up`, async () => {
      const entry = (ids: string[]) => ({
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: ids.map((id) => ({ field: 'messages', value: { metadata: { phone_number_id: id }, messages: [{ from: digits(11), id: `wamid.${digits(10)}`, timestamp: '1749416383', type: 'text', text: { body: 'hi' } }] } })) }],
      });
      const post = (body: unknown) => {
        const payload = JSON.stringify(body);
        return api.app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, 'forged') } });
      };
      const tooMany = await post(entry(Array.from({ length: MAX_CHANNELS_PER_DELIVERY + 1 }, () => digits(15))));
      expect(tooMany.statusCode).toBe(400);
      expect(tooMany.json().error.code).toBe('too_many_channels');
      // As many unknown ids as allowed: acknowledged (Meta would retry a 4xx for ever), nothing done.
      expect((await post(entry(Array.from({ length: MAX_CHANNELS_PER_DELIVERY }, () => digits(15))))).statusCode).toBe(200);
    });
  });

  describe('agent keys', () => {
    it('are bound to the agent named at creation; the handoff routes refuse another agentId', async () => {
      expect((await call('POST', '/api/v1/api-keys', tenant.key, { name: 'desk', scope: 'agent' })).statusCode).toBe(400);
      expect((await call('POST', '/api/v1/api-keys', tenant.key, { name: 'svc', agentId: 'ann' })).statusCode).toBe(400);
      const created = await call('POST', '/api/v1/api-keys', tenant.key, { name: 'desk', scope: 'agent', agentId: 'ann' });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ scope: 'agent', agentId: 'ann' });
      const annKey = created.json().key as string;

      const conv = tenant.ids.conversationId; // its row names no workflow: allowed actions answer 409 conversation_closed
      for (const path of ['take', 'release', 'messages']) {
        const body = path === 'messages' ? { text: 'hi' } : {};
        const as = (agentId?: string) => call('POST', `/api/v1/conversations/${conv}/${path}`, annKey, { ...body, ...(agentId && { agentId }) });
        const other = await as('bob');
        expect(other.statusCode, path).toBe(403);
        expect(other.json().error.code).toBe('agent_mismatch');
        expect((await as('ann')).json().error.code, path).toBe('conversation_closed');
        expect((await as()).json().error.code, path).toBe('conversation_closed');
        // A tenant key acts for any agent it names, and must name one.
        expect((await call('POST', `/api/v1/conversations/${conv}/${path}`, tenant.key, { ...body, agentId: 'bob' })).json().error.code).toBe('conversation_closed');
        expect((await call('POST', `/api/v1/conversations/${conv}/${path}`, tenant.key, body)).statusCode).toBe(400);
      }
    });

    it('answer a conflict without naming who holds the conversation', () => {
      const refused = new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ message: 'the conversation is held by another agent (ann@example.com)' }));
      const mapped = handoffError(refused) as { statusCode: number; code: string; message: string };
      expect(mapped).toMatchObject({ statusCode: 409, code: 'handoff_conflict', message: 'The conversation is held by another agent' });
      expect(mapped.message).not.toContain('ann');
    });
  });

  describe('api key rotation', () => {
    it('keeps the old key\'s expiry and agent on the new key', async () => {
      const created = await call('POST', '/api/v1/api-keys', tenant.key, { name: 'expiring', scope: 'agent', agentId: 'cy', expiresInDays: 10 });
      const { id, expiresAt } = created.json() as { id: string; expiresAt: string };
      const rotated = await call('POST', `/api/v1/api-keys/${id}/rotate`, tenant.key, { graceSeconds: 60 });
      expect(rotated.statusCode).toBe(201);
      expect(rotated.json().apiKey).toMatchObject({ expiresAt, agentId: 'cy', scope: 'agent' });
    });
  });

  describe('/metrics and /docs', () => {
    it('serve metrics to the admin key only and the OpenAPI document publicly by default', async () => {
      expect((await api.app.inject({ url: '/metrics' })).statusCode).toBe(401);
      expect((await api.app.inject({ url: '/metrics', headers: bearer(api.adminKey) })).statusCode).toBe(200);
      expect((await api.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
    });
  });

  describe('the OpenAPI document', () => {
    it('documents the statuses the edge answers: 401 and 429 on every authenticated route, the webhooks\' refusals', async () => {
      type Op = { security?: unknown[]; responses?: Record<string, unknown> };
      const spec = (await api.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, Op>> };
      const missing: string[] = [];
      for (const [path, ops] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!op.security?.length) continue;
          for (const status of ['401', '429']) if (!op.responses?.[status]) missing.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
      expect(missing).toEqual([]);
      expect(Object.keys(spec.paths['/api/v1/api-keys/']!.post!.responses!)).toEqual(expect.arrayContaining(['201', '400', '409']));
      expect(Object.keys(spec.paths['/api/v1/conversations/{id}/take']!.post!.responses!)).toEqual(expect.arrayContaining(['200', '400', '403', '409', '503']));
      expect(Object.keys(spec.paths['/webhooks/whatsapp/']!.post!.responses!)).toEqual(expect.arrayContaining(['200', '400', '401', '429', '503']));
      expect(Object.keys(spec.paths['/webhooks/messenger/']!.get!.responses!)).toEqual(expect.arrayContaining(['200', '403']));
    });
  });

  describe('CORS', () => {
    it('allows tenant web chat origins on the web chat routes only, and CORS_ORIGINS everywhere', async () => {
      const shop = `https://shop-${randomBytes(4).toString('hex')}.example`;
      const webchat = await call('POST', '/api/v1/channels', tenant.key, { type: 'webchat', name: 'site', allowedOrigins: [shop] });
      expect(webchat.statusCode).toBe(201);
      const preflight = (url: string, origin: string) =>
        api.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect((await preflight('/api/v1/conversations', shop)).headers['access-control-allow-origin']).toBeUndefined();
      expect((await preflight('/api/v1/conversations', 'https://app.example')).headers['access-control-allow-origin']).toBe('https://app.example');
      expect((await preflight('/webchat/widget', shop)).headers['access-control-allow-origin']).toBe(shop);
      expect((await preflight('/webchat/widget', 'https://elsewhere.example')).headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});

describe('failed authentication and key limits across two API processes (RATE_LIMIT_STORE=postgres)', () => {
  let api: TestApi;
  let second: Awaited<ReturnType<typeof secondInstance>>;
  let key: string;

  beforeAll(async () => {
    api = await startTestApi('api_edge_shared', {
      RATE_LIMIT_STORE: 'postgres',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '3',
      RATE_LIMIT_API_PER_MINUTE: '8',
      TRUST_PROXY: 'true',
      API_KEYS_PER_TENANT: '3',
      METRICS_ACCESS: 'off',
      DOCS_ACCESS: 'admin',
    });
    second = await secondInstance(api);
    const created = await createTenant(api.db, { name: 'Shared', slug: `shared-${randomBytes(4).toString('hex')}` });
    key = created.apiKey.key;
  });
  afterAll(async () => {
    await second?.close();
    await api?.close();
  });

  const from = (ip: string, authorization?: string) => ({ 'x-forwarded-for': ip, ...(authorization && { authorization }) });

  it('limits failed Bearer attempts per client IP, counted by both processes together', async () => {
    const wrong = 'Bearer mcp_nope_nope';
    const ip = '203.0.113.7';
    expect((await api.app.inject({ url: '/api/v1/channels', headers: from(ip, wrong) })).statusCode).toBe(401);
    expect((await second.app.inject({ url: '/api/v1/channels', headers: from(ip, wrong) })).statusCode).toBe(401);
    expect((await api.app.inject({ url: '/api/v1/tenants', headers: from(ip, wrong) })).statusCode).toBe(401); // the admin key's routes count too
    const blocked = await second.app.inject({ url: '/api/v1/channels', headers: from(ip, wrong) });
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Even a valid key from that IP waits; another client (X-Forwarded-For, trusted here) does not.
    expect((await api.app.inject({ url: '/api/v1/channels', headers: from(ip, `Bearer ${key}`) })).statusCode).toBe(429);
    expect((await api.app.inject({ url: '/api/v1/channels', headers: from('198.51.100.9', `Bearer ${key}`) })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/api/v1/channels', headers: from('198.51.100.9', wrong) })).statusCode).toBe(401);
  });

  it('counts an IPv6 client by its /56 network, so fresh addresses of one prefix do not reset the count', async () => {
    const wrong = 'Bearer mcp_nope_nope';
    const codes: number[] = [];
    // Four /64s of 2001:db8:77::/56.
    for (const address of ['2001:db8:77:1::1', '2001:db8:77:2::2', '2001:db8:77:a0::a:b', '2001:db8:77:ff::ffff']) {
      codes.push((await api.app.inject({ url: '/api/v1/channels', headers: from(address, wrong) })).statusCode);
    }
    expect(codes).toEqual([401, 401, 401, 429]);
    expect((await api.app.inject({ url: '/api/v1/channels', headers: from('2001:db8:78::1', wrong) })).statusCode).toBe(401);
  });

  it('shares the per-key request budget between the processes', async () => {
    const tdbKey = (await createTenant(api.db, { name: 'Budget', slug: `budget-${randomBytes(4).toString('hex')}` })).apiKey.key;
    const ip = '192.0.2.44';
    const codes: number[] = [];
    for (let i = 0; i < 9; i++) {
      const app = i % 2 ? second.app : api.app;
      codes.push((await app.inject({ url: '/api/v1/channels', headers: from(ip, `Bearer ${tdbKey}`) })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
  });

  it('caps live API keys per tenant with 409 api_key_limit', async () => {
    const ip = '192.0.2.77';
    const own = await createTenant(api.db, { name: 'Capped', slug: `capped-${randomBytes(4).toString('hex')}` });
    const key = own.apiKey.key;
    const tenantId = own.tenant.id;
    const post = (payload: object, url = '/api/v1/api-keys') => api.app.inject({ method: 'POST', url, headers: from(ip, `Bearer ${key}`), payload });
    const k2 = await post({ name: 'two' });
    expect(k2.statusCode).toBe(201);
    expect((await post({ name: 'three' })).statusCode).toBe(201);
    const refused = await post({ name: 'four' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'api_key_limit' });
    expect(refused.json().error.message).toMatch(/at most 3/);
    // Rotation ending the old key at once replaces it; with a grace period the old key still counts.
    expect((await post({ graceSeconds: 3600 }, `/api/v1/api-keys/${k2.json().id}/rotate`)).statusCode).toBe(409);
    expect((await post({ graceSeconds: 0 }, `/api/v1/api-keys/${k2.json().id}/rotate`)).statusCode).toBe(201);
    expect(await forTenant(api.db, tenantId).apiKey.count({ where: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } })).toBe(3);
  });

  it('hides /metrics when METRICS_ACCESS=off and /docs behind the admin key when DOCS_ACCESS=admin', async () => {
    const ip = '192.0.2.99';
    expect((await api.app.inject({ url: '/metrics', headers: from(ip, `Bearer ${api.adminKey}`) })).statusCode).toBe(404);
    expect((await api.app.inject({ url: '/docs/json', headers: from(ip) })).statusCode).toBe(401);
    expect((await api.app.inject({ url: '/docs/json', headers: from(ip, `Bearer ${api.adminKey}`) })).statusCode).toBe(200);
  });
});

describe('without TRUST_PROXY', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('api_edge_direct', { RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '2', DOCS_ACCESS: 'off' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('takes the socket peer as the client, whatever X-Forwarded-For says', async () => {
    const attempt = (ip: string) => api.app.inject({ url: '/api/v1/channels', headers: { 'x-forwarded-for': ip, authorization: 'Bearer mcp_nope_nope' } });
    expect((await attempt('203.0.113.1')).statusCode).toBe(401);
    expect((await attempt('203.0.113.2')).statusCode).toBe(401);
    expect((await attempt('203.0.113.3')).statusCode).toBe(429);
    // A request without credentials is no attempt: a plain 401.
    expect((await api.app.inject({ url: '/api/v1/channels' })).statusCode).toBe(401);
  });

  it('serves no OpenAPI document when DOCS_ACCESS=off', async () => {
    expect((await api.app.inject({ url: '/docs/json' })).statusCode).toBe(404);
  });
});
