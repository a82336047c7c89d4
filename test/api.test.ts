// The tenant REST API as a new user meets it: the operator creates a tenant, the tenant rotates
// keys, adds channels, reads conversations and messages, changes settings, reads usage and
// analytics, exports and erases an end user; plus the protections (headers, CORS, rate limits).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { conversationWorkflowId, legacyConversationWorkflowId } from '../workflows/ids.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

describe('tenant REST API', () => {
  let api: TestApi;
  let tenantId: string;
  let key: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    api = await startTestApi('api');
  });

  afterAll(async () => {
    await api?.close();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, k: string, payload?: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method, url, headers: { ...bearer(k), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('lets the operator create a tenant, whose first key is shown once', async () => {
    const res = await call('POST', '/api/v1/tenants', api.adminKey, { name: 'ACME Bikes', slug: 'acme', settings: { locale: 'de' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    tenantId = body.tenant.id;
    key = body.apiKey.key;
    secrets.push(key);
    expect(body.apiKey.key).toMatch(/^mcp_[a-z0-9]{12}_/);
    expect(body.tenant).toMatchObject({ slug: 'acme', settingsVersion: 1, settings: { locale: 'de' } });

    expect((await call('POST', '/api/v1/tenants', api.adminKey, { name: 'dup', slug: 'acme' })).statusCode).toBe(409);
    expect((await call('POST', '/api/v1/tenants', api.adminKey, { name: 'x', slug: 'x1', extra: 1 })).statusCode).toBe(400);
    const list = await call('GET', '/api/v1/tenants?limit=1', api.adminKey);
    expect(list.json()).toMatchObject({ items: [{ id: tenantId }], nextCursor: null });
    expect((await call('GET', `/api/v1/tenants/${tenantId}`, api.adminKey)).json().name).toBe('ACME Bikes');
    expect((await call('PATCH', `/api/v1/tenants/${tenantId}`, api.adminKey, { name: 'ACME' })).json().name).toBe('ACME');
    // The tenant key is not an admin key, and the admin key is not a tenant key.
    expect((await call('GET', '/api/v1/tenants', key)).statusCode).toBe(401);
    expect((await call('GET', '/api/v1/channels', api.adminKey)).statusCode).toBe(401);
  });

  it('creates, lists, rotates and revokes API keys', async () => {
    const created = await call('POST', '/api/v1/api-keys', key, { name: 'support desk', scope: 'agent', agentId: 'desk-1' });
    expect(created.statusCode).toBe(201);
    const agentKey = created.json().key as string;
    secrets.push(agentKey);
    // Agent keys read conversations only.
    expect((await call('GET', '/api/v1/conversations', agentKey)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/channels', agentKey)).statusCode).toBe(403);

    const rotated = await call('POST', `/api/v1/api-keys/${created.json().id}/rotate`, key, { graceSeconds: 60 });
    expect(rotated.statusCode).toBe(201);
    const newAgentKey = rotated.json().apiKey.key as string;
    secrets.push(newAgentKey);
    expect((await call('GET', '/api/v1/conversations', agentKey)).statusCode).toBe(200); // in grace
    expect((await call('GET', '/api/v1/conversations', newAgentKey)).statusCode).toBe(200);

    const list = await call('GET', '/api/v1/api-keys?status=all', key);
    expect(list.json().items).toHaveLength(3);
    expect(JSON.stringify(list.json())).not.toContain(agentKey.slice('mcp_'.length + 13));

    expect((await call('DELETE', `/api/v1/api-keys/${rotated.json().apiKey.id}`, key)).statusCode).toBe(204);
    const revoked = await call('GET', '/api/v1/conversations', newAgentKey);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error).toMatchObject({ code: 'unauthorized', message: 'Missing or invalid API key' });
  });

  it('adds channels and never returns their secrets', async () => {
    const accessToken = `EAAG${randomBytes(20).toString('hex')}`;
    const appSecret = randomBytes(16).toString('hex');
    const verifyToken = `verify-${randomBytes(8).toString('hex')}`;
    secrets.push(accessToken, appSecret, verifyToken);
    api.graph.own(accessToken, { phoneNumberIds: ['123456'] }); // registration asks Meta who owns the number
    const res = await call('POST', '/api/v1/channels', key, { type: 'whatsapp', name: 'Support', phoneNumberId: '123456', wabaId: '654321', accessToken, appSecret, verifyToken });
    expect(res.statusCode).toBe(201);
    expect(res.body).not.toContain(accessToken);
    expect(res.body).not.toContain(appSecret);
    expect(res.body).not.toContain(verifyToken);
    expect(res.json().secrets).toEqual({ accessToken: '••••', appSecret: '••••' });
    expect(res.body).not.toContain(accessToken.slice(-4));
    const id = res.json().id;

    expect((await call('POST', '/api/v1/channels', key, { type: 'whatsapp', name: 'x', phoneNumberId: '1' })).statusCode).toBe(400);
    expect((await call('POST', '/api/v1/channels', key, { type: 'telegram', name: 'x' })).statusCode).toBe(400);
    const web = await call('POST', '/api/v1/channels', key, { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] });
    expect(web.statusCode).toBe(201);

    const patched = await call('PATCH', `/api/v1/channels/${id}`, key, { name: 'Sales', status: 'disabled' });
    expect(patched.json()).toMatchObject({ name: 'Sales', status: 'disabled' });
    expect((await call('PATCH', `/api/v1/channels/${id}`, key, { pageId: '1' })).statusCode).toBe(400);

    const page1 = await call('GET', '/api/v1/channels?limit=1', key);
    expect(page1.json().items).toHaveLength(1);
    const page2 = await call('GET', `/api/v1/channels?limit=1&cursor=${page1.json().nextCursor}`, key);
    expect(page2.json().items).toHaveLength(1);
    expect(page2.json().items[0].id).not.toBe(page1.json().items[0].id);
    expect(page2.json().nextCursor).toBeNull();
    expect((await call('GET', '/api/v1/channels?type=webchat', key)).json().items).toHaveLength(1);
    expect((await call('GET', '/api/v1/channels?cursor=garbage', key)).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/channels?limit=101', key)).statusCode).toBe(400);
  });

  it('lists conversations with filters and pages messages', async () => {
    const tdb = forTenant(api.db, tenantId);
    const channel = (await tdb.channel.findFirstOrThrow({ where: { type: 'whatsapp' } })).id;
    const base = Date.parse('2025-03-01T10:00:00Z');
    const conversations = [];
    for (let i = 0; i < 5; i++) {
      const c = await tdb.conversation.create({
        data: tenantData<Prisma.ConversationUncheckedCreateInput>({
          channelId: channel,
          externalUserId: `4917000000${i}`,
          status: i === 0 ? 'assigned_human' : 'active',
          assignee: i === 0 ? 'alice' : null,
          lastMessageAt: i === 4 ? null : new Date(base + i * 60_000),
        }),
      });
      conversations.push(c);
    }
    for (let m = 0; m < 7; m++) {
      await tdb.message.create({
        data: tenantData<Prisma.MessageUncheckedCreateInput>({
          conversationId: conversations[1]!.id,
          channel: 'whatsapp',
          direction: m % 2 ? 'outbound' : 'inbound',
          type: 'text',
          content: { text: `message ${m}` },
          status: m % 2 ? 'sent' : 'received',
          createdAt: new Date(base + m * 1000),
        }),
      });
    }

    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/api/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, key);
      expect(res.statusCode).toBe(200);
      all.push(...res.json().items.map((c: { id: string }) => c.id));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(all).toEqual([conversations[3]!.id, conversations[2]!.id, conversations[1]!.id, conversations[0]!.id, conversations[4]!.id]);

    expect((await call('GET', '/api/v1/conversations?status=assigned_human', key)).json().items.map((c: { assignee: string }) => c.assignee)).toEqual(['alice']);
    expect((await call('GET', '/api/v1/conversations?assignee=alice', key)).json().items).toHaveLength(1);
    expect((await call('GET', `/api/v1/conversations?since=2025-03-01T10:01:00Z&until=2025-03-01T10:03:00Z`, key)).json().items).toHaveLength(2);
    expect((await call('GET', `/api/v1/conversations?channel=messenger`, key)).json().items).toHaveLength(0);
    expect((await call('GET', `/api/v1/conversations/${conversations[1]!.id}`, key)).json()).toMatchObject({ channel: 'whatsapp', externalUserId: '49170000001' });

    const texts: string[] = [];
    cursor = null;
    do {
      const res = await call('GET', `/api/v1/conversations/${conversations[1]!.id}/messages?limit=3${cursor ? `&cursor=${cursor}` : ''}`, key);
      texts.push(...res.json().items.map((m: { content: { text: string } }) => m.content.text));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(texts).toEqual([6, 5, 4, 3, 2, 1, 0].map((m) => `message ${m}`));
    const asc = await call('GET', `/api/v1/conversations/${conversations[1]!.id}/messages?order=asc&limit=2`, key);
    expect(asc.json().items.map((m: { content: { text: string } }) => m.content.text)).toEqual(['message 0', 'message 1']);
  });

  it('versions settings: If-Match or body.version, 409 when stale, 428 when missing', async () => {
    const got = await call('GET', '/api/v1/settings', key);
    expect(got.json()).toMatchObject({ version: 1, settings: { locale: 'de', handoff: { keywords: ['human', 'agent', 'person'] } }, stored: { locale: 'de' } });
    expect(got.headers.etag).toBe('"1"');
    expect((await call('PATCH', '/api/v1/settings', key, { settings: { locale: 'fr' } })).statusCode).toBe(428);
    const ok = await call('PATCH', '/api/v1/settings', key, { settings: { handoff: { keywords: ['humano'] } } }, { 'if-match': '"1"' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ version: 2, settings: { locale: 'de', handoff: { keywords: ['humano'], agentInactivityMinutes: 30 } } });
    expect((await call('PATCH', '/api/v1/settings', key, { version: 1, settings: { locale: 'fr' } })).statusCode).toBe(409);
    const bad = await call('PATCH', '/api/v1/settings', key, { version: 2, settings: { llm: { provider: 'gpt' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_error');
    expect((await call('PATCH', '/api/v1/settings', key, { version: 2, settings: { webchat: { allowedOrigins: ['https://acme.example'] } } })).json().version).toBe(3);
  });

  it('reports usage and analytics over a bounded range', async () => {
    const tdb = forTenant(api.db, tenantId);
    await tdb.usage.create({ data: tenantData<Prisma.UsageUncheckedCreateInput>({ day: new Date('2025-03-01'), provider: 'openai', model: 'gpt-4o-mini', requests: 3, promptTokens: 100, completionTokens: 50, costUsd: '0.0125' }) });
    const usage = await call('GET', '/api/v1/usage?from=2025-03-01&to=2025-03-02', key);
    expect(usage.statusCode).toBe(200);
    expect(usage.json().totals).toEqual({ requests: 3, promptTokens: 100, completionTokens: 50, costUsd: 0.0125 });
    expect((await call('GET', '/api/v1/usage?from=2024-01-01&to=2025-03-02', key)).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/usage?from=2025-03-02&to=2025-03-01', key)).statusCode).toBe(400);

    const a = await call('GET', '/api/v1/analytics?from=2025-03-01&to=2025-03-02', key);
    expect(a.statusCode).toBe(200);
    expect(a.json()).toMatchObject({
      messagesPerDay: [{ day: '2025-03-01', inbound: 4, outbound: 3 }],
      totals: { inbound: 4, outbound: 3, conversations: 1 },
      tokens: { prompt: 100, completion: 50 },
      costUsd: 0.0125,
      responseLatencyMs: { count: 3, avg: 1000 },
    });
  });

  it('exports and erases an end user, with an audit event', async () => {
    const exported = await call('GET', '/api/v1/end-users/whatsapp/49170000001/export', key);
    expect(exported.statusCode).toBe(200);
    expect(exported.json().messages).toHaveLength(7);
    expect((await call('GET', '/api/v1/end-users/messenger/49170000001/export', key)).statusCode).toBe(404);
    // The dedupe key of one of their messages goes too; another user's stays.
    const tdb = forTenant(api.db, tenantId);
    const theirs = exported.json().messages.find((m: { direction: string }) => m.direction === 'inbound') as { id: string };
    await tdb.message.updateMany({ where: { id: theirs.id }, data: { externalMessageId: 'wamid.theirs' } });
    for (const [externalMessageId, messageId] of [['wamid.theirs', theirs.id], ['wamid.someone-else', randomUUID()]]) {
      await tdb.inboundMessageKey.create({ data: tenantData<Prisma.InboundMessageKeyUncheckedCreateInput>({ channel: 'whatsapp', externalMessageId: externalMessageId!, messageId: messageId! }) });
    }

    const erased = await call('DELETE', '/api/v1/end-users/whatsapp/49170000001', key);
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toEqual({ erased: { conversations: 1, messages: 7, events: 0 }, workflowTerminated: false, workflowsTerminated: 0 });
    expect(await api.db.message.count({ where: { tenantId } })).toBe(0);
    expect((await tdb.inboundMessageKey.findMany({ select: { externalMessageId: true } })).map((k) => k.externalMessageId)).toEqual(['wamid.someone-else']);
    const audit = await api.db.event.findFirstOrThrow({ where: { tenantId, type: 'end_user.erased' } });
    expect(JSON.stringify(audit)).not.toContain('49170000001');
    expect((await call('DELETE', '/api/v1/end-users/whatsapp/49170000001', key)).statusCode).toBe(404);
  });

  it("ends the workflow each of the end user's conversations stored, on every number of the channel type, on erasure", async () => {
    const tdb = forTenant(api.db, tenantId);
    const first = (await tdb.channel.findFirstOrThrow({ where: { type: 'whatsapp' } })).id;
    const channelSecrets = { accessToken: `EAAG${randomBytes(20).toString('hex')}`, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` };
    secrets.push(...Object.values(channelSecrets));
    api.graph.own(channelSecrets.accessToken, { phoneNumberIds: ['223456'] });
    const added = await call('POST', '/api/v1/channels', key, { type: 'whatsapp', name: 'Second number', phoneNumberId: '223456', wabaId: '654321', ...channelSecrets });
    expect(added.statusCode, added.body).toBe(201);
    const second = added.json().id as string;
    const user = '4915550001';
    // The rows name their workflows; the second one's is not what the id scheme would build.
    const stored = [conversationWorkflowId(tenantId, first, user), `conversation:moved:${randomBytes(4).toString('hex')}`];
    await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: first, externalUserId: user, workflowId: stored[0] }) });
    await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: second, externalUserId: user, workflowId: stored[1] }) });
    // No worker polls this queue: the workflows just stay running until terminated. One more runs
    // under the legacy per-type id (a conversation from before ids named the channel).
    const taskQueue = `gdpr-${randomBytes(4).toString('hex')}`;
    const [a, b, legacy] = await Promise.all(
      [...stored, legacyConversationWorkflowId(tenantId, 'whatsapp', user)].map((workflowId) => api.app.temporal.workflow.start('conversation', { taskQueue, workflowId })),
    );
    // Someone else's conversation on the same number keeps its workflow.
    const bystander = await api.app.temporal.workflow.start('conversation', { taskQueue, workflowId: conversationWorkflowId(tenantId, first, '4915550002') });
    await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: first, externalUserId: '4915550002', workflowId: bystander.workflowId }) });

    const res = await call('DELETE', `/api/v1/end-users/whatsapp/${user}`, key);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ erased: { conversations: 2 }, workflowTerminated: true, workflowsTerminated: 3 });
    for (const handle of [a!, b!, legacy!]) expect((await handle.describe()).status.name).toBe('TERMINATED');
    expect((await bystander.describe()).status.name).toBe('RUNNING');
    await bystander.terminate('test over');
  });

  it('sends security headers, relaxes CSP only for /docs, and serves the OpenAPI document', async () => {
    const res = await call('GET', '/api/v1/settings', key);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const docs = await api.app.inject({ url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    const spec = (await api.app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/tenants/', '/api/v1/channels/{id}', '/api/v1/conversations/{id}/messages', '/api/v1/settings/']));
    expect(spec.paths['/api/v1/channels/'].post.security).toEqual([{ bearer: [] }, { session: [], csrf: [] }]);
  });

  it('allows tenants\' web chat origins on the web chat routes only', async () => {
    const preflight = (origin: string, url = '/webchat/widget') =>
      api.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'GET' } });
    expect((await preflight('https://acme.example')).headers['access-control-allow-origin']).toBe('https://acme.example');
    expect((await preflight('https://shop.example.com')).headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    // The REST API answers CORS for CORS_ORIGINS only (none here), not for a tenant's widget sites.
    expect((await preflight('https://acme.example', '/api/v1/conversations')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('deletes a tenant with everything it owns', async () => {
    const other = (await call('POST', '/api/v1/tenants', api.adminKey, { name: 'Gone', slug: 'gone' })).json();
    expect((await call('DELETE', `/api/v1/tenants/${other.tenant.id}`, api.adminKey)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/tenants/${other.tenant.id}`, api.adminKey)).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/settings', other.apiKey.key)).statusCode).toBe(401);
  });

  it('logged no key, secret or token', () => {
    const text = api.logs.join('');
    expect(text.length).toBeGreaterThan(0);
    for (const s of [...secrets, api.adminKey]) expect(text).not.toContain(s);
    for (const s of secrets.filter((x) => x.startsWith('mcp_'))) expect(text).not.toContain(s.slice('mcp_'.length + 13));
  });
});

describe('rate limits', () => {
  let api: TestApi;
  beforeAll(async () => {
    // A stand-in for the webhook routes, registered after the rate-limit plugin like them.
    api = await startTestApi('api_rate', { RATE_LIMIT_API_PER_MINUTE: '5', RATE_LIMIT_IP_PER_MINUTE: '8' }, (app) => {
      app.get('/webhooks/probe', async () => ({ ok: true }));
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('limits each API key on /api/v1 and each IP elsewhere, with the error envelope', async () => {
    const a = (await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: 'A', slug: 'ta' } })).json().apiKey.key;
    const b = (await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: 'B', slug: 'tb' } })).json().apiKey.key;
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await api.app.inject({ url: '/api/v1/settings', headers: bearer(a) })).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await api.app.inject({ url: '/api/v1/settings', headers: bearer(a) });
    expect(limited.json().error.code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await api.app.inject({ url: '/api/v1/settings', headers: bearer(b) })).statusCode).toBe(200);

    const anon = [];
    for (let i = 0; i < 9; i++) anon.push((await api.app.inject({ url: '/webhooks/probe' })).statusCode);
    expect(anon).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    expect((await api.app.inject({ url: '/webhooks/probe', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });
});
