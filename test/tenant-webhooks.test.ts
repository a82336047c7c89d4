// Tenant webhooks end to end: a local HTTP receiver stands in for the tenant's system; events come
// from the real conversation and ingestion workflows on a real worker and Temporal server, are
// written to Postgres with their state change, and are delivered signed by the delivery workflow,
// with retries, backoff and the endpoint's failure count as they really run (small limits).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegrityActivities } from '../activities/integrity.ts';
import { llmEndpoints } from '../activities/llm/index.ts';
import { findOrCreateConversation, storeInboundRows } from '../activities/inbound-rows.ts';
import { createStoreActivities, newConversationId } from '../activities/store.ts';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Config } from '../lib/config.ts';
import { decryptSecret } from '../lib/crypto.ts';
import { REDACTED_PATHS } from '../lib/logger.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { createDocumentStorage } from '../lib/storage.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { TENANT_EVENT_TYPES, type TenantEventEnvelope, type TenantEventSink } from '../lib/tenant-events.ts';
import { createWebhookEndpoint, rotateWebhookEndpointSecrets, verifyWebhookSignature, webhookOptionsFrom, webhookSecret, type WebhookOptions } from '../lib/tenant-webhooks.ts';
import { createApiKey, createTenant } from '../lib/tenants.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { ensureSchedules, TENANT_EVENT_SWEEP_SCHEDULE_ID } from '../temporal-config/schedules.ts';
import { createTestWorkers } from './support/workers.ts';
import { tenantEventSweep, webhookDeliveryWorkflowId } from '../workflows/webhook-delivery.ts';
import { bearer } from './support/api.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { parsePrometheusText, valueOf } from './support/prometheus-text.ts';
import { connectTestTemporal } from './support/temporal.ts';

const WA_APP_SECRET = 'wa-app-secret';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: TenantEventEnvelope;
}

type Answer = { status: number; headers?: Record<string, string> };

/** The tenant's system: records every request; answers each path from a script, then 200. */
async function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, Answer[]>();
  const always = new Map<string, Answer>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, raw, body: JSON.parse(raw) as TenantEventEnvelope });
      const answer = scripts.get(path)?.shift() ?? always.get(path) ?? { status: 200 };
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.status < 300 ? 'ok' : 'receiver says no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    at: (path: string) => received.filter((r) => r.path === path),
    script: (path: string, ...answers: Answer[]) => void scripts.set(path, answers),
    always: (path: string, answer: Answer | undefined) => void (answer ? always.set(path, answer) : always.delete(path)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('tenant webhooks', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let app: App;
  let config: Config;
  let webhooks: WebhookOptions;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  /** What the workers count (lib/metrics/worker-metrics.ts). */
  const metrics = new WorkerMetrics();
  const counted = async (name: string, labels: Record<string, string> = {}) => valueOf(parsePrometheusText(await metrics.registry.metrics()), name, labels);
  const logs: string[] = [];
  let key: string;
  let agentKey: string;
  /** A second tenant whose endpoints hear only the pings sent to them. */
  let quiet: { tenantId: string; key: string };
  let all: { id: string; secret: string };
  let handoffOnly: { id: string; secret: string };

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, k = key) =>
    app.inject({ method, url, headers: bearer(k), ...(payload === undefined ? {} : { payload: payload as object }) });

  const userSays = async (from: string, body: string) => {
    const payload = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{
        id: '555000111',
        changes: [{
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550001111', phone_number_id: rig.phoneNumberId },
            contacts: [{ profile: { name: 'Pat' }, wa_id: from }],
            messages: [{ from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
          },
        }],
      }],
    });
    const res = await app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, WA_APP_SECRET) } });
    expect(res.statusCode).toBe(200);
  };

  /** Events delivered to `path` whose data names the conversation (or document). */
  const about = (path: string, id: string) => receiver.at(path).filter((r) => Object.values(r.body.data as Record<string, unknown>).includes(id));

  const endpointRow = (id: string) => rig.db.webhookEndpoint.findUniqueOrThrow({ where: { id } });

  async function quietEndpoint(path: string) {
    const { endpoint, secret } = await createWebhookEndpoint(forTenant(rig.db, quiet.tenantId), config.SECRETS_KEYS, { url: receiver.url(path), events: ['document.indexed'] }, { allowHttp: true });
    return { id: endpoint.id, secret };
  }

  async function ping(endpointId: string, k = quiet.key) {
    const res = await call('POST', `/api/v1/webhook-endpoints/${endpointId}/test`, undefined, k);
    expect(res.statusCode, res.body).toBe(202);
    return res.json() as { eventId: string; deliveryId: string };
  }

  const settled = (deliveryId: string) =>
    eventually(async () => {
      const d = await rig.db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
      return d.status !== 'pending' && d;
    }, 30_000, `delivery ${deliveryId} settled`);

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    receiver = await startReceiver();
    rig = await createConversationRig(temporal.client);
    config = {
      ...rig.config,
      WEBHOOK_TIMEOUT_MS: 3_000,
      WEBHOOK_RETRY_INITIAL_MS: 100,
      WEBHOOK_RETRY_MAX_INTERVAL_MS: 400,
      WEBHOOK_RETRY_MAX_ATTEMPTS: 4,
      WEBHOOK_DISABLE_AFTER_FAILURES: 2,
    };
    webhooks = { ...webhookOptionsFrom(config), allowInsecureEndpoints: true };
    const logger = pino({ level: 'silent' });
    workers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['conversations', 'ingestion', 'maintenance'],
      tuning: config,
      deps: {
        db: rig.db, logger, keyring: config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: rig.graph.url,
        documentStorage: createDocumentStorage(config), llm: llmEndpoints(config), webhooks, metrics,
      },
      queueName: (q) => taskQueueName(config, q),
    });
    running = Promise.all(workers.map((w) => w.run()));
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    app = await buildApp({ config, db: rig.db, temporal: temporal.client, logger: pino({ level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink) });
    await app.ready();
    const tdb = forTenant(rig.db, rig.tenantId);
    key = (await createApiKey(tdb, { name: 'hooks', scope: 'tenant' })).key;
    agentKey = (await createApiKey(tdb, { name: 'agents', scope: 'agent' })).key;
    const other = await createTenant(rig.db, { name: 'Quiet Co', slug: `quiet-${randomBytes(4).toString('hex')}` });
    quiet = { tenantId: other.tenant.id, key: other.apiKey.key };

    const a = await createWebhookEndpoint(tdb, config.SECRETS_KEYS, { url: receiver.url('/all'), description: 'everything' }, { allowHttp: true });
    all = { id: a.endpoint.id, secret: a.secret };
    const h = await createWebhookEndpoint(tdb, config.SECRETS_KEYS, { url: receiver.url('/handoff'), events: ['handoff.requested', 'handoff.assigned', 'handoff.released'] }, { allowHttp: true });
    handoffOnly = { id: h.endpoint.id, secret: h.secret };
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await rig?.close();
    await receiver?.close();
    await temporal?.close();
  });

  it('a WhatsApp message produces signed conversation.created, message.received and message.sent', async () => {
    const user = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(user, 'Hello there');
    const conversation = await eventually(() => forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: user } }).then((c) => c ?? undefined), 20_000, 'conversation');
    const events = await eventually(() => {
      const got = about('/all', conversation.id);
      const types = new Set(got.map((r) => r.body.type));
      return types.has('conversation.created') && types.has('message.received') && types.has('message.sent') && got;
    }, 30_000, 'the three events');

    for (const r of events) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-metachat-event']).toBe(r.body.type);
      expect(verifyWebhookSignature(all.secret, String(r.headers['x-metachat-signature']), r.raw)).toBe(true);
      expect(verifyWebhookSignature(handoffOnly.secret, String(r.headers['x-metachat-signature']), r.raw)).toBe(false);
      expect(verifyWebhookSignature(all.secret, String(r.headers['x-metachat-signature']), r.raw.replace('}', ' }'))).toBe(false);
      expect(r.headers['x-metachat-signature']).toMatch(new RegExp(`^t=${r.headers['x-metachat-timestamp']},v1=[0-9a-f]{64}$`));
      expect(r.body).toMatchObject({ id: expect.any(String), tenantId: rig.tenantId, createdAt: expect.any(String) });
      const delivery = await rig.db.webhookDelivery.findUniqueOrThrow({ where: { id: String(r.headers['x-metachat-delivery']) } });
      expect(delivery).toMatchObject({ endpointId: all.id, eventId: r.body.id, eventType: r.body.type });
    }
    const byType = (t: string) => events.filter((r) => r.body.type === t);
    expect(byType('conversation.created')).toHaveLength(1);
    expect(byType('conversation.created')[0]!.body.data).toMatchObject({ conversationId: conversation.id, channel: 'whatsapp', externalUserId: user });
    expect(byType('message.received')[0]!.body.data).toMatchObject({ conversationId: conversation.id, channel: 'whatsapp', externalUserId: user, text: 'Hello there', type: 'text' });
    expect(byType('message.sent')[0]!.body.data).toMatchObject({ conversationId: conversation.id, externalUserId: user, author: 'assistant', text: rig.graph.delivered.find((d) => d.to === user)?.text });

    // The delivery log, newest first: each delivered at the first attempt.
    await eventually(async () => (await rig.db.webhookDelivery.count({ where: { endpointId: all.id, status: 'pending' } })) === 0, 20_000, 'deliveries done');
    const log = await call('GET', `/api/v1/webhook-endpoints/${all.id}/deliveries?status=delivered`);
    expect(log.statusCode).toBe(200);
    const items = (log.json() as { items: { eventId: string; status: string; attempts: number; lastStatusCode: number; createdAt: string }[] }).items;
    for (const r of events) expect(items.find((i) => i.eventId === r.body.id)).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
    expect(items.map((i) => i.createdAt)).toEqual([...items.map((i) => i.createdAt)].sort().reverse());
    // The handoff-only endpoint heard none of it.
    expect(about('/handoff', conversation.id)).toEqual([]);

    // The message events are the conversation's: erasing the end user takes them (and their text) too.
    const erased = await call('DELETE', `/api/v1/end-users/whatsapp/${user}`);
    expect(erased.statusCode, erased.body).toBe(200);
    expect(await rig.db.event.count({ where: { id: { in: events.map((r) => r.body.id) } } })).toBe(0);
    expect(await rig.db.webhookDelivery.count({ where: { eventId: { in: events.map((r) => r.body.id) } } })).toBe(0);
  });

  it('reads a delivery of the log with the very body it POSTed', async () => {
    const { eventId, deliveryId } = await ping(all.id, key);
    await settled(deliveryId);
    const received = receiver.at('/all').find((r) => r.body.id === eventId)!;
    const res = await call('GET', `/api/v1/webhook-deliveries/${deliveryId}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { id: string; endpointId: string; eventId: string; status: string; event: unknown };
    expect(body).toMatchObject({ id: deliveryId, endpointId: all.id, eventId, status: 'delivered', event: { id: eventId, type: 'ping', tenantId: rig.tenantId } });
    // The raw body that was signed, byte for byte.
    expect(JSON.stringify(body.event)).toBe(received.raw);
    expect((await call('GET', `/api/v1/webhook-deliveries/${randomUUID()}`)).statusCode).toBe(404);
  });

  it('a store step that crashed after its rows and before their events writes the events on its retry, once', async () => {
    const user = `1555${Math.floor(Math.random() * 1e7)}`;
    const input = {
      tenantId: rig.tenantId, channel: 'whatsapp' as const, channelId: rig.whatsappChannelId, externalUserId: user,
      workflowId: rig.workflowId('whatsapp', user), conversationId: null, messages: [{ ...text('Are you open?'), rowId: randomUUID() }],
    };
    // What the first attempt did before the worker died: the conversation's row and the message's.
    const row = (await findOrCreateConversation(rig.db, { ...input, id: newConversationId(input) }))!;
    const m = input.messages[0]!;
    await storeInboundRows(rig.db, {
      tenantId: rig.tenantId, conversationId: row.id, channel: 'whatsapp', receivedAt: Date.now(), lastSentAt: m.sentAt,
      messages: [{ id: m.rowId, externalMessageId: m.externalMessageId, sentAt: m.sentAt, type: 'text', content: { text: m.text } }],
    });
    expect(await rig.db.event.count({ where: { subjectId: row.id } })).toBe(0);

    const store = createStoreActivities(rig.db);
    const retried = await store.receiveInbound(input);
    expect(retried.fresh).toEqual([m.externalMessageId]);
    expect(retried.opened?.conversationId).toBe(row.id);
    await store.receiveInbound(input); // and once more: nothing twice
    const events = await rig.db.event.findMany({ where: { subjectId: row.id }, select: { type: true, payload: true } });
    expect(events.map((e) => e.type).sort()).toEqual(['conversation.created', 'message.received']);
    expect(events.find((e) => e.type === 'message.received')?.payload).toMatchObject({ messageId: m.rowId, text: 'Are you open?', externalUserId: user });
    // This store has no dispatcher: the events are not left for the sweep of the tests after this one.
    await rig.db.event.deleteMany({ where: { subjectId: row.id } });
  });

  it('handoff requested, assigned and released reach the endpoint subscribed to them, and only those', async () => {
    const user = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(user, 'I want a human please');
    const conversation = await eventually(() => forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: user } }).then((c) => c ?? undefined), 20_000, 'conversation');
    await eventually(() => about('/handoff', conversation.id).some((r) => r.body.type === 'handoff.requested'), 30_000, 'handoff.requested');

    const taken = await call('POST', `/api/v1/conversations/${conversation.id}/take`, { agentId: 'ann' }, agentKey);
    expect(taken.statusCode, taken.body).toBe(200);
    await eventually(() => about('/handoff', conversation.id).some((r) => r.body.type === 'handoff.assigned'), 30_000, 'handoff.assigned');
    const released = await call('POST', `/api/v1/conversations/${conversation.id}/release`, { agentId: 'ann' }, agentKey);
    expect(released.statusCode, released.body).toBe(200);
    const got = await eventually(() => {
      const r = about('/handoff', conversation.id);
      return r.some((x) => x.body.type === 'handoff.released') && r;
    }, 30_000, 'handoff.released');

    expect(got.map((r) => r.body.type)).toEqual(['handoff.requested', 'handoff.assigned', 'handoff.released']);
    expect(got[0]!.body.data).toMatchObject({ conversationId: conversation.id, status: 'handoff_requested', reason: 'keyword' });
    expect(got[1]!.body.data).toMatchObject({ conversationId: conversation.id, status: 'assigned_human', assignee: 'ann', agentId: 'ann' });
    expect(got[2]!.body.data).toMatchObject({ conversationId: conversation.id, status: 'active', assignee: null, agentId: 'ann', reason: 'agent' });
    for (const r of got) expect(verifyWebhookSignature(handoffOnly.secret, String(r.headers['x-metachat-signature']), r.raw)).toBe(true);

    // Once every event is dispatched, the handoff endpoint's log holds handoff events only, and
    // the catch-all endpoint had them too.
    await eventually(async () => (await rig.db.event.count({ where: { tenantId: rig.tenantId, type: { in: [...TENANT_EVENT_TYPES] }, dispatchedAt: null } })) === 0, 20_000, 'all dispatched');
    const types = await rig.db.webhookDelivery.findMany({ where: { endpointId: handoffOnly.id }, select: { eventType: true }, distinct: ['eventType'] });
    expect(types.map((t) => t.eventType).sort()).toEqual(['handoff.assigned', 'handoff.released', 'handoff.requested']);
    await eventually(() => about('/all', conversation.id).filter((r) => r.body.type.startsWith('handoff.')).length === 3, 20_000, 'catch-all has them');
  });

  it('document.indexed when a document is ready, document.failed when it cannot be read', async () => {
    const before = {
      ready: await counted('metachat_ingestion_documents_total', { outcome: 'ready' }),
      failed: await counted('metachat_ingestion_documents_total', { outcome: 'failed' }),
      chunks: await counted('metachat_ingestion_chunks_total', { tenant: rig.tenantId }),
    };
    const up = await call('POST', '/api/v1/documents', { title: 'Opening hours', content: 'We open at nine and close at five, Monday to Friday.', format: 'text' });
    expect(up.statusCode, up.body).toBe(202);
    const docId = (up.json() as { id: string }).id;
    const indexed = await eventually(() => about('/all', docId).find((r) => r.body.type === 'document.indexed'), 30_000, 'document.indexed');
    expect(indexed.body.data).toMatchObject({ documentId: docId, title: 'Opening hours', version: 1, chunkCount: expect.any(Number) });

    const form = new FormData();
    form.append('file', new Blob([Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2000)])], { type: 'application/pdf' }), 'broken.pdf');
    const res = new Response(form);
    const broken = await app.inject({ method: 'POST', url: '/api/v1/documents', headers: { ...bearer(key), 'content-type': res.headers.get('content-type')! }, payload: Buffer.from(await res.arrayBuffer()) });
    expect(broken.statusCode, broken.body).toBe(202);
    const brokenId = (broken.json() as { id: string }).id;
    const failed = await eventually(() => about('/all', brokenId).find((r) => r.body.type === 'document.failed'), 30_000, 'document.failed');
    expect(failed.body.data).toMatchObject({ documentId: brokenId, error: expect.stringMatching(/PDF/) });
    expect(about('/all', brokenId).filter((r) => r.body.type === 'document.failed')).toHaveLength(1);
    // Each ingestion's end counted once, with the chunks it stored and its time to ready.
    expect(await counted('metachat_ingestion_documents_total', { outcome: 'ready' })).toBe(before.ready + 1);
    expect(await counted('metachat_ingestion_documents_total', { outcome: 'failed' })).toBe(before.failed + 1);
    expect(await counted('metachat_ingestion_chunks_total', { tenant: rig.tenantId })).toBe(before.chunks + (indexed.body.data as { chunkCount: number }).chunkCount);
    expect(await counted('metachat_ingestion_duration_seconds_count')).toBe(before.ready + 1);
  });

  it('retries a failing endpoint with backoff (honouring Retry-After) until it answers, and logs the attempts', async () => {
    const flaky = await quietEndpoint('/flaky');
    receiver.script('/flaky', { status: 500 }, { status: 429, headers: { 'retry-after': '0' } });
    const { eventId, deliveryId } = await ping(flaky.id);
    const retriedBefore = await counted('metachat_tenant_webhook_deliveries_total', { outcome: 'retried' });
    const done = await settled(deliveryId);
    expect(done).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null });
    expect(await counted('metachat_tenant_webhook_deliveries_total', { outcome: 'retried' })).toBeGreaterThanOrEqual(retriedBefore + 2);
    expect(done.deliveredAt).not.toBeNull();

    const requests = receiver.at('/flaky');
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.body.id))).toEqual(new Set([eventId]));
    expect(new Set(requests.map((r) => r.headers['x-metachat-delivery']))).toEqual(new Set([deliveryId]));
    expect(requests[0]!.body).toMatchObject({ type: 'ping', tenantId: quiet.tenantId, data: { endpointId: flaky.id } });
    for (const r of requests) expect(verifyWebhookSignature(flaky.secret, String(r.headers['x-metachat-signature']), r.raw)).toBe(true);

    const log = (await call('GET', `/api/v1/webhook-endpoints/${flaky.id}/deliveries`, undefined, quiet.key)).json() as { items: { id: string; attempts: number; status: string }[] };
    expect(log.items).toEqual([expect.objectContaining({ id: deliveryId, attempts: 3, status: 'delivered' })]);

    // Redelivery: the same event again, the attempts keep counting.
    await temporal.client.workflow.getHandle(webhookDeliveryWorkflowId(flaky.id, eventId)).result();
    const again = await call('POST', `/api/v1/webhook-deliveries/${deliveryId}/redeliver`, undefined, quiet.key);
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toMatchObject({ id: deliveryId, status: 'pending' });
    await eventually(async () => (await rig.db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).attempts === 4, 20_000, 'redelivered');
    expect((await settled(deliveryId)).status).toBe('delivered');
    expect(receiver.at('/flaky').at(-1)!.body.id).toBe(eventId);
  });

  it('counts deliveries that fail for good, resets on success, and disables the endpoint at the limit; PATCH re-enables it', async () => {
    const dead = await quietEndpoint('/dead');
    receiver.always('/dead', { status: 503 });
    const first = await settled((await ping(dead.id)).deliveryId);
    expect(first).toMatchObject({ status: 'failed', attempts: 4, lastStatusCode: 503, lastError: 'HTTP 503: receiver says no' });
    expect(await endpointRow(dead.id)).toMatchObject({ status: 'active', consecutiveFailures: 1 });

    receiver.always('/dead', undefined);
    expect((await settled((await ping(dead.id)).deliveryId)).status).toBe('delivered');
    expect((await endpointRow(dead.id)).consecutiveFailures).toBe(0);

    receiver.always('/dead', { status: 503 });
    expect((await settled((await ping(dead.id)).deliveryId)).status).toBe('failed');
    expect((await settled((await ping(dead.id)).deliveryId)).status).toBe('failed');
    const disabled = await eventually(async () => {
      const e = await endpointRow(dead.id);
      return e.status === 'disabled' && e;
    }, 10_000, 'endpoint disabled');
    expect(disabled).toMatchObject({ consecutiveFailures: 2, disabledReason: '2 deliveries in a row failed after every retry' });
    expect(disabled.disabledAt).not.toBeNull();
    expect(await counted('metachat_tenant_webhook_endpoints_disabled_total', { tenant: quiet.tenantId })).toBe(1);
    expect(await counted('metachat_tenant_webhook_deliveries_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(3);

    const refused = await call('POST', `/api/v1/webhook-endpoints/${dead.id}/test`, undefined, quiet.key);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('endpoint_disabled');

    const failedLog = (await call('GET', `/api/v1/webhook-endpoints/${dead.id}/deliveries?status=failed&limit=2`, undefined, quiet.key)).json() as { items: { status: string }[]; nextCursor: string | null };
    expect(failedLog.items.map((i) => i.status)).toEqual(['failed', 'failed']);
    expect(failedLog.nextCursor).not.toBeNull();
    const rest = (await call('GET', `/api/v1/webhook-endpoints/${dead.id}/deliveries?status=failed&limit=2&cursor=${failedLog.nextCursor}`, undefined, quiet.key)).json() as { items: unknown[]; nextCursor: string | null };
    expect(rest).toMatchObject({ items: [expect.anything()], nextCursor: null });

    const enabled = await call('PATCH', `/api/v1/webhook-endpoints/${dead.id}`, { status: 'active' }, quiet.key);
    expect(enabled.statusCode).toBe(200);
    expect(enabled.json()).toMatchObject({ status: 'active', consecutiveFailures: 0, disabledAt: null, disabledReason: null });
    receiver.always('/dead', undefined);
    expect((await settled((await ping(dead.id)).deliveryId)).status).toBe('delivered');
  });

  it('410 Gone disables the endpoint at once', async () => {
    const disabledBefore = await counted('metachat_tenant_webhook_endpoints_disabled_total', { tenant: quiet.tenantId });
    const gone = await quietEndpoint('/gone');
    receiver.always('/gone', { status: 410 });
    const delivery = await settled((await ping(gone.id)).deliveryId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: 410 });
    expect(await endpointRow(gone.id)).toMatchObject({ status: 'disabled', disabledReason: 'the endpoint answered 410 Gone' });
    expect(await counted('metachat_tenant_webhook_endpoints_disabled_total', { tenant: quiet.tenantId })).toBe(disabledBefore + 1);
    expect(receiver.at('/gone')).toHaveLength(1);
  });

  it('never follows a redirect', async () => {
    const moved = await quietEndpoint('/moved');
    receiver.always('/moved', { status: 302, headers: { location: receiver.url('/all') } });
    const before = receiver.at('/all').length;
    const delivery = await settled((await ping(moved.id)).deliveryId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 4, lastStatusCode: 302, lastError: 'HTTP 302: redirects are not followed' });
    expect(receiver.at('/all').slice(before).filter((r) => r.body.type === 'ping')).toHaveLength(0);
    expect(receiver.at('/moved')).toHaveLength(4);
  });

  it('manages endpoints over the API: https only, the secret shown at creation and rotation only', async () => {
    const bad = [
      { url: 'http://hooks.example.com/x' },
      { url: 'https://127.0.0.1/x' },
      { url: 'https://10.1.2.3/x' },
      { url: 'https://metadata.internal/x' },
      { url: 'nonsense' },
      { url: 'https://hooks.example.com/x', events: ['message.deleted'] },
      { url: 'https://hooks.example.com/x', secret: 'mine' },
    ];
    for (const body of bad) expect((await call('POST', '/api/v1/webhook-endpoints', body)).statusCode, JSON.stringify(body)).toBe(400);

    const created = await call('POST', '/api/v1/webhook-endpoints', { url: 'https://crm.example.com/metachat', events: ['message.received', 'message.received', 'handoff.requested'], description: 'CRM' });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json() as { id: string; secret: string; events: string[]; status: string };
    expect(body).toMatchObject({ status: 'active', events: ['message.received', 'handoff.requested'], consecutiveFailures: 0 });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    const reads = [
      await call('GET', '/api/v1/webhook-endpoints'),
      await call('GET', `/api/v1/webhook-endpoints/${body.id}`),
      await call('PATCH', `/api/v1/webhook-endpoints/${body.id}`, { description: 'CRM, renamed', events: [] }),
      await call('GET', `/api/v1/webhook-endpoints/${body.id}/deliveries`),
    ];
    for (const r of reads) {
      expect(r.statusCode).toBe(200);
      expect(r.body).not.toContain(body.secret);
      expect(r.body).not.toContain('"secret"');
    }
    expect(reads[2]!.json()).toMatchObject({ description: 'CRM, renamed', events: [] });
    const row = await endpointRow(body.id);
    expect(webhookSecret(config.SECRETS_KEYS, row)).toBe(body.secret);
    expect(Buffer.from(row.secretCiphertext).toString('utf8')).not.toContain(body.secret);

    const rotated = await call('POST', `/api/v1/webhook-endpoints/${body.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    const newSecret = (rotated.json() as { secret: string }).secret;
    expect(newSecret).not.toBe(body.secret);
    expect(webhookSecret(config.SECRETS_KEYS, await endpointRow(body.id))).toBe(newSecret);
    // Bound to its row: the ciphertext does not decrypt as another endpoint's.
    const sealed = await endpointRow(body.id);
    expect(() => decryptSecret(config.SECRETS_KEYS, { ciphertext: sealed.secretCiphertext, iv: sealed.secretIv, authTag: sealed.secretAuthTag, keyId: sealed.secretKeyId }, `webhook:${all.id}`)).toThrow();

    expect((await call('PATCH', `/api/v1/webhook-endpoints/${body.id}`, { url: 'http://crm.example.com/x' })).statusCode).toBe(400);
    expect((await call('PATCH', `/api/v1/webhook-endpoints/${body.id}`, { status: 'disabled' })).json()).toMatchObject({ status: 'disabled', disabledReason: 'disabled through the API' });
    expect((await call('DELETE', `/api/v1/webhook-endpoints/${body.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/webhook-endpoints/${body.id}`)).statusCode).toBe(404);

    const text = logs.join('');
    for (const s of [body.secret, newSecret, all.secret]) expect(text).not.toContain(s);

    // Documented in the OpenAPI document generated from the zod schemas.
    const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining([
      '/api/v1/webhook-endpoints/', '/api/v1/webhook-endpoints/{id}', '/api/v1/webhook-endpoints/{id}/rotate-secret',
      '/api/v1/webhook-endpoints/{id}/test', '/api/v1/webhook-endpoints/{id}/deliveries', '/api/v1/webhook-deliveries/{id}', '/api/v1/webhook-deliveries/{id}/redeliver',
    ]));
    expect(JSON.stringify(spec.paths['/api/v1/webhook-endpoints/']!.post!.requestBody)).toContain('handoff.assigned');
  });

  it('takes a receiver on this machine when ALLOW_INSECURE_TENANT_URLS is on (npm run dev), and only then', async () => {
    expect(webhookOptionsFrom(config).allowInsecureEndpoints).toBe(false);
    expect(webhookOptionsFrom({ ...config, ALLOW_INSECURE_TENANT_URLS: true }).allowInsecureEndpoints).toBe(true);
    const local = { url: receiver.url('/dev'), events: ['document.indexed'] };
    expect((await call('POST', '/api/v1/webhook-endpoints', local, quiet.key)).statusCode).toBe(400);

    const devApp = await buildApp({ config: { ...config, ALLOW_INSECURE_TENANT_URLS: true }, db: rig.db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    try {
      const created = await devApp.inject({ method: 'POST', url: '/api/v1/webhook-endpoints', headers: bearer(quiet.key), payload: local });
      expect(created.statusCode, created.body).toBe(201);
      const ping = await devApp.inject({ method: 'POST', url: `/api/v1/webhook-endpoints/${(created.json() as { id: string }).id}/test`, headers: bearer(quiet.key) });
      expect(ping.statusCode, ping.body).toBe(202);
      const [request] = await eventually(() => receiver.at('/dev').length > 0 && receiver.at('/dev'), 20_000, 'the ping at the local receiver');
      expect(request?.body).toMatchObject({ type: 'ping' });
    } finally {
      await devApp.close();
    }
  });

  it("another tenant's endpoints and deliveries are not found", async () => {
    const delivery = await rig.db.webhookDelivery.findFirstOrThrow({ where: { endpointId: all.id } });
    for (const [method, url] of [
      ['GET', `/api/v1/webhook-endpoints/${all.id}`],
      ['PATCH', `/api/v1/webhook-endpoints/${all.id}`],
      ['DELETE', `/api/v1/webhook-endpoints/${all.id}`],
      ['POST', `/api/v1/webhook-endpoints/${all.id}/rotate-secret`],
      ['POST', `/api/v1/webhook-endpoints/${all.id}/test`],
      ['GET', `/api/v1/webhook-endpoints/${all.id}/deliveries`],
      ['GET', `/api/v1/webhook-deliveries/${delivery.id}`],
      ['POST', `/api/v1/webhook-deliveries/${delivery.id}/redeliver`],
    ] as const) {
      const res = await call(method, url, method === 'PATCH' ? { description: 'mine now' } : undefined, quiet.key);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    const list = (await call('GET', '/api/v1/webhook-endpoints', undefined, quiet.key)).json() as { items: { id: string }[] };
    expect(list.items.map((e) => e.id)).not.toContain(all.id);
    expect(list.items.length).toBeGreaterThan(0);
    expect(await endpointRow(all.id)).toMatchObject({ status: 'active', description: 'everything' });
  });

  it('writes each event once however often a step is retried', async () => {
    const tdb = forTenant(rig.db, rig.tenantId);
    const dispatched: string[] = [];
    const sink: TenantEventSink = { dispatch: async (...ids) => void dispatched.push(...ids.filter((i): i is string => !!i)) };
    const store = createStoreActivities(rig.db, sink);
    const conversation = await tdb.conversation.findFirstOrThrow({ where: {} });
    const message = text('Once only');
    const input = { tenantId: rig.tenantId, conversationId: conversation.id, channel: 'whatsapp' as const, messages: [message] };
    await store.persistInbound(input);
    await store.persistInbound(input);
    const received = await tdb.message.findFirstOrThrow({ where: { externalMessageId: message.externalMessageId } });
    expect(await tdb.event.count({ where: { type: 'message.received', payload: { path: ['messageId'], equals: received.id } } })).toBe(1);

    // The same activity execution retried (same run and activity id): one handoff event.
    const change = { tenantId: rig.tenantId, conversationId: conversation.id, status: 'handoff_requested' as const, assignee: null, event: { type: 'handoff.requested', payload: { reason: 'retry test' } } };
    const env = new MockActivityEnvironment({ activityId: `retry-${randomBytes(4).toString('hex')}` });
    await env.run(store.recordConversationChange, change);
    await env.run(store.recordConversationChange, change);
    expect(await tdb.event.count({ where: { type: 'handoff.requested', payload: { path: ['reason'], equals: 'retry test' } } })).toBe(1);
    expect(new Set(dispatched).size).toBe(2);
  });

  it('the outbox sweep dispatches an event a crash left undispatched, and leaves young ones to their writer', async () => {
    const tdb = forTenant(rig.db, rig.tenantId);
    const conversation = await tdb.conversation.findFirstOrThrow({ where: {} });
    const event = (minutesAgo: number, type = 'message.received') =>
      tdb.event.create({
        data: tenantData<Prisma.EventUncheckedCreateInput>({
          type, subjectType: 'message', subjectId: conversation.id, createdAt: new Date(Date.now() - minutesAgo * 60_000),
          payload: { conversationId: conversation.id, text: `swept ${minutesAgo}`, messageId: conversation.id },
        }),
      });
    const stranded = await event(2);
    const young = await event(0);
    const internal = await event(5, 'usage.budget_exhausted');

    const result = await temporal.client.workflow.execute(tenantEventSweep, {
      workflowId: `sweep-${randomBytes(4).toString('hex')}`,
      taskQueue: taskQueueName(config, 'maintenance'),
      args: [{}],
    });
    expect(result.events).toBeGreaterThanOrEqual(2);
    const delivered = await eventually(() => receiver.at('/all').find((r) => r.body.id === stranded.id), 20_000, 'swept event delivered');
    expect(delivered.body).toMatchObject({ type: 'message.received', data: { text: 'swept 2' } });
    expect(verifyWebhookSignature(all.secret, String(delivered.headers['x-metachat-signature']), delivered.raw)).toBe(true);

    const rows = await rig.db.event.findMany({ where: { id: { in: [stranded.id, young.id, internal.id] } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(stranded.id)!.dispatchedAt).not.toBeNull();
    expect(byId.get(internal.id)!.dispatchedAt).not.toBeNull();
    expect(byId.get(young.id)!.dispatchedAt).toBeNull();
    expect(await rig.db.webhookDelivery.count({ where: { eventId: internal.id } })).toBe(0);
    // Sweeping again starts nothing new (the delivery workflow id is per endpoint and event).
    await temporal.client.workflow.execute(tenantEventSweep, { workflowId: `sweep-${randomBytes(4).toString('hex')}`, taskQueue: taskQueueName(config, 'maintenance'), args: [{ olderThanMs: 0 }] });
    await eventually(async () => (await rig.db.event.findUniqueOrThrow({ where: { id: young.id } })).dispatchedAt !== null, 10_000, 'young one swept with age 0');
    expect(receiver.at('/all').filter((r) => r.body.id === stranded.id)).toHaveLength(1);
  });

  it('the sweep runs on a Schedule every minute, overlap SKIP', async () => {
    const idPrefix = `test-${randomBytes(4).toString('hex')}-`;
    const scheduleId = `${idPrefix}${TENANT_EVENT_SWEEP_SCHEDULE_ID}`;
    try {
      const result = await ensureSchedules(temporal.client, { idPrefix, taskQueue: `${idPrefix}maintenance`, monthsAhead: 3, tenantEventSweep: true });
      expect(result.created).toContain(scheduleId);
      const schedule = await temporal.client.schedule.getHandle(scheduleId).describe();
      expect(schedule.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'tenantEventSweep', taskQueue: `${idPrefix}maintenance` });
      expect(schedule.spec.intervals?.[0]?.every).toBe(60_000);
    } finally {
      for (const id of [scheduleId, `${idPrefix}partition-maintenance`, `${idPrefix}integrity-check`, `${idPrefix}document-purge`]) {
        await temporal.client.schedule.getHandle(id).delete().catch(() => undefined);
      }
    }
  });

  it('the integrity check finds an endpoint whose secret does not decrypt, and its fix disables it', async () => {
    const stolen = await quietEndpoint('/stolen');
    const donor = await endpointRow(all.id);
    // Another endpoint's ciphertext does not decrypt here (AAD webhook:{id}).
    await rig.db.webhookEndpoint.update({
      where: { id: stolen.id },
      data: { secretCiphertext: donor.secretCiphertext, secretIv: donor.secretIv, secretAuthTag: donor.secretAuthTag, secretKeyId: donor.secretKeyId },
    });
    const integrity = createIntegrityActivities({ db: rig.db, logger: pino({ level: 'silent' }), keyring: config.SECRETS_KEYS, temporal: temporal.client });
    const finding = (await integrity.collectIntegrityFindings()).find((f) => f.check === 'webhook_secrets_undecryptable');
    expect(finding).toMatchObject({ count: 1, sampleIds: [stolen.id], severity: 'error', remediation: { kind: 'fix' } });
    expect(JSON.stringify(finding)).not.toContain(all.secret);

    const reportId = randomUUID();
    const [fix] = await integrity.applyIntegrityFixes({ reportId, checks: ['webhook_secrets_undecryptable'] });
    expect(fix).toEqual({ check: 'webhook_secrets_undecryptable', fixed: 1, errors: [] });
    expect(await endpointRow(stolen.id)).toMatchObject({ status: 'disabled', disabledReason: expect.stringContaining('does not decrypt') });
    expect(await rig.db.event.count({ where: { type: 'integrity.fixed', subjectId: stolen.id, payload: { path: ['reportId'], equals: reportId } } })).toBe(1);
    expect((await integrity.applyIntegrityFixes({ reportId, checks: ['webhook_secrets_undecryptable'] }))[0]?.fixed).toBe(0);
    await rig.db.webhookEndpoint.delete({ where: { id: stolen.id } }); // it would count as a failure for secrets:rotate below
  });

  it('secrets:rotate re-encrypts endpoint signing secrets under the new key', async () => {
    const newKey = { id: `k${randomBytes(3).toString('hex')}`, key: randomBytes(32) };
    const keyring = [newKey, ...config.SECRETS_KEYS];
    const before = await rig.db.webhookEndpoint.findMany();
    const result = await rotateWebhookEndpointSecrets(rig.db, keyring);
    expect(result).toMatchObject({ total: before.length, reencrypted: before.length, failed: 0 });
    for (const e of before) {
      const after = await endpointRow(e.id);
      expect(after.secretKeyId).toBe(newKey.id);
      expect(webhookSecret([newKey], after)).toBe(webhookSecret(config.SECRETS_KEYS, e));
    }
    expect(await rotateWebhookEndpointSecrets(rig.db, keyring)).toMatchObject({ reencrypted: 0, alreadyCurrent: before.length });
  });
});
