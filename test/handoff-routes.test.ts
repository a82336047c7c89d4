// Handoff routes without a conversation worker: tenant isolation, validation (Idempotency-Key
// included), agent keys, the OpenAPI document, and what they answer when the conversation's
// workflow is not running, was never stored, or Temporal is down. (The paths through a running
// workflow are in test/handoff.test.ts.)
import { randomBytes } from 'node:crypto';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { createChannel } from '../lib/channels.ts';
import { createLogger } from '../lib/logger.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../lib/tenants.ts';
import { conversation } from '../workflows/conversation.ts';
import { conversationWorkflowId, legacyConversationWorkflowId } from '../workflows/ids.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { testConfig } from './support/config.ts';
import { uniqueQueuePrefix } from './support/temporal.ts';

interface TenantFixture {
  tenantId: string;
  key: string;
  agentKey: string;
  channelId: string;
  /** A conversation whose row names its workflow (which no one started). */
  conversationId: string;
  /** A conversation whose row names no workflow. */
  bareConversationId: string;
  externalUserId: string;
}

describe('handoff routes', () => {
  let api: TestApi;
  let a: TenantFixture;
  let b: TenantFixture;

  async function fixture(): Promise<TenantFixture> {
    const slug = `h-${randomBytes(4).toString('hex')}`;
    const { tenant, apiKey } = await createTenant(api.db, { name: slug, slug });
    const tdb = forTenant(api.db, tenant.id);
    const channel = await createChannel(tdb, api.config.SECRETS_KEYS, {
      type: 'whatsapp',
      name: 'WhatsApp',
      phoneNumberId: String(Date.now()) + String(Math.floor(Math.random() * 1000)),
      wabaId: '555',
      accessToken: 'EAAG-test-token',
      appSecret: 'app-secret-123',
      verifyToken: `verify-${slug}`,
    });
    const externalUserId = `1555${Math.floor(Math.random() * 1e7)}`;
    const conv = await tdb.conversation.create({
      data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: channel.id, externalUserId, workflowId: conversationWorkflowId(tenant.id, channel.id, externalUserId) }),
    });
    const bare = await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: channel.id, externalUserId: `${externalUserId}0` }) });
    const agent = await createApiKey(tdb, { name: 'agents', scope: 'agent' });
    return { tenantId: tenant.id, key: apiKey.key, agentKey: agent.key, channelId: channel.id, conversationId: conv.id, bareConversationId: bare.id, externalUserId };
  }

  const call = (key: string, path: string, payload?: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'POST', url: `/api/v1/conversations/${path}`, headers: { ...bearer(key), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    api = await startTestApi('handoff_routes', { TEMPORAL_TASK_QUEUE_PREFIX: uniqueQueuePrefix('handoff-routes') });
    [a, b] = await Promise.all([fixture(), fixture()]);
  });
  afterAll(async () => {
    await api?.close();
  });

  const routes = (conversationId: string) =>
    [
      [`${conversationId}/handoff`, { reason: 'customer asked' }],
      [`${conversationId}/take`, { agentId: 'agent-7' }],
      [`${conversationId}/release`, { agentId: 'agent-7' }],
      [`${conversationId}/messages`, { agentId: 'agent-7', text: 'Hello, this is Sam' }],
    ] as const;

  it("answers 404 for another tenant's conversation, and for unknown ids", async () => {
    for (const [path, body] of [...routes(b.conversationId), ...routes('00000000-0000-4000-8000-000000000000')]) {
      const res = await call(a.key, path, body);
      expect(res.statusCode, path).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'not_found', message: 'Conversation not found', requestId: res.headers['x-request-id'] } });
    }
  });

  it('answers 409 conversation_closed when the conversation has no running workflow, or names none', async () => {
    for (const [path, body] of [...routes(a.conversationId), ...routes(a.bareConversationId)]) {
      const res = await call(a.key, path, body);
      expect(res.statusCode, path).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'conversation_closed', requestId: res.headers['x-request-id'] });
    }
  });

  it('acts on the workflow the conversation stored, not on one rebuilt from its channel and user', async () => {
    // A workflow under the id the routes would rebuild (and under the legacy per-type id) runs; the row names another.
    const tdb = forTenant(api.db, a.tenantId);
    const user = `1666${Math.floor(Math.random() * 1e7)}`;
    const row = await tdb.conversation.create({
      data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: a.channelId, externalUserId: user, workflowId: `conversation:stored-elsewhere:${randomBytes(4).toString('hex')}` }),
    });
    const decoys = await Promise.all(
      [conversationWorkflowId(a.tenantId, a.channelId, user), legacyConversationWorkflowId(a.tenantId, 'whatsapp', user)].map((workflowId) =>
        api.app.temporal.workflow.start(conversation, {
          workflowId,
          taskQueue: uniqueQueuePrefix('nobody-polls'),
          args: [{ tenantId: a.tenantId, channel: 'whatsapp', channelId: a.channelId, externalUserId: user }],
        }),
      ),
    );
    try {
      const res = await call(a.key, `${row.id}/handoff`, { reason: 'which one?' });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().error.code).toBe('conversation_closed');
      for (const d of decoys) expect((await d.fetchHistory()).events?.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(false);
    } finally {
      await Promise.all(decoys.map((d) => d.terminate('test over')));
    }
  });

  it('answers 409 when the workflow has ended', async () => {
    const workflowId = conversationWorkflowId(b.tenantId, b.channelId, b.externalUserId);
    const handle = await api.app.temporal.workflow.start(conversation, {
      workflowId,
      taskQueue: uniqueQueuePrefix('nobody-polls'),
      args: [{ tenantId: b.tenantId, channel: 'whatsapp', channelId: '00000000-0000-4000-8000-000000000000', externalUserId: b.externalUserId }],
    });
    await handle.terminate('closed for the test');
    for (const [path, body] of routes(b.conversationId)) {
      const res = await call(b.key, path, body);
      expect(res.statusCode, path).toBe(409);
      expect(res.json().error.code).toBe('conversation_closed');
    }
  });

  it('lets agent-scoped keys use every handoff route', async () => {
    for (const [path, body] of routes(a.conversationId)) {
      const res = await call(a.agentKey, path, body);
      expect(res.statusCode, path).toBe(409); // past authentication and authorization
    }
  });

  it('validates Idempotency-Key: 1 to 200 visible ASCII characters', async () => {
    for (const route of ['take', 'release', 'messages']) {
      const body = route === 'messages' ? { agentId: 'x', text: 'hello' } : { agentId: 'x' };
      for (const key of ['', 'k'.repeat(201), 'two words', 'tab\there', 'caf\u00e9']) {
        const res = await call(a.key, `${a.conversationId}/${route}`, body, { 'idempotency-key': key });
        expect(res.statusCode, `${route} ${JSON.stringify(key)}`).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'validation_error', message: expect.stringContaining('idempotency-key') });
      }
      for (const key of ['k', 'k'.repeat(200), '0f8fad5b-d9cb-469f-a165-70867728950e', '!~"#$%&()*+,-./:;<=>?@[]^_`{|}']) {
        const res = await call(a.key, `${a.conversationId}/${route}`, body, { 'idempotency-key': key });
        expect(res.statusCode, `${route} ${JSON.stringify(key)}`).toBe(409); // valid; no workflow runs
      }
    }
  });

  it('validates bodies (400 with the envelope) and accepts a handoff without a body', async () => {
    const cases: [string, unknown][] = [
      [`${a.conversationId}/take`, {}],
      [`${a.conversationId}/take`, { agentId: '' }],
      [`${a.conversationId}/release`, { agentId: 'x', extra: 1 }],
      [`${a.conversationId}/messages`, { agentId: 'x', text: '' }],
      [`${a.conversationId}/messages`, { agentId: 'x', text: 'y'.repeat(4097) }],
      [`${a.conversationId}/handoff`, { reason: 'x'.repeat(501) }],
      ['not-a-uuid/take', { agentId: 'x' }],
    ];
    for (const [path, body] of cases) {
      const res = await call(a.key, path, body);
      expect(res.statusCode, path).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_error', requestId: res.headers['x-request-id'] });
    }
    const noBody = await call(a.key, `${a.conversationId}/handoff`);
    expect(noBody.statusCode, noBody.body).toBe(409); // no body is fine; no workflow runs
  });

  it('documents the routes under the handoff tag, with every status they answer and the Idempotency-Key header', async () => {
    type Operation = { tags?: string[]; parameters?: { in: string; name: string; required?: boolean; schema?: { pattern?: string } }[]; responses: Record<string, unknown> };
    const doc = (await api.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, Operation>> };
    const op = (route: string) => doc.paths[`/api/v1/conversations/{id}/${route}`]!.post!;
    for (const route of ['handoff', 'take', 'release', 'messages']) {
      expect(op(route).tags).toEqual(['handoff']);
      expect(Object.keys(op(route).responses)).toEqual(expect.arrayContaining(['400', '401', '403', '404', '409', '429', '503']));
    }
    expect(Object.keys(op('handoff').responses)).toContain('202');
    expect(Object.keys(op('messages').responses)).toEqual(expect.arrayContaining(['200', '202']));
    for (const route of ['take', 'release', 'messages']) {
      expect(op(route).parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'idempotency-key', required: false })]));
    }
  });

  it('answers 503 when Temporal is unreachable (409 for a conversation that names no workflow)', async () => {
    const config = testConfig({ DATABASE_URL: api.config.DATABASE_URL, TEMPORAL_ADDRESS: `127.0.0.1:${await getPort()}` });
    const temporal = createTemporalClient(config);
    const app = await buildApp({ config, db: api.db, temporal, logger: createLogger({ level: 'silent', name: 'test' }) });
    try {
      const res = await app.inject({ method: 'POST', url: `/api/v1/conversations/${a.conversationId}/handoff`, headers: bearer(a.key), payload: {} });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: { code: 'temporal_unavailable', message: expect.any(String), requestId: res.headers['x-request-id'] } });
      const message = await app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${a.conversationId}/messages`,
        headers: { ...bearer(a.key), 'idempotency-key': 'retry-me' },
        payload: { agentId: 'x', text: 'hello' },
      });
      expect(message.statusCode, message.body).toBe(503);
      expect(message.json().error.code).toMatch(/^(temporal|conversation)_unavailable$/);
      const bare = await app.inject({ method: 'POST', url: `/api/v1/conversations/${a.bareConversationId}/handoff`, headers: bearer(a.key), payload: {} });
      expect(bare.statusCode).toBe(409);
      expect(bare.json().error.code).toBe('conversation_closed');
    } finally {
      await app.close();
      await temporal.connection.close();
    }
  });
});
