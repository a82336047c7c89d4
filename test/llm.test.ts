// Assistant replies from real providers' SDKs pointed at local fakes of OpenAI and Anthropic (their
// wire formats, error bodies and retry-after headers), through the real worker and conversation
// workflow: grounded answers with citations, Temporal-owned retries, fallback, the circuit
// breaker, usage and the daily budget, and tool calls (tenant functions and built-ins).
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { usageDay } from '../activities/llm/usage.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { setTenantPlan } from '../lib/billing-accounts.ts';
import { recordMeterEvent } from '../lib/metering.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { setLlmCredential } from '../lib/llm-credentials.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { DEFAULT_TENANT_SETTINGS, type TenantSettingsInput } from '../lib/tenant-settings.ts';
import { HANDOFF_NOTICE, stateQuery } from '../workflows/conversation.ts';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic } from './fakes/anthropic.ts';
import type { FakeLlmServer, LlmCall } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from './fakes/openai.ts';
import { seedReadyDocument } from './support/documents.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { parsePrometheusText, valueOf } from './support/prometheus-text.ts';
import { connectTestTemporal } from './support/temporal.ts';

const RETURNS = 'Returns are accepted within 30 days of delivery. Refunds go back to the original payment method.';
const FUNCTION_SECRET = 'fn-secret-0123456789abcdef';
/**
 * Longer than the retry backoff between the 3rd and 4th attempt (4 s), so the 4th finds it open,
 * and than the fallback's answer to the first question plus the second question on a loaded machine.
 */
const BREAKER_OPEN_MS = 15_000;
const user = () => `1555${Math.floor(Math.random() * 1e7)}`;

/** A tenant's function endpoint: records calls, answers an order status. */
async function startFunctionServer() {
  const calls: { headers: IncomingHttpHeaders; raw: string; body: { function: string; callId: string; arguments: Record<string, unknown> } }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      calls.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ orderId: calls.at(-1)!.body.arguments.orderId, status: 'shipped', eta: '2 days' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/order-status`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('LLM providers', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let openai: FakeLlmServer;
  let anthropic: FakeLlmServer;
  let fn: Awaited<ReturnType<typeof startFunctionServer>>;
  /** What the worker counts (lib/metrics/worker-metrics.ts). */
  const metrics = new WorkerMetrics();
  const counted = async (name: string, labels: Record<string, string> = {}) => valueOf(parsePrometheusText(await metrics.registry.metrics()), name, labels);

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    [openai, anthropic, fn] = await Promise.all([startFakeOpenAi(), startFakeAnthropic(), startFunctionServer()]);
    rig = await createConversationRig(temporal.client, {
      llm: {
        openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY },
        anthropic: { baseURL: anthropic.url, apiKey: FAKE_ANTHROPIC_KEY },
        breaker: { threshold: 3, openMs: BREAKER_OPEN_MS },
        allowInsecureFunctionEndpoints: true,
      },
    });
    // One ready document with one chunk, as ingestion leaves it.
    const tdb = forTenant(rig.db, rig.tenantId);
    await seedReadyDocument(rig.db, rig.tenantId, { key: 'returns', title: 'Returns policy', content: RETURNS });
    await createTenantFunction(tdb, rig.config.SECRETS_KEYS, {
      name: 'order_status',
      description: 'Status of an order by its id',
      parameters: { type: 'object', properties: { orderId: { type: 'string', minLength: 1 } }, required: ['orderId'], additionalProperties: false },
      endpoint: fn.url,
      secret: FUNCTION_SECRET,
      timeoutMs: 5000,
    }, { allowHttp: true });
    await rig.startWorkers(temporal.nativeConnection, { metrics });
  });
  afterAll(async () => {
    await rig?.close();
    await Promise.all([openai?.close(), anthropic?.close(), fn?.close()]);
    await temporal?.close();
  });
  beforeEach(() => {
    openai.reset();
    anthropic.reset();
    fn.calls.length = 0;
    rig.graph.reset();
  });

  const useLlm = (llm: NonNullable<TenantSettingsInput['llm']>) =>
    rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm } } });
  const ask = async (question: string, timeoutMs = 30_000) => {
    const u = user();
    await rig.deliver('whatsapp', u, [text(question)]);
    const [reply] = await eventually(() => rig.graph.delivered.filter((d) => d.to === u).length >= 1 && rig.graph.delivered.filter((d) => d.to === u), timeoutMs, 'a reply');
    return { user: u, text: reply!.text };
  };
  const lastCall = (s: FakeLlmServer) => s.requests.at(-1)!.body as { messages: { role: string; content: unknown }[]; tools?: unknown[] };

  it('a tenant on OpenAI gets a grounded, cited answer, and the usage is metered', async () => {
    await useLlm({ provider: 'openai', model: 'gpt-4o-mini', systemPrompt: { brand: 'Acme Bikes', tone: 'friendly and brief' } });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toBe('Returns are accepted within 30 days of delivery. [1]\n\nSources:\n[1] Returns policy');
    expect(openai.requests).toHaveLength(1);
    const req = openai.requests[0]!;
    expect(req.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_KEY}`);
    const body = req.body as { model: string; messages: { role: string; content: string }[]; tools: { function: { name: string } }[] };
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.messages[0]!.role).toBe('system');
    expect(body.messages[0]!.content).toContain('Acme Bikes');
    expect(body.messages[0]!.content).toContain('friendly and brief');
    expect(body.messages[0]!.content).toContain(`[1] (Returns policy)\n${RETURNS}`);
    expect(body.messages.at(-1)).toEqual({ role: 'user', content: 'How many days do I have for returns?' });
    expect(body.tools.map((t) => t.function.name).sort()).toEqual(['offer_choices', 'order_status', 'request_human', 'search_knowledge']);

    const usage = await eventually(() => forTenant(rig.db, rig.tenantId).usage.findFirst({ where: { provider: 'openai', model: 'gpt-4o-mini' } }).then((u) => u ?? undefined), 5000, 'usage');
    expect(usage.requests).toBeGreaterThanOrEqual(1);
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect(Number(usage.costUsd)).toBeGreaterThan(0);
  });

  it('honours a 429 retry-after (Temporal waits, the SDK does not retry)', async () => {
    await useLlm({ provider: 'openai' });
    openai.failNext(1, { status: 429, retryAfterSeconds: 2 });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toContain('[1] Returns policy');
    expect(openai.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(openai.requests[1]!.at - openai.requests[0]!.at).toBeGreaterThanOrEqual(1900);
  });

  it("does not wait for a retry-after past the turn's budget: the fallback answers at once", async () => {
    await useLlm({ provider: 'openai', fallbackProvider: 'anthropic', turnBudgetSeconds: 20 });
    openai.failNext(1, { status: 429, retryAfterSeconds: 120 });
    anthropic.respond(() => ({ text: 'Anthropic answering.' }));
    const started = Date.now();
    expect((await ask('How many days do I have for returns?')).text).toBe('Anthropic answering.');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(openai.requests.map((r) => r.status)).toEqual([429]);
  });

  it('retries a 500 and answers', async () => {
    await useLlm({ provider: 'anthropic' });
    anthropic.failNext(1, { status: 500 });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toContain('Returns are accepted within 30 days');
    expect(anthropic.requests.map((r) => r.status)).toEqual([500, 200]);
    expect(anthropic.requests[1]!.headers.authorization ?? `Bearer ${String(anthropic.requests[1]!.headers['x-api-key'])}`).toBe(`Bearer ${FAKE_ANTHROPIC_KEY}`);
  });

  it('a 401 is not retried: the fallback provider answers', async () => {
    await useLlm({ provider: 'openai', fallbackProvider: 'anthropic' });
    openai.failNext(1, { status: 401 });
    anthropic.respond(() => ({ text: 'Anthropic answering.' }));
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toBe('Anthropic answering.');
    expect(openai.requests.map((r) => r.status)).toEqual([401]);
    expect(anthropic.requests.map((r) => r.status)).toEqual([200]);
  });

  it('trims the history and retries once on a context-length error', async () => {
    await useLlm({ provider: 'openai' });
    openai.failNext(1, { status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 128000 tokens." });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toContain('30 days');
    expect(openai.requests.map((r) => r.status)).toEqual([400, 200]);
  });

  it('when every provider fails the user gets a polite message, not silence', async () => {
    await useLlm({ provider: 'openai', fallbackProvider: 'anthropic' });
    openai.failAll({ status: 400 });
    anthropic.failAll({ status: 403 });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toBe(DEFAULT_TENANT_SETTINGS.llm.unavailableMessage);
  });

  it("stops calling models once the day's budget is spent, with the tenant's message and an event", async () => {
    await useLlm({ provider: 'openai', dailyBudgetUsd: 0.01, budgetExhaustedMessage: 'Our assistant is resting until tomorrow.' });
    const tdb = forTenant(rig.db, rig.tenantId);
    await tdb.usage.upsert({
      where: { tenantId_day_provider_model: { tenantId: rig.tenantId, day: usageDay(), provider: 'anthropic', model: 'claude-opus-4' } },
      create: { tenantId: rig.tenantId, day: usageDay(), provider: 'anthropic', model: 'claude-opus-4', requests: 1, costUsd: 0.5 },
      update: { costUsd: { increment: 0.5 } },
    });
    const exhaustedBefore = await counted('metachat_llm_budget_exhausted_total', { tenant: rig.tenantId });
    const reply = await ask('How many days do I have for returns?');
    expect(reply.text).toBe('Our assistant is resting until tomorrow.');
    expect(openai.requests).toHaveLength(0);
    expect(await tdb.event.count({ where: { type: 'llm.budget_exhausted' } })).toBe(1);
    await ask('And exchanges?');
    expect(await tdb.event.count({ where: { type: 'llm.budget_exhausted' } })).toBe(1); // once a day
    expect(await counted('metachat_llm_budget_exhausted_total', { tenant: rig.tenantId })).toBe(exhaustedBefore + 2); // every turn refused
  });

  it("stops calling models once the plan's monthly model spend is used up, with the tenant's budget message", async () => {
    await useLlm({ provider: 'openai', budgetExhaustedMessage: 'Our assistant is resting until next month.' });
    await rig.db.plan.upsert({ where: { id: 'spend-cap' }, create: { id: 'spend-cap', name: 'Spend cap', monthlyModelSpendUsd: 0.5 }, update: {} });
    await setTenantPlan(rig.db, rig.tenantId, 'spend-cap', { kind: 'operator', name: 'test' });
    try {
      await recordMeterEvent(rig.db, { tenantId: rig.tenantId, key: 'call:spent-elsewhere', meter: 'model_tokens', provider: 'anthropic', model: 'claude-opus-4', quantity: 10_000, costUsd: 0.5 });
      const reply = await ask('How many days do I have for returns?');
      expect(reply.text).toBe('Our assistant is resting until next month.');
      expect(openai.requests).toHaveLength(0);
    } finally {
      await setTenantPlan(rig.db, rig.tenantId, 'default', { kind: 'operator', name: 'test' });
    }
  });

  it("holds a tenant that set no budget to the platform's DEFAULT_DAILY_BUDGET_USD; its own budget replaces it", async () => {
    const tdb = forTenant(rig.db, rig.tenantId);
    const where = { tenantId_day_provider_model: { tenantId: rig.tenantId, day: usageDay(), provider: 'anthropic', model: 'claude-opus-4' } };
    const spend = rig.config.DEFAULT_DAILY_BUDGET_USD + 1;
    await tdb.usage.upsert({ where, create: { tenantId: rig.tenantId, day: usageDay(), provider: 'anthropic', model: 'claude-opus-4', requests: 1, costUsd: spend }, update: { costUsd: { increment: spend } } });
    try {
      await useLlm({ provider: 'openai' });
      expect((await ask('How many days do I have for returns?')).text).toBe(DEFAULT_TENANT_SETTINGS.llm.budgetExhaustedMessage);
      expect(openai.requests).toHaveLength(0);

      await useLlm({ provider: 'openai', dailyBudgetUsd: 1000 });
      expect((await ask('How many days do I have for returns?')).text).toContain('30 days');
      expect(openai.requests).toHaveLength(1);
    } finally {
      await tdb.usage.update({ where, data: { costUsd: { decrement: spend } } });
    }
  });

  it('consecutive failures trip the breaker: new turns go straight to the fallback, and it recovers', async () => {
    await useLlm({ provider: 'openai', fallbackProvider: 'anthropic' });
    openai.failAll({ status: 503 });
    openai.respond(() => ({ text: 'OpenAI answering.' }));
    anthropic.respond(() => ({ text: 'Anthropic answering.' }));
    const openaiCalls = (outcome: string) => counted('metachat_llm_calls_total', { provider: 'openai', outcome });
    const before = { error: await openaiCalls('error'), breakerOpen: await openaiCalls('breaker_open') };
    // Three failed attempts open the breaker; the next attempt fails at once and the fallback answers.
    expect((await ask('first', 40_000)).text).toBe('Anthropic answering.');
    expect(openai.requests).toHaveLength(3);
    // Open: the next conversation does not touch OpenAI at all.
    expect((await ask('second')).text).toBe('Anthropic answering.');
    expect(openai.requests).toHaveLength(3);
    expect(await counted('metachat_llm_breaker_state', { provider: 'openai' })).toBe(2);
    expect(await openaiCalls('error')).toBe(before.error + 3);
    expect(await openaiCalls('breaker_open')).toBe(before.breakerOpen + 2);
    expect(await counted('metachat_llm_calls_total', { provider: 'anthropic', outcome: 'fallback' })).toBeGreaterThanOrEqual(2);
    // Recovered provider, breaker's time up: one trial call goes through and closes it.
    openai.recover();
    await new Promise((r) => setTimeout(r, Math.max(0, openai.requests[2]!.at + BREAKER_OPEN_MS + 200 - Date.now())));
    expect((await ask('third')).text).toBe('OpenAI answering.');
    expect((await ask('fourth')).text).toBe('OpenAI answering.');
    expect(await counted('metachat_llm_breaker_state', { provider: 'openai' })).toBe(0);
  });

  it('keeps the last turns verbatim and folds older ones into a rolling summary', async () => {
    await useLlm({ provider: 'openai', historyTurns: 2 });
    const calls: LlmCall[] = [];
    openai.respond((call) => {
      calls.push(call);
      if (call.system.startsWith('You maintain the running summary')) return { text: 'Customer Ana asked about order A-7.' };
      return { text: `answer ${calls.length}` };
    });
    const u = user();
    const questions = ["Hi, I'm Ana", 'My order is A-7', 'Where is it?', 'And when will it arrive?'];
    for (const [i, q] of questions.entries()) {
      await rig.deliver('whatsapp', u, [text(q)]);
      await eventually(() => rig.graph.delivered.filter((d) => d.to === u).length === i + 1, 20_000, `reply ${i + 1}`);
    }
    const summaryCall = calls.find((c) => c.system.startsWith('You maintain the running summary'))!;
    expect(summaryCall.messages[0]!.text).toContain("Customer: Hi, I'm Ana");
    expect(summaryCall.messages[0]!.text).toContain('Customer: Where is it?');
    const last = calls.at(-1)!;
    expect(last.system).toContain('Summary of the earlier conversation:\nCustomer Ana asked about order A-7.');
    expect(last.messages.map((m) => m.text)).toEqual([expect.stringMatching(/^answer /), 'And when will it arrive?']);
  });

  describe('tool calls', () => {
    const toolResults = (call: LlmCall) => call.toolResults.map((r) => r.content);

    it('runs a two-tool loop: a signed tenant function, then knowledge search, then the answer', async () => {
      await useLlm({ provider: 'openai' });
      const seen: LlmCall[] = [];
      openai.respond((call, n) => {
        seen.push(call);
        if (n === 0) return { toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-1' } }] };
        if (n === 1) return { toolCalls: [{ name: 'search_knowledge', arguments: { query: 'returns days' } }] };
        const cite = /\[(\d+)\] \(Returns policy\)/.exec(call.toolResults[1]?.content ?? '')?.[1];
        return { text: `Your order is shipped. You can return it within 30 days [${cite}].` };
      });
      const reply = await ask('Where is my order A-1, and can I return it?');
      const n = /within 30 days \[(\d)\]/.exec(reply.text)?.[1];
      expect(reply.text).toBe(`Your order is shipped. You can return it within 30 days [${n}].\n\nSources:\n[${n}] Returns policy`);

      expect(fn.calls).toHaveLength(1);
      const call = fn.calls[0]!;
      expect(call.body).toMatchObject({ function: 'order_status', arguments: { orderId: 'A-1' } });
      const ts = call.headers['x-metachat-timestamp'] as string;
      expect(call.headers['x-metachat-signature']).toBe(`sha256=${createHmac('sha256', FUNCTION_SECRET).update(`${ts}.${call.raw}`).digest('hex')}`);

      expect(seen).toHaveLength(3);
      expect(JSON.parse(toolResults(seen[1]!)[0]!)).toMatchObject({ status: 'shipped' });
      expect(toolResults(seen[2]!)[1]).toContain(`[${n}] (Returns policy)\n${RETURNS}`);
    });

    it('stops at the iteration cap with a graceful message', async () => {
      await useLlm({ provider: 'openai', maxToolIterations: 2 });
      openai.respond(() => ({ toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-2' } }] }));
      const reply = await ask('Where is my order A-2?');
      expect(reply.text).toContain("Sorry, I couldn't finish looking that up");
      expect(openai.answered).toBe(2);
      expect(fn.calls).toHaveLength(2);
    });

    it('answers invalid tool arguments with an error result, without calling the function', async () => {
      await useLlm({ provider: 'anthropic' });
      const seen: LlmCall[] = [];
      anthropic.respond((call, n) => {
        seen.push(call);
        if (n === 0) return { toolCalls: [{ name: 'order_status', arguments: { orderId: 42 } }] };
        return { text: 'Could you give me the order number again?' };
      });
      const reply = await ask('Where is my order?');
      expect(reply.text).toBe('Could you give me the order number again?');
      expect(fn.calls).toHaveLength(0);
      expect(seen[1]!.toolResults[0]!.isError).toBe(true);
      expect(seen[1]!.toolResults[0]!.content).toMatch(/^invalid arguments, not called/);
    });

    it('request_human hands the conversation to a person', async () => {
      await useLlm({ provider: 'openai' });
      openai.respond(() => ({ toolCalls: [{ name: 'request_human', arguments: { reason: 'wants a refund exception' } }] }));
      const reply = await ask('I need to talk about a special refund');
      expect(reply.text).toBe(HANDOFF_NOTICE);
      const handle = temporal.client.workflow.getHandle(rig.workflowId('whatsapp', reply.user));
      expect((await handle.query(stateQuery)).handoff).toBe('requested');
    });

    it('offer_choices is the reply: its text with reply buttons (OpenAI) or a list (Anthropic), titles fitted', async () => {
      await useLlm({ provider: 'openai' });
      openai.respond(() => ({ toolCalls: [{ name: 'offer_choices', arguments: { text: 'Which size?', choices: [{ id: 's', title: 'Small' }, { id: 'm', title: 'Medium' }] } }] }));
      const sized = await ask('I want the blue bike');
      expect(sized.text).toBe('Which size?');
      expect(rig.graph.delivered.find((d) => d.to === sized.user)!.choices).toEqual(['Small', 'Medium']);
      expect(openai.answered).toBe(1); // no second model call: the offer is the answer

      await useLlm({ provider: 'anthropic' });
      const stores = ['Lisbon', 'Porto', 'Faro', 'Coimbra and the whole Centro region'];
      anthropic.respond(() => ({ toolCalls: [{ name: 'offer_choices', arguments: { text: 'Which store?', choices: stores } }] }));
      const picked = await ask('Where can I pick it up?');
      const request = rig.graph.requests.find((r) => (r.body as { to?: string }).to === picked.user && (r.body as { type?: string }).type === 'interactive')!;
      expect(request.body).toMatchObject({ interactive: { type: 'list', body: { text: 'Which store?' } } });
      expect(rig.graph.delivered.find((d) => d.to === picked.user)!.choices).toEqual(['Lisbon', 'Porto', 'Faro', 'Coimbra and the whole C…']);
    });

    it('the handoff button rides on a reply that offers a person (llm.handoffButton)', async () => {
      await useLlm({ provider: 'local', handoffButton: true });
      const reply = await ask('Can you repair a carbon frame?');
      expect(reply.text).toContain("I don't know");
      expect(rig.graph.delivered.find((d) => d.to === reply.user)!.choices).toEqual(['human']);
    });
  });

  it("uses the tenant's own key and base URL instead of the platform's", async () => {
    const own = await startFakeOpenAi({ apiKey: 'sk-tenant-own-key' });
    try {
      await setLlmCredential(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, rig.tenantId, 'openai', { apiKey: 'sk-tenant-own-key', baseUrl: own.url }, { allowHttp: true });
      await useLlm({ provider: 'openai' });
      own.respond(() => ({ text: 'From the tenant endpoint.' }));
      expect((await ask('How many days do I have for returns?')).text).toBe('From the tenant endpoint.');
      expect(own.requests[0]!.headers.authorization).toBe('Bearer sk-tenant-own-key');
      expect(openai.requests).toHaveLength(0);
    } finally {
      await own.close();
    }
  });
});
