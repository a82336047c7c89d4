// Plan features enforced: each route that adds what a feature covers answers 402
// plan_feature_unavailable on a plan without it and succeeds once an operator moves the tenant to
// a plan with it; and at run time, a plan change applies to the next activity: no tenant functions
// or MCP tools offered to the model, the tenant's own model key left unused, webhook deliveries
// not sent. Real Postgres, the real Temporal dev server behind the API, the fake Graph API and
// fake OpenAI servers, a local webhook receiver.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmActivities } from '../activities/llm/index.ts';
import { createWebhookActivities } from '../activities/webhooks.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { setLlmCredential } from '../lib/llm-credentials.ts';
import { PLAN_FEATURES } from '../lib/plan-features.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { createWebhookEndpoint, type WebhookDispatcher } from '../lib/tenant-webhooks.ts';
import { createTenant } from '../lib/tenants.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

/** A plan with web chat only: every other feature is missing. */
const BARE = 'webchat_only';

describe('plan features', () => {
  let api: TestApi;
  let openai: FakeOpenAi;
  let own: FakeOpenAi;
  let receiver: { server: Server; url: string; hits: number };

  beforeAll(async () => {
    api = await startTestApi('plan_features', { ALLOW_INSECURE_TENANT_URLS: 'true' });
    [openai, own] = await Promise.all([startFakeOpenAi(), startFakeOpenAi({ apiKey: 'sk-tenant-own-key' })]);
    await api.db.plan.upsert({ where: { id: BARE }, create: { id: BARE, name: 'Web chat only', features: ['webchat'] }, update: {} });
    const server = createServer((_req, res) => {
      receiver.hits++;
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receiver = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits: 0 };
  });

  afterAll(async () => {
    await new Promise<void>((r) => (receiver ? receiver.server.close(() => r()) : r()));
    await Promise.all([openai?.close(), own?.close()]);
    await api?.close();
  });

  async function newTenant(settings?: Record<string, unknown>) {
    const slug = `features-${randomBytes(5).toString('hex')}`;
    const { tenant, apiKey } = await createTenant(api.db, { name: slug, slug, ...(settings && { settings }) });
    return { id: tenant.id, key: apiKey.key };
  }
  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, key: string, payload?: object) => api.app.inject({ method, url, headers: bearer(key), ...(payload && { payload }) });
  async function setPlan(tenantId: string, plan: string) {
    const res = await api.app.inject({ method: 'PUT', url: `/api/v1/admin/tenants/${tenantId}/plan`, headers: bearer(api.adminKey), payload: { plan, operator: 'ops@platform' } });
    expect(res.statusCode, res.body).toBe(200);
  }
  const refusal = (feature: string) => ({ code: 'plan_feature_unavailable', message: expect.stringContaining(`The ${BARE} plan does not include the "${feature}" feature`), details: { feature, plan: BARE } });

  it('answers 402 plan_feature_unavailable for each feature the plan lacks, and succeeds once an operator sets a plan with it', async () => {
    const t = await newTenant();
    await setPlan(t.id, BARE);
    const accessToken = `EAAG${randomBytes(16).toString('hex')}`;
    const phoneNumberId = String(100000 + Math.floor(Math.random() * 800000));
    api.graph.own(accessToken, { phoneNumberIds: [phoneNumberId] });
    const attempts: [string, () => ReturnType<typeof call>][] = [
      ['whatsapp', () => call('POST', '/api/v1/channels', t.key, { type: 'whatsapp', name: 'Support', phoneNumberId, wabaId: '654321', accessToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` })],
      ['functions', () => call('POST', '/api/v1/functions', t.key, { name: 'order_status', description: 'Order status', parameters: { type: 'object', properties: { orderId: { type: 'string' } } }, endpoint: 'https://example.com/fn', secret: 'a-signing-secret-of-some-length' })],
      ['functions', () => call('POST', '/api/v1/mcp-servers', t.key, { name: 'shop', url: 'http://127.0.0.1:9/mcp', timeoutMs: 500 })],
      ['webhooks', () => call('POST', '/api/v1/webhook-endpoints', t.key, { url: 'https://example.com/hooks', events: ['message.received'] })],
      ['llm_credentials', () => call('PUT', '/api/v1/llm-credentials/openai', t.key, { apiKey: 'sk-tenant-own-key-1234' })],
      ['documents', () => call('POST', '/api/v1/documents', t.key, { title: 'Hours', content: 'Open at nine.', format: 'text' })],
    ];
    for (const [feature, attempt] of attempts) {
      const res = await attempt();
      expect(res.statusCode, res.body).toBe(402);
      expect(res.json().error).toEqual({ ...refusal(feature), requestId: expect.any(String) });
    }
    // Nothing was made, and the feature the plan has is not refused.
    const tdb = forTenant(api.db, t.id);
    expect([await tdb.channel.count(), await tdb.tenantFunction.count(), await tdb.mcpServer.count(), await tdb.webhookEndpoint.count(), await tdb.tenantLlmCredential.count(), await tdb.document.count()]).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await call('POST', '/api/v1/channels', t.key, { type: 'webchat', name: 'Site' })).statusCode).toBe(201);

    await setPlan(t.id, 'business');
    expect(await Promise.all(attempts.map(async ([, attempt]) => (await attempt()).statusCode))).toEqual([201, 201, 201, 201, 200, 202]);
  });

  it('keeps an existing channel whose type the plan lacks, and refuses to enable it again once disabled', async () => {
    const t = await newTenant();
    const channel = (await call('POST', '/api/v1/channels', t.key, { type: 'webchat', name: 'Site' })).json() as { id: string };
    await api.db.plan.upsert({ where: { id: 'no_webchat' }, create: { id: 'no_webchat', name: 'No web chat', features: ['whatsapp'] }, update: {} });
    await setPlan(t.id, 'no_webchat');
    const url = `/api/v1/channels/${channel.id}`;
    expect((await call('PATCH', url, t.key, { name: 'Renamed' })).statusCode).toBe(200);
    expect((await call('PATCH', url, t.key, { status: 'active' })).statusCode).toBe(200); // already active: nothing is enabled
    expect((await call('PATCH', url, t.key, { status: 'disabled' })).statusCode).toBe(200);
    const enable = await call('PATCH', url, t.key, { status: 'active' });
    expect(enable.statusCode, enable.body).toBe(402);
    expect(enable.json().error).toMatchObject({ code: 'plan_feature_unavailable', details: { feature: 'webchat', plan: 'no_webchat' } });
    expect((await forTenant(api.db, t.id).channel.findFirstOrThrow({ where: { id: channel.id } })).status).toBe('disabled');
    await setPlan(t.id, 'default');
    expect((await call('PATCH', url, t.key, { status: 'active' })).json().status).toBe('active');
  });

  it('shows every feature with whether the plan includes it, and documents the 402 on each gated route', async () => {
    const t = await newTenant();
    await setPlan(t.id, 'starter');
    const billing = (await call('GET', '/api/v1/billing', t.key)).json() as { plan: { features: string[] }; features: { feature: string; label: string; included: boolean }[] };
    expect(billing.features.map((f) => f.feature)).toEqual([...PLAN_FEATURES]);
    expect(billing.features.filter((f) => !f.included).map((f) => f.feature)).toEqual(['functions', 'webhooks', 'llm_credentials']);
    expect(billing.features.find((f) => f.feature === 'functions')!.label).toBe('Functions and MCP servers');
    expect(billing.plan.features).toEqual(['webchat', 'whatsapp', 'messenger', 'instagram', 'documents']);
    // The default plan, where tenants without billing are, includes every feature.
    const plans = (await call('GET', '/api/v1/billing/plans', t.key)).json().items as { id: string; features: string[] }[];
    expect([...plans.find((p) => p.id === 'default')!.features].sort()).toEqual([...PLAN_FEATURES].sort());

    const spec = (await api.app.inject({ url: '/docs/json', headers: bearer(api.adminKey) })).json() as { paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>> };
    const gated: [string, string][] = [
      ['/api/v1/channels/', 'post'], ['/api/v1/channels/{id}', 'patch'], ['/api/v1/functions/', 'post'], ['/api/v1/mcp-servers/', 'post'],
      ['/api/v1/webhook-endpoints/', 'post'], ['/api/v1/webhook-endpoints/{id}/test', 'post'], ['/api/v1/webhook-deliveries/{id}/redeliver', 'post'],
      ['/api/v1/llm-credentials/{provider}', 'put'], ['/api/v1/documents/', 'post'], ['/api/v1/documents/{id}/versions', 'post'],
    ];
    for (const [path, method] of gated) expect(spec.paths[path]?.[method]?.responses['402']?.description, `${method} ${path}`).toContain('plan_feature_unavailable');
  });

  it("stops offering the tenant's functions and MCP tools to the model, and calling them, as soon as the plan lacks functions", async () => {
    const t = await newTenant({ llm: { provider: 'openai', model: 'gpt-4o-mini' } });
    await createTenantFunction(forTenant(api.db, t.id), api.config.SECRETS_KEYS, {
      name: 'order_status', description: 'Order status', parameters: { type: 'object', properties: { orderId: { type: 'string' } } },
      endpoint: receiver.url, secret: 'fn-secret-0123456789abcdef',
    }, { allowHttp: true });
    const activities = createLlmActivities({ db: api.db, keyring: api.config.SECRETS_KEYS, openai: { apiKey: FAKE_OPENAI_KEY, baseURL: openai.url }, allowInsecureFunctionEndpoints: true });
    const offered: string[][] = [];
    openai.respond((c) => (offered.push(c.tools), { text: 'Answered.' }));
    const reply = () => new MockActivityEnvironment().run(activities.generateReply, { tenantId: t.id, question: 'Where is order 7?', passages: [], history: [], attachments: [], handoffKeyword: 'human' });
    const callFunction = () => new MockActivityEnvironment().run(activities.callTenantFunction, { tenantId: t.id, name: 'order_status', arguments: '{"orderId":"7"}', callId: `call_${randomBytes(4).toString('hex')}` });

    await reply();
    expect(offered[0]).toContain('order_status');
    await setPlan(t.id, 'starter');
    await reply();
    expect(offered[1]!.sort()).toEqual(['offer_choices', 'request_human', 'search_knowledge']);
    const hits = receiver.hits;
    expect(await callFunction()).toEqual({ content: '"order_status" is not available on the starter plan: not called', isError: true });
    expect(receiver.hits).toBe(hits);

    await setPlan(t.id, 'pro');
    await reply();
    expect(offered[2]).toContain('order_status');
    expect(await callFunction()).toEqual({ content: 'ok', isError: false });
    expect(receiver.hits).toBe(hits + 1);
  });

  it("uses the tenant's own model key only while the plan includes llm_credentials, the platform's otherwise", async () => {
    const t = await newTenant({ llm: { provider: 'openai', model: 'gpt-4o-mini' } });
    await setPlan(t.id, 'business');
    await setLlmCredential(forTenant(api.db, t.id), api.config.SECRETS_KEYS, t.id, 'openai', { apiKey: 'sk-tenant-own-key', baseUrl: own.url }, { allowHttp: true });
    const activities = createLlmActivities({ db: api.db, keyring: api.config.SECRETS_KEYS, openai: { apiKey: FAKE_OPENAI_KEY, baseURL: openai.url }, allowInsecureFunctionEndpoints: true });
    own.respond(() => ({ text: 'From the tenant endpoint.' }));
    openai.respond(() => ({ text: 'From the platform.' }));
    const reply = async () => ((await new MockActivityEnvironment().run(activities.generateReply, { tenantId: t.id, question: 'hi', passages: [], history: [], attachments: [], handoffKeyword: 'human' })) as { text: string }).text;

    expect(await reply()).toBe('From the tenant endpoint.');
    await setPlan(t.id, 'pro');
    const before = own.requests.length;
    expect(await reply()).toBe('From the platform.');
    expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_KEY}`);
    expect(own.requests.length).toBe(before);
  });

  it('sends no webhook delivery while the plan lacks webhooks: the delivery ends failed, not sent, logged without the payload', async () => {
    const t = await newTenant();
    const tdb = forTenant(api.db, t.id);
    const { endpoint } = await createWebhookEndpoint(tdb, api.config.SECRETS_KEYS, { url: receiver.url }, { allowHttp: true });
    const secretWord = `payload-${randomBytes(6).toString('hex')}`;
    const delivery = async () => {
      const event = await tdb.event.create({ data: tenantData<Prisma.EventUncheckedCreateInput>({ type: 'conversation.closed', payload: { conversationId: secretWord } }) });
      return tdb.webhookDelivery.create({ data: tenantData<Prisma.WebhookDeliveryUncheckedCreateInput>({ endpointId: endpoint.id, eventId: event.id, eventType: event.type }) });
    };
    const logs: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logs.push(String(chunk)), done()) }));
    const activities = createWebhookActivities({ db: api.db, keyring: api.config.SECRETS_KEYS, logger, dispatcher: {} as WebhookDispatcher, allowInsecureEndpoints: true });
    const attempt = (id: string) => new MockActivityEnvironment().run(activities.attemptWebhookDelivery, { deliveryId: id, tenantId: t.id, timeoutMs: 2000 });

    await setPlan(t.id, 'starter');
    const skipped = await delivery();
    const hits = receiver.hits;
    expect(await attempt(skipped.id)).toEqual({ status: 'dropped', reason: 'not sent: the starter plan does not include webhooks' });
    expect(receiver.hits).toBe(hits);
    expect(await tdb.webhookDelivery.findFirstOrThrow({ where: { id: skipped.id } })).toMatchObject({ status: 'failed', attempts: 0, lastError: 'not sent: the starter plan does not include webhooks' });
    expect((await tdb.webhookEndpoint.findFirstOrThrow({ where: { id: endpoint.id } })).consecutiveFailures).toBe(0);
    const logged = logs.map((l) => JSON.parse(l) as { level: number; msg: string; deliveryId?: string }).filter((l) => l.deliveryId === skipped.id);
    expect(logged.map((l) => [l.level, l.msg])).toEqual([[30, 'webhook delivery skipped: the plan does not include webhooks']]);
    expect(logs.join('\n')).not.toContain(secretWord);

    await setPlan(t.id, 'pro');
    const sent = await delivery();
    expect(await attempt(sent.id)).toEqual({ status: 'delivered', statusCode: 200 });
    expect(receiver.hits).toBe(hits + 1);
  });
});
