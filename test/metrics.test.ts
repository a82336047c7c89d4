// Metrics as Prometheus reads them: signed WhatsApp webhooks over HTTP into a listening API, the
// conversation workflow on a real worker with a model on the fake OpenAI server and the fake
// Graph API, then both processes' /metrics scraped over HTTP: the API's request series, the
// worker's business series (inbound, replies, latency, model calls and tokens, retrieval,
// handoffs, unanswered, Graph errors, open conversations), the process metrics and the Temporal
// SDK's own temporal_* series, behind the admin key.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createLogger } from '../lib/logger.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey } from '../lib/tenants.ts';
import { serveWorkerMetrics, type MetricsServer } from '../workers/metrics-server.ts';
import { groundedReply } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { seedReadyDocument } from './support/documents.ts';
import { createConversationRig, eventually, WA_APP_SECRET, type ConversationRig } from './support/conversations.ts';
import { whatsappTextBody } from './support/meta-webhooks.ts';
import { hasSeries, parsePrometheusText, valueOf, type Sample } from './support/prometheus-text.ts';
import { connectTestTemporal, sdkMetricsUrl } from './support/temporal.ts';

const RETURNS = 'Returns are accepted within 30 days of delivery. Refunds go back to the original payment method.';
const DONT_KNOW = 'I do not know that. Reply "human" and a person will help.';
const user = () => `1555${Math.floor(Math.random() * 1e7)}`;

describe('metrics', () => {
  const logger = createLogger({ level: 'silent', name: 'test' });
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let openai: FakeOpenAi;
  let rig: ConversationRig;
  let app: App;
  let apiUrl: string;
  let worker: MetricsServer;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    // The model answers from the passages, says it does not know about warranties, and asks for a
    // person about a special refund.
    openai.respond((call) => {
      const question = call.messages.at(-1)?.text ?? '';
      if (question.includes('warranty')) return { text: DONT_KNOW };
      if (question.includes('special refund') && call.toolResults.length === 0) return { toolCalls: [{ name: 'request_human', arguments: { reason: 'refund exception' } }] };
      return groundedReply(call);
    });
    rig = await createConversationRig(temporal.client, {
      settings: { conversation: { quietWindowMs: 300 }, llm: { provider: 'openai', model: 'gpt-4o-mini' } },
      llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY } },
    });
    await seedReadyDocument(rig.db, rig.tenantId, { key: 'returns', title: 'Returns policy', content: RETURNS });

    // The worker process's wiring (workers/main.ts): one WorkerMetrics for the activities and /metrics.
    const metrics = new WorkerMetrics({ tenantLabels: rig.config.METRICS_TENANT_LABELS });
    await rig.startWorkers(temporal.nativeConnection, { metrics });
    worker = await serveWorkerMetrics({ ...rig.config, WORKER_METRICS_HOST: '127.0.0.1', WORKER_METRICS_PORT: 0 }, {
      db: rig.db, logger, metrics, sdkMetricsUrl: sdkMetricsUrl(),
      databaseGaugesMaxAgeMs: 0, // each scrape reads Postgres (the 15 s cache: lib/metrics/database-gauges.test.ts)
    });
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await worker?.close();
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });

  const admin = () => ({ authorization: `Bearer ${rig.config.ADMIN_API_KEY}` });
  const scrape = async (url: string): Promise<Sample[]> => {
    const res = await fetch(url, { headers: admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return parsePrometheusText(await res.text());
  };
  /** A signed WhatsApp delivery of one text message, as Meta posts it. */
  const webhook = async (from: string, text: string) => {
    const body = whatsappTextBody({ phoneNumberId: rig.phoneNumberId, from, id: `wamid.${randomBytes(8).toString('hex')}`, text });
    const res = await fetch(`${apiUrl}/webhooks/whatsapp`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, WA_APP_SECRET) },
    });
    expect(res.status).toBe(200);
    return body;
  };
  const replyTo = (to: string) => eventually(() => rig.graph.delivered.find((d) => d.to === to), 30_000, `a reply to ${to}`);
  /** Scrapes the worker until `done` holds (counts land right after the send is recorded). */
  const workerUntil = (done: (samples: Sample[]) => boolean, what: string) =>
    eventually(async () => {
      const samples = await scrape(worker.url);
      return done(samples) && samples;
    }, 15_000, what);

  it('moves the business series of the API and the worker for a conversation through the webhook, and carries the SDK and process series', async () => {
    const tenant = rig.tenantId;
    const from = user();
    const body = await webhook(from, 'How many days do I have for returns?');
    // Meta redelivers: stored and counted once.
    await fetch(`${apiUrl}/webhooks/whatsapp`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, WA_APP_SECRET) } });
    expect((await replyTo(from)).text).toContain('Returns are accepted within 30 days of delivery.');

    const w = await workerUntil((s) => valueOf(s, 'metachat_replies_total', { tenant, outcome: 'sent' }) >= 1, 'the reply counted');
    expect(valueOf(w, 'metachat_inbound_messages_total', { tenant, channel: 'whatsapp' })).toBe(1);
    expect(valueOf(w, 'metachat_replies_total', { tenant, channel: 'whatsapp', sender: 'assistant', outcome: 'sent' })).toBe(1);
    expect(valueOf(w, 'metachat_reply_latency_seconds_count', { channel: 'whatsapp' })).toBe(1);
    const latency = valueOf(w, 'metachat_reply_latency_seconds_sum', { channel: 'whatsapp' });
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(30);
    expect(valueOf(w, 'metachat_llm_calls_total', { provider: 'openai', model: 'gpt-4o-mini', outcome: 'ok' })).toBe(1);
    expect(valueOf(w, 'metachat_llm_call_duration_seconds_count', { provider: 'openai', model: 'gpt-4o-mini' })).toBe(1);
    expect(valueOf(w, 'metachat_llm_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', kind: 'input' })).toBeGreaterThan(0);
    expect(valueOf(w, 'metachat_llm_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', kind: 'output' })).toBeGreaterThan(0);
    expect(valueOf(w, 'metachat_llm_cost_usd_total', { tenant, provider: 'openai', model: 'gpt-4o-mini' })).toBeGreaterThan(0);
    expect(valueOf(w, 'metachat_llm_breaker_state', { provider: 'openai' })).toBe(0);
    expect(valueOf(w, 'metachat_retrieval_duration_seconds_count')).toBe(1);
    expect(valueOf(w, 'metachat_retrieval_passages_sum')).toBe(1); // the one chunk of the returns policy
    expect(valueOf(w, 'metachat_active_conversations', { channel: 'whatsapp', status: 'active' })).toBe(1);
    expect(valueOf(w, 'metachat_unanswered_replies_total')).toBe(0);
    // The process's own, and the Temporal SDK's under its default names.
    for (const name of ['metachat_process_cpu_user_seconds_total', 'metachat_process_resident_memory_bytes', 'metachat_nodejs_eventloop_lag_p99_seconds']) expect(hasSeries(w, name), name).toBe(true);
    expect(valueOf(w, 'temporal_worker_task_slots_available', { worker_type: 'ActivityWorker' })).toBeGreaterThan(0);
    expect(valueOf(w, 'temporal_workflow_task_schedule_to_start_latency_count')).toBeGreaterThan(0);
    expect(hasSeries(w, 'temporal_sticky_cache_size')).toBe(true);
    expect(w.filter((s) => s.name.startsWith('temporal_')).every((s) => s.labels.namespace === undefined || s.labels.namespace === 'default')).toBe(true);

    const api = await scrape(`${apiUrl}/metrics`);
    expect(valueOf(api, 'metachat_http_request_duration_seconds_count', { method: 'POST', route: '/webhooks/whatsapp', status_code: '200' })).toBe(2);
    expect(hasSeries(api, 'metachat_process_cpu_user_seconds_total')).toBe(true);
  });

  it('counts the customer asking for a person, an "I don\'t know" reply, and a reply Meta refuses for good with its Graph error class', async () => {
    const tenant = rig.tenantId;
    const asking = user();
    await webhook(asking, 'human');
    await replyTo(asking); // the handoff notice

    const unsure = user();
    await webhook(unsure, 'Is there a warranty on the frame?');
    expect((await replyTo(unsure)).text).toBe(DONT_KNOW);

    const unreachable = user();
    rig.graph.failFor((req) => req.kind === 'whatsapp.message' && (req.body as { to?: string }).to === unreachable, { code: 131026 }); // undeliverable
    await webhook(unreachable, 'How many days do I have for returns?');

    const w = await workerUntil(
      (s) => valueOf(s, 'metachat_replies_total', { tenant, outcome: 'failed' }) >= 1 && valueOf(s, 'metachat_unanswered_replies_total', { tenant }) >= 1,
      'the failed and the unanswered reply counted',
    );
    expect(valueOf(w, 'metachat_handoffs_total', { tenant, channel: 'whatsapp', trigger: 'customer' })).toBe(1);
    expect(valueOf(w, 'metachat_unanswered_replies_total', { tenant, channel: 'whatsapp' })).toBe(1);
    expect(valueOf(w, 'metachat_replies_total', { tenant, channel: 'whatsapp', sender: 'assistant', outcome: 'failed' })).toBe(1);
    expect(valueOf(w, 'metachat_graph_api_errors_total', { channel: 'whatsapp', class: 'permanent' })).toBe(1);
    expect(valueOf(w, 'metachat_active_conversations', { channel: 'whatsapp', status: 'handoff_requested' })).toBe(1);
  });

  it("counts handoffs by trigger: the assistant's request_human, an agent taking a conversation over, and the tenant's request through the API (the API counts those)", async () => {
    const tenant = rig.tenantId;
    const tdb = forTenant(rig.db, tenant);
    const { key } = await createApiKey(tdb, { name: 'metrics test', scope: 'tenant' });
    const api = (path: string, body: unknown) =>
      fetch(`${apiUrl}/api/v1/conversations/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
    const conversationOf = async (externalUserId: string) => (await tdb.conversation.findFirstOrThrow({ where: { externalUserId } })).id;
    const before = await scrape(worker.url);
    const handoffs = (samples: Sample[], trigger: string) => valueOf(samples, 'metachat_handoffs_total', { tenant, channel: 'whatsapp', trigger });

    const refund = user();
    await webhook(refund, 'I need to talk about a special refund');
    await replyTo(refund); // the handoff notice

    const taken = user();
    await webhook(taken, 'How many days do I have for returns?');
    await replyTo(taken);
    expect((await api(`${await conversationOf(taken)}/take`, { agentId: 'ann' })).status).toBe(200);

    const requested = user();
    await webhook(requested, 'How many days do I have for returns?');
    await replyTo(requested);
    expect((await api(`${await conversationOf(requested)}/handoff`, { reason: 'VIP customer' })).status).toBe(202);

    const w = await workerUntil((s) => handoffs(s, 'agent') > handoffs(before, 'agent') && handoffs(s, 'assistant') > handoffs(before, 'assistant'), 'the handoffs counted');
    expect(handoffs(w, 'assistant') - handoffs(before, 'assistant')).toBe(1);
    expect(handoffs(w, 'agent') - handoffs(before, 'agent')).toBe(1);
    expect(handoffs(w, 'customer')).toBe(handoffs(before, 'customer')); // neither the API's request nor the take-over
    expect(handoffs(await scrape(`${apiUrl}/metrics`), 'agent')).toBe(1);
  });

  it('serves the worker\'s metrics to the admin key only (METRICS_ACCESS=admin), and nothing else on that port', async () => {
    expect((await fetch(worker.url)).status).toBe(401);
    const wrong = await fetch(worker.url, { headers: { authorization: `Bearer ${'x'.repeat(40)}` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: 'unauthorized', message: 'Missing or invalid API key' } });
    expect((await fetch(worker.url, { headers: admin() })).status).toBe(200);
    expect((await fetch(worker.url.replace('/metrics', '/'), { headers: admin() })).status).toBe(404);
    expect((await fetch(worker.url, { method: 'POST', headers: admin() })).status).toBe(405);
    expect((await fetch(`${apiUrl}/metrics`)).status).toBe(401);
  });
});
