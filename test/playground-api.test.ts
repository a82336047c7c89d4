// POST /api/v1/playground/messages: the answer a customer would get, through the real worker on
// the real Temporal dev server, with its sources, tool calls, tokens and cost; nothing sent on a
// channel and no conversation stored. Budget refusal, the handoff keyword, validation, roles, and
// the 504 when no worker answers within the turn's budget.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import type { Config } from '../lib/config.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { createApiKey } from '../lib/tenants.ts';
import { HANDOFF_NOTICE } from '../workflows/conversation.ts';
import type { FakeLlmServer } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, type ConversationRig } from './support/conversations.ts';
import { seedReadyDocument } from './support/documents.ts';
import { createUser, sessionFor, withSession } from './support/team.ts';
import { connectTestTemporal } from './support/temporal.ts';

const RETURNS = 'Returns are accepted within 30 days of delivery. Refunds go back to the original payment method.';

/** A tenant's function endpoint answering an order's status. */
async function startOrderStatus() {
  const calls: unknown[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      calls.push(JSON.parse(raw));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'shipped', eta: '2 days' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/order-status`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('the playground', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let openai: FakeLlmServer;
  let fn: Awaited<ReturnType<typeof startOrderStatus>>;
  let key: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    [openai, fn] = await Promise.all([startFakeOpenAi(), startOrderStatus()]);
    rig = await createConversationRig(temporal.client, { llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY }, allowInsecureFunctionEndpoints: true } });
    const tdb = forTenant(rig.db, rig.tenantId);
    await seedReadyDocument(rig.db, rig.tenantId, { key: 'returns', title: 'Returns policy', content: RETURNS });
    await createTenantFunction(tdb, rig.config.SECRETS_KEYS, {
      name: 'order_status',
      description: 'Status of an order by its id',
      parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
      endpoint: fn.url,
      secret: 'a-signing-secret-of-some-length',
      timeoutMs: 5000,
    }, { allowHttp: true });
    key = (await createApiKey(tdb, { name: 'playground', scope: 'tenant' })).key;
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: { ...rig.config, RATE_LIMIT_API_PER_MINUTE: 100_000 }, db: rig.db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await Promise.all([openai?.close(), fn?.close()]);
    await temporal?.close();
  });
  beforeEach(() => openai.reset());

  const useLlm = (llm: Record<string, string | number>) => rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { llm } } });
  const ask = (payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${key}` }) =>
    app.inject({ method: 'POST', url: '/api/v1/playground/messages', headers, payload: payload as object });

  /** What a customer's conversation would have left behind: nothing. */
  async function expectNothingStored() {
    const tdb = forTenant(rig.db, rig.tenantId);
    expect(await tdb.conversation.count()).toBe(0);
    expect(await tdb.message.count()).toBe(0);
    expect(rig.graph.delivered).toEqual([]);
  }

  it('answers with the local provider from the tenant\'s documents, with the cited source and its score', async () => {
    await useLlm({ provider: 'local' });
    const res = await ask({ message: 'How many days do I have for returns?' });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json();
    expect(answer).toMatchObject({ outcome: 'reply', provider: 'local', model: 'local', modelCalls: 1, toolCalls: [], promptTokens: 0, costUsd: 0, handoffReason: null });
    expect(answer.text).toContain('30 days');
    expect(answer.sources).toEqual([expect.objectContaining({ title: 'Returns policy', cited: true, excerpt: RETURNS })]);
    expect(answer.sources[0].score).toBeGreaterThan(0);
    expect(answer.latencyMs).toBeGreaterThan(0);
    await expectNothingStored();
  });

  it('shows the tool calls of a paid model with their arguments and results, sends the earlier turns, and meters the spend', async () => {
    await useLlm({ provider: 'openai', model: 'gpt-4o-mini' });
    const seen: string[][] = [];
    openai.respond((call, n) => {
      seen.push(call.messages.map((m) => m.text));
      return n === 0 ? { toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-1' } }] } : { text: 'Your order A-1 is shipped.' };
    });
    const res = await ask({ message: 'Where is my order A-1?', previous: [{ role: 'user', text: 'Hi' }, { role: 'assistant', text: 'Hello! How can I help?' }] });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json();
    expect(answer).toMatchObject({ outcome: 'reply', provider: 'openai', model: 'gpt-4o-mini', modelCalls: 2, text: 'Your order A-1 is shipped.' });
    expect(seen[0]).toEqual(['Hi', 'Hello! How can I help?', 'Where is my order A-1?']);
    expect(answer.toolCalls).toEqual([{ name: 'order_status', arguments: JSON.stringify({ orderId: 'A-1' }), outcome: { kind: 'result', content: expect.stringContaining('shipped'), isError: false } }]);
    expect(fn.calls).toEqual([expect.objectContaining({ function: 'order_status', arguments: { orderId: 'A-1' } })]);
    expect(answer.promptTokens).toBeGreaterThan(0);
    expect(answer.costUsd).toBeGreaterThan(0);
    const usage = await forTenant(rig.db, rig.tenantId).usage.findFirstOrThrow({ where: { provider: 'openai', model: 'gpt-4o-mini' } });
    expect(usage.requests).toBe(2);
    expect(usage.promptTokens).toBe(answer.promptTokens);
    await expectNothingStored();
  });

  it('hands over on the handoff keyword as a conversation would, without a model call', async () => {
    await useLlm({ provider: 'openai' });
    const res = await ask({ message: 'I want to talk to a human' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'handoff', text: HANDOFF_NOTICE, handoffReason: 'keyword', modelCalls: 0 });
    expect(openai.requests).toHaveLength(0);
  });

  it('refuses with 429 budget_exhausted once the day\'s budget is spent, calling no model', async () => {
    await useLlm({ provider: 'openai', dailyBudgetUsd: 0 });
    const res = await ask({ message: 'How many days do I have for returns?' });
    expect(res.statusCode, res.body).toBe(429);
    expect(res.json().error.code).toBe('budget_exhausted');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(openai.requests).toHaveLength(0);
    expect(await forTenant(rig.db, rig.tenantId).event.count({ where: { type: 'llm.budget_exhausted' } })).toBe(1);
  });

  it('answers 400 for a message that is empty, too long, or earlier turns that are malformed', async () => {
    for (const body of [{}, { message: '   ' }, { message: 'x'.repeat(4097) }, { message: 'Hi', previous: [{ role: 'agent', text: 'Hi' }] }, { message: 'Hi', previous: [{ role: 'user', text: '' }] }, { message: 'Hi', extra: 1 }]) {
      const res = await ask(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('validation_error');
    }
  });

  it('is for owners, admins and tenant keys: agents answer 403', async () => {
    await useLlm({ provider: 'local' });
    const tdb = forTenant(rig.db, rig.tenantId);
    const agentKey = (await createApiKey(tdb, { name: 'agent', scope: 'agent', agentId: 'agent-1' })).key;
    expect((await ask({ message: 'Hi' }, { authorization: `Bearer ${agentKey}` })).statusCode).toBe(403);
    const agent = await createUser(rig.db, rig.tenantId, { email: 'agent@playground.example.com', role: 'agent' });
    expect((await ask({ message: 'Hi' }, withSession(await sessionFor(rig.db, rig.config, agent)))).statusCode).toBe(403);
    const admin = await createUser(rig.db, rig.tenantId, { email: 'admin@playground.example.com', role: 'admin' });
    const res = await ask({ message: 'How many days do I have for returns?' }, withSession(await sessionFor(rig.db, rig.config, admin)));
    expect(res.statusCode, res.body).toBe(200);
  });

  it('is limited per key to a thirtieth of the API limit', async () => {
    await useLlm({ provider: 'local' });
    // RATE_LIMIT_API_PER_MINUTE 30: one playground message a minute.
    const limited = await buildApp({ config: { ...rig.config, RATE_LIMIT_API_PER_MINUTE: 30 }, db: rig.db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    await limited.ready();
    try {
      const send = () => limited.inject({ method: 'POST', url: '/api/v1/playground/messages', headers: { authorization: `Bearer ${key}` }, payload: { message: 'How many days do I have for returns?' } });
      expect((await send()).statusCode).toBe(200);
      const refused = await send();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });

  it('answers 504 when no worker answers within the turn\'s budget, and the run does not linger', async () => {
    await useLlm({ provider: 'local', turnBudgetSeconds: 5 });
    // The same API on a queue no worker polls.
    const config: Config = { ...rig.config, TEMPORAL_TASK_QUEUE_PREFIX: `${rig.config.TEMPORAL_TASK_QUEUE_PREFIX}unserved-`, RATE_LIMIT_API_PER_MINUTE: 100_000 };
    const unserved = await buildApp({ config, db: rig.db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    await unserved.ready();
    try {
      const started = Date.now();
      const res = await unserved.inject({ method: 'POST', url: '/api/v1/playground/messages', headers: { authorization: `Bearer ${key}` }, payload: { message: 'Hi' } });
      expect(res.statusCode, res.body).toBe(504);
      expect(res.json().error.code).toBe('playground_timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
      const runs = temporal.client.workflow.list({ query: `WorkflowType = 'playground' AND TenantId = '${rig.tenantId}' AND ExecutionStatus = 'Running'` });
      for await (const run of runs) throw new Error(`still running: ${run.workflowId}`);
    } finally {
      await unserved.close();
    }
  });
});
