// Tracing and the request id, end to end: a signed WhatsApp webhook into the real API, the real
// Temporal dev server, the real worker and Postgres, the reply at the fake Graph API. With tracing
// on, the spans arrive over OTLP/HTTP at an in-process receiver (test/support/otlp-receiver.ts)
// and must make one trace from the webhook's request to the activities' SQL and HTTP calls; the
// API's and the worker's log lines for the message carry its request id and trace id. With
// tracing off nothing of OpenTelemetry is installed, and the request id still reaches the worker.
//
// One process holds both the API and the worker here, so they share one tracer provider (a
// deployment has one per process; the spans are told apart by their names).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import pg from 'pg';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { llmEndpoints } from '../activities/llm/index.ts';
import { createDb, poolOf, type Db } from '../lib/db.ts';
import { logContext } from '../lib/log-context.ts';
import { createLogger } from '../lib/logger.ts';
import { RequestIdClientInterceptor } from '../lib/request-scope.ts';
import { taskQueueName, temporalClientInterceptors, temporalClientOn } from '../lib/temporal.ts';
import { startTracing, type Tracing } from '../lib/tracing.ts';
import { createTestWorkers } from './support/workers.ts';
import { workerInterceptors, workflowInterceptorModules } from '../workers/interceptors.ts';
import { sdkLogger } from '../workers/sdk-logger.ts';
import { conversationWorkflowId } from '../workflows/ids.ts';
import { createConversationRig, eventually, WA_APP_SECRET, type ConversationRig } from './support/conversations.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { connectTestTemporal } from './support/temporal.ts';
import { routeSdkLogs } from './support/temporal-runtime.ts';

type LogLine = Record<string, unknown> & { msg?: string; requestId?: string; trace_id?: string; workflowId?: string };

/**
 * The SDK's debug lines written before any interceptor runs (workers/interceptors.ts): they name
 * the workflow and the activity, and precede the lines that carry the request and trace ids.
 */
const BEFORE_INTERCEPTORS = new Set(['Workflow started', 'Activity started']);

/** A pino destination that keeps every line, parsed. */
function capture() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { lines, stream };
}

/** The platform as deployed, in this process: the API and a conversations worker, traced or not. */
async function startPlatform(rig: ConversationRig, temporal: Awaited<ReturnType<typeof connectTestTemporal>>, tracing: Tracing | undefined) {
  const api = capture();
  const worker = capture();
  const apiLogger = createLogger({ level: 'debug', name: 'api' }, api.stream);
  const workerLogger = createLogger({ level: 'debug', name: 'worker', mixin: logContext }, worker.stream);
  routeSdkLogs(sdkLogger(workerLogger, 'DEBUG'));
  const db = createDb(rig.config, 'tracing-test', tracing);
  const apiClient = temporalClientOn(temporal.client.connection, rig.config, tracing);
  const workerClient = temporalClientOn(temporal.nativeConnection, rig.config, tracing);
  let app: App;
  try {
    app = await buildApp({ config: rig.config, db, temporal: apiClient, logger: apiLogger, tracing });
  } catch (err) {
    await db.$disconnect();
    throw err;
  }
  const workers = await createTestWorkers({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueues: ['conversations'],
    tuning: rig.config,
    tracing,
    deps: { db, logger: workerLogger, keyring: rig.config.SECRETS_KEYS, temporal: workerClient, graphApiUrl: rig.graph.url, llm: llmEndpoints(rig.config) },
    queueName: (queue) => taskQueueName(rig.config, queue),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    app,
    db,
    apiLines: api.lines,
    workerLines: worker.lines,
    async close() {
      await app.close();
      for (const w of workers as Worker[]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      routeSdkLogs(undefined);
      await db.$disconnect();
    },
  };
}

/** One WhatsApp text from a new end user, signed as Meta signs it. */
function webhook(rig: ConversationRig, from: string) {
  const message = { from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'Hello!' } };
  const payload = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '555000111', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: rig.phoneNumberId }, contacts: [{ profile: { name: 'Ana' }, wa_id: from }], messages: [message] } }] }],
  });
  return { payload, signature: signatureHeader(payload, WA_APP_SECRET) };
}

describe('tracing and request ids', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
  });
  afterAll(async () => {
    await rig?.close();
    await temporal?.close();
  });

  // First: nothing of OpenTelemetry may be registered in this process yet.
  describe('with no OTLP endpoint', () => {
    let platform: Awaited<ReturnType<typeof startPlatform>>;
    beforeAll(async () => {
      expect(startTracing({}, 'metachat-test')).toBeUndefined();
      platform = await startPlatform(rig, temporal, undefined);
    });
    afterAll(() => platform?.close());

    it('installs no tracer, interceptor, sink, plugin or pool wrapper', () => {
      expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
      const client = temporalClientInterceptors(undefined);
      expect(client.map((i) => i.constructor)).toEqual([RequestIdClientInterceptor]);
      const worker = workerInterceptors(undefined);
      expect(worker.sinks).toBeUndefined();
      expect(worker.interceptors.activity).toHaveLength(1);
      expect(workflowInterceptorModules(false).map((m) => m.split('/').pop())).toEqual(['request-id.ts']);
      expect(platform.app.hasPlugin('otel')).toBe(false);
      expect(platform.app.hasRequestDecorator('opentelemetry')).toBe(false);
      expect(poolOf(platform.db).query).toBe(pg.Pool.prototype.query);
    });

    it('still carries the request id from the webhook to the worker log lines of its message', async () => {
      const from = `1555${Date.now() % 10_000_000}`;
      const requestId = `req-${randomBytes(6).toString('hex')}`;
      const { payload, signature } = webhook(rig, from);
      const res = await platform.app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, 'x-request-id': requestId } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toBe(requestId);
      await eventually(() => rig.graph.delivered.some((d) => d.to === from), 20_000, 'a reply');
      const workflowId = conversationWorkflowId(rig.tenantId, rig.whatsappChannelId, from);
      const lines = await eventually(() => {
        const mine = platform.workerLines.filter((l) => l.workflowId === workflowId);
        return mine.some((l) => l.msg === 'Activity completed') && mine;
      }, 10_000, 'the worker lines of the message');
      expect(lines.filter((l) => !BEFORE_INTERCEPTORS.has(l.msg!) && l.requestId !== requestId).map((l) => l.msg)).toEqual([]);
      expect(lines.some((l) => 'trace_id' in l)).toBe(false);
      const apiLines = platform.apiLines.filter((l) => l.requestId === requestId);
      expect(apiLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
      expect(apiLines.some((l) => 'trace_id' in l)).toBe(false);
    });
  });

  describe('with an OTLP endpoint', () => {
    let receiver: OtlpReceiver;
    let tracing: Tracing;
    let platform: Awaited<ReturnType<typeof startPlatform>>;
    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, 'metachat-test')!;
      platform = await startPlatform(rig, temporal, tracing);
    });
    afterAll(async () => {
      await platform?.close();
      await tracing?.shutdown();
      await receiver?.close();
    });

    it('makes one trace from the webhook through signalWithStart, the workflow and its activities to Postgres and the Graph API, and puts its ids in every log line of the message', async () => {
      const from = `1556${Date.now() % 10_000_000}`;
      const requestId = `req-${randomBytes(6).toString('hex')}`;
      // The caller's trace context is honoured: the request's span continues it.
      const traceId = randomBytes(16).toString('hex');
      const callerSpanId = randomBytes(8).toString('hex');
      const { payload, signature } = webhook(rig, from);
      const res = await platform.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        payload,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, 'x-request-id': requestId, traceparent: `00-${traceId}-${callerSpanId}-01` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toBe(requestId);
      await eventually(() => rig.graph.delivered.some((d) => d.to === from), 20_000, 'a reply');

      const byName = (spans: ReceivedSpan[], name: string | RegExp) => spans.filter((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));
      const spans = await eventually(async () => {
        await tracing.provider.forceFlush();
        const mine = receiver.spans.filter((s) => s.traceId === traceId);
        // The workflow's StartActivity span of the reply ends when the workflow learns the result,
        // in the task after the activity's: the last to arrive.
        return ['request', 'RunActivity:generateReply', 'StartActivity:generateReply'].every((name) => byName(mine, name).length > 0) && mine;
      }, 20_000, 'the spans of the message');
      expect(receiver.refused).toBe(0);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId);
      const ancestors = (s: ReceivedSpan): ReceivedSpan[] => {
        const chain: ReceivedSpan[] = [];
        for (let p = parentOf(s); p; p = parentOf(p)) chain.push(p);
        return chain;
      };

      // The API's server span continues the caller's span; every other span descends from it.
      const [request] = spans.filter((s) => s.parentSpanId === callerSpanId);
      expect(request).toMatchObject({ name: 'request', kind: 2, scope: '@fastify/otel', attributes: { 'http.route': '/webhooks/whatsapp' } });
      for (const s of spans) if (s !== request) expect(ancestors(s).map((a) => `${a.name} ${a.spanId}`), `${s.name} descends from the request`).toContain(`request ${request!.spanId}`);

      const [signal] = byName(spans, 'SignalWithStartWorkflow:conversation');
      expect(signal, 'the client span of signalWithStart').toBeDefined();
      expect(ancestors(signal!)).toContain(request);
      const [handled] = byName(spans, 'HandleSignal:inbound');
      expect(parentOf(handled!)).toBe(signal);

      // The workflow schedules its activities under the signal that brought the message.
      const started = byName(spans, /^StartActivity:/);
      expect(started.length).toBeGreaterThan(1);
      for (const s of started) expect(parentOf(s), s.name).toBe(handled);
      const ran = byName(spans, /^RunActivity:/);
      for (const s of ran) {
        expect(parentOf(s)?.name, s.name).toBe(`StartActivity:${s.name.slice('RunActivity:'.length)}`);
        expect(s.attributes.temporalWorkflowId).toBe(conversationWorkflowId(rig.tenantId, rig.whatsappChannelId, from));
      }

      // Inside the activities: statements on Postgres and the call to the Graph API.
      const queries = byName(spans, /^pg\.query:/).filter((s) => ancestors(s).some((a) => a.name.startsWith('RunActivity:')));
      expect(queries.length).toBeGreaterThan(0);
      expect(queries[0]).toMatchObject({ kind: 3, attributes: { 'db.system': 'postgresql' } });
      expect(byName(spans, /^pg\.query:/).some((s) => ancestors(s).some((a) => a.name === 'request' ) && !ancestors(s).some((a) => a.name.startsWith('RunActivity:'))), 'the API reads Postgres in its handler').toBe(true);
      const graphCalls = byName(spans, 'POST').filter((s) => String(s.attributes['url.full']).startsWith(rig.graph.url));
      expect(graphCalls.length).toBeGreaterThan(0);
      for (const s of graphCalls) {
        expect(s.kind).toBe(3);
        expect(ancestors(s).some((a) => a.name.startsWith('RunActivity:')), 'the Graph API call is made by an activity').toBe(true);
      }

      // Log lines: the API's for the request, the worker's for the message's workflow.
      const apiLines = platform.apiLines.filter((l) => l.requestId === requestId);
      expect(apiLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
      for (const l of apiLines) expect(l.trace_id, `API line "${l.msg}"`).toBe(traceId);
      const workflowId = conversationWorkflowId(rig.tenantId, rig.whatsappChannelId, from);
      const workerLines = platform.workerLines.filter((l) => l.workflowId === workflowId);
      expect(workerLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['Workflow started', 'Activity started', 'Activity completed']));
      for (const l of workerLines.filter((l) => !BEFORE_INTERCEPTORS.has(l.msg!))) {
        expect(l.requestId, `worker line "${l.msg}"`).toBe(requestId);
        expect(l.trace_id, `worker line "${l.msg}"`).toBe(traceId);
      }
    });

    it("answers a later message of a running conversation in that message's own trace, not the run's", async () => {
      const from = `1557${Date.now() % 10_000_000}`;
      const send = async (traceId: string, requestId: string) => {
        const { payload, signature } = webhook(rig, from);
        const res = await platform.app.inject({
          method: 'POST',
          url: '/webhooks/whatsapp',
          payload,
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, 'x-request-id': requestId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
        });
        expect(res.statusCode).toBe(200);
      };
      const first = randomBytes(16).toString('hex');
      const second = randomBytes(16).toString('hex');
      const secondRequest = `req-${randomBytes(6).toString('hex')}`;
      await send(first, `req-${randomBytes(6).toString('hex')}`);
      await eventually(() => rig.graph.delivered.filter((d) => d.to === from).length === 1, 20_000, 'the first reply');
      await send(second, secondRequest);
      await eventually(() => rig.graph.delivered.filter((d) => d.to === from).length === 2, 20_000, 'the second reply');

      const spans = await eventually(async () => {
        await tracing.provider.forceFlush();
        const mine = receiver.spans.filter((s) => s.traceId === second);
        return mine.some((s) => s.name === 'StartActivity:generateReply') && mine.some((s) => s.name === 'RunActivity:generateReply') && mine;
      }, 20_000, "the second message's spans");
      const [handled] = spans.filter((s) => s.name === 'HandleSignal:inbound');
      for (const s of spans.filter((s) => s.name.startsWith('StartActivity:'))) expect(s.parentSpanId, s.name).toBe(handled!.spanId);
      // Nothing the workflow did for the second message went into the first message's trace.
      const firstTrace = receiver.spans.filter((s) => s.traceId === first);
      expect(firstTrace.filter((s) => s.name === 'StartActivity:generateReply')).toHaveLength(1);
      const workflowId = conversationWorkflowId(rig.tenantId, rig.whatsappChannelId, from);
      const afterSecond = platform.workerLines.filter((l) => l.workflowId === workflowId && l.requestId === secondRequest);
      expect(afterSecond.some((l) => l.msg === 'Activity completed' && l.activityType === 'generateReply')).toBe(true);
      for (const l of afterSecond) expect(l.trace_id, `worker line "${l.msg}"`).toBe(second);
    });

  });
});
