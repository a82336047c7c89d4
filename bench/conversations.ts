// Benchmarks for conversations: how fast a signed Meta webhook is acknowledged compared with the
// Temporal server's bare signalWithStart ceiling, how long a reply takes end to end, and how the
// hand-off design compares with answering inline under a burst. `npm run bench` runs it (see
// bench/run.ts); results are printed and appended to bench/RESULTS.md.
//
// Everything runs on this machine, on 127.0.0.1 only, started and stopped by this script:
//   - an embedded Postgres and a Temporal dev server on free ports in a temporary folder
//     (scripts/provision/isolated-stack.ts, as the test suite does);
//   - the real API: `api/server.ts` (buildApp + listen) as child processes on free ports, one whose
//     conversation task queue no worker polls (for the ack measures (a)/(b), so the workflows the
//     load starts wait inertly instead of competing for the 2 cores) and one whose queue is
//     served by
//   - the real worker: `workers/main.ts` as a child process polling the `conversations` queue;
//   - in this process: the fake Graph API (test/fakes/graph-api.ts), a fake LLM for the naive
//     design, and the load generators (autocannon, and an open-loop paced sender).
//
// Measures:
//   (a) bare signalWithStart: N concurrent client calls, each to a new workflow id, on a task
//       queue with no worker (the workflows stay there, inert);
//   (b) signed POST /webhooks/whatsapp at full speed (autocannon), as a share of (a); then at 80 %
//       of that rate, with autocannon's overallRate and with the paced open-loop sender;
//   (c) webhook → reply received by the fake Graph API, 5 and 20 new conversations/s, with the
//       tenant's quiet window at 0 and at its default (1500 ms);
//   (h) the history events one answered message costs, read from the histories of sampled
//       conversations of the light phase: a new conversation, then a second message to it;
//   (s) sustained replies/s under a closed loop of new conversations, in rounds that alternate with
//       rounds of (a), as a share of those (a) rounds;
//   (d) a burst of 200 deliveries against the naive design (LLM inline, bench/naive-webhook.ts)
//       and against ours: ack latency of each.
//
// BENCH_TRACING=1 runs the API and the worker with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT at an
// OTLP/HTTP receiver in the bench process, test/support/otlp-receiver.ts, which only counts what
// it is sent): the same measures, with the cost of tracing in them. The report says TRACED.
// BENCH_TRACING_RATIO=0.1 samples that share of the traces (the OpenTelemetry SDK's
// parentbased_traceidratio sampler, as production would set OTEL_TRACES_SAMPLER): the API decides
// for each request, and the worker follows the decision that travels with the message.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { DefaultLogger, Runtime } from '@temporalio/worker';
import autocannon from 'autocannon';
import getPort from 'get-port';
import { signalInbound } from '../api/conversation-signal.ts';
import { whatsappProvider } from '../api/webhooks/whatsapp.ts';
import { createChannel } from '../lib/channels.ts';
import { loadConfig } from '../lib/config.ts';
import { temporalDataConverter } from '../lib/temporal.ts';
import { createDb, type Db } from '../lib/db.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { PROJECT_ROOT } from '../scripts/provision/tools.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../test/fakes/graph-api.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../test/support/otlp-receiver.ts';
import { httpOk, killAllChildren, startChild, waitUntil, type Child } from './lib/children.ts';
import { closedLoop, mergeClosedLoops, type ClosedLoopResult } from './lib/closed-loop.ts';
import { conversationWorkflowIds } from './lib/conversation-ids.ts';
import { CpuMeter, machineBusy, type CpuUsage } from './lib/cpu.ts';
import {
  countEvents,
  endOfReply,
  firstSignal,
  formatTypes,
  pathBreakdown,
  settledHistory,
  type BreakdownSummary,
  type EventCounts,
  type HistoryEvent,
  type ReplySample,
} from './lib/history.ts';
import { pacedPost, type PacedResult } from './lib/paced.ts';
import { trackReplies, type ReplyLog } from './lib/replies.ts';
import { startStack, type Stack } from '../scripts/provision/isolated-stack.ts';
import { fmt, sleep, summarize, type Summary } from './lib/stats.ts';
import { signedTextDelivery, userId, type BenchChannel } from './lib/whatsapp.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const TRACING = process.env.BENCH_TRACING === '1';
const TRACING_RATIO = process.env.BENCH_TRACING_RATIO;
const scale = (ms: number) => (QUICK ? Math.round(ms / 4) : ms);

/** Durations and sizes; BENCH_QUICK=1 shortens every phase to a quarter (for trying the harness). */
const PLAN = {
  concurrency: 50,
  warmupMs: scale(2_000),
  /** (a) and (b) alternate in this many rounds of roundMs each. */
  rounds: 3,
  roundMs: scale(4_000),
  ackMs: scale(10_000),
  replyRate: 20,
  replyMs: scale(20_000),
  /** A light load first: the latency floor of one conversation when nothing queues. */
  lightRate: 5,
  lightMs: scale(8_000),
  replyDrainMs: 45_000,
  /** (h) conversations of the light phase (quiet window 0) whose histories are counted, then sent a second message. */
  historySamples: 10,
  /** (h) how long a sampled history may take to become quiescent. */
  settleMs: 20_000,
  /** (s) closed loop, in rounds after a round of (a) each: conversations in flight, warm-up, then the steady window counted. */
  sustainedConcurrency: 50,
  sustainedRounds: 3,
  sustainedWarmupMs: QUICK ? 2_000 : 3_000,
  sustainedSteadyMs: scale(8_000),
  burst: 200,
  naiveLlmMs: 2_000,
  /** The whole run stops itself after this, whatever happens. */
  watchdogMs: 9 * 60_000,
  /** Before starting, wait (at most this long) for load from outside this benchmark to settle. */
  quietWaitMs: 30_000,
  quietBelowCores: 0.3,
};

const TARGETS = {
  ackShare: 0.9,
  ackP99Ms: 50,
  overheadP50Ms: 100,
  overheadP99Ms: 400,
  // The conversation hot path (see bench/README.md, "Hot-path targets").
  eventsNew: 24,
  eventsExisting: 20,
  sustainedShare: 0.2,
  lightOverheadP50Ms: 150,
  lightOverheadP99Ms: 300,
};

const WHATSAPP_TOKEN = 'EAAG-bench-whatsapp-token';
const QUESTION = 'What are your opening hours on Saturday?';
const FOLLOW_UP = 'And on Sunday?';
const IDLE_PREFIX = 'bench-idle-';
const LIVE_PREFIX = 'bench-live-';
const BARE_PREFIX = 'bench-bare-';
const LIVE_QUEUE = `${LIVE_PREFIX}conversations`;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';

const log = (message: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

// ---------------------------------------------------------------------------------------------

/** The events a stretch of history holds, over the sampled conversations. */
interface HistoryCost {
  /** Samples whose history became quiescent (the others are left out). */
  samples: number;
  unsettled: number;
  /** Events from the stretch's first event to the quiescent end: median, min, max. */
  events: { median: number; min: number; max: number };
  /** Events from the stretch's first event through the workflow task completed after the reply's acceptance (median). */
  throughReply: number;
  /** The sample with the median count, in detail. */
  example: EventCounts & { workflowId: string };
}

interface Phase {
  id: string;
  cpu?: CpuUsage;
}

interface Results {
  bare?: { ops: number; latency: Summary; errors: number; concurrency: number; seconds: number };
  ackMax?: { rate: number; share: number; shares: number[]; p50: number; p99: number; non2xx: number; errors: number; seconds: number };
  ackCannon80?: { target: number; rate: number; p50: number; p99: number; non2xx: number; errors: number };
  ackPaced80?: { target: number; rate: number; latency: Summary; failed: number };
  replies: { label: string; breakdown?: BreakdownSummary; replyThroughput: number; quietWindowMs: number; rate: number; sent: number; delivered: number; e2e: Summary; overhead: Summary; ack: Summary; failed: number }[];
  /** (h) history cost of one answered message: a new conversation, and a second message to it. */
  history?: { fresh?: HistoryCost; existing?: HistoryCost; followUp?: { sent: number; delivered: number; e2e: Summary } };
  /** (s) its rounds merged; bareOps: signalWithStart/s of the (a) rounds run between them; shares: per round. */
  sustained?: ClosedLoopResult & { concurrency: number; warmupMs: number; rounds: number; bareOps: number; shares: number[] };
  naive?: { p50: number; p99: number; max: number; ok: number; errors: number; lastReplyMs: number; replies: number };
  oursBurst?: { p50: number; p99: number; max: number; ok: number; errors: number; lastReplyMs: number; replies: number };
  phases: Phase[];
  /** Cores busy machine-wide just before the run (other people's work on this machine). */
  loadBefore?: number;
  /** BENCH_TRACING=1: what the API and the worker exported. */
  traced?: { requests: number; bytes: number };
}

export async function runConversationsBench(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const results: Results = { replies: [], phases: [] };
  const children: Child[] = [];
  let stack: Stack | undefined;
  let graph: FakeGraphApi | undefined;
  let llm: Server | undefined;
  let otlp: OtlpReceiver | undefined;
  let db: Db | undefined;
  let client: { client: Client; connection: Connection } | undefined;
  let failed = false;

  const teardown = async () => {
    await Promise.allSettled(children.map((c) => c.stop()));
    await client?.connection.close().catch(() => {});
    await db?.$disconnect().catch(() => {});
    await graph?.close().catch(() => {});
    await otlp?.close().catch(() => {});
    if (llm) {
      llm.closeAllConnections();
      await new Promise((r) => llm!.close(r));
    }
    await stack?.close(failed);
    if (failed && stack) log(`logs kept in ${stack.dataRoot}`);
  };

  const watchdog = setTimeout(() => {
    log(`watchdog: the benchmark ran for more than ${PLAN.watchdogMs / 60_000} minutes; stopping`);
    failed = true;
    void Promise.race([teardown(), sleep(30_000)]).finally(() => {
      killAllChildren();
      process.exit(2);
    });
  }, PLAN.watchdogMs);
  watchdog.unref();
  const onSignal = () => {
    log('interrupted; stopping');
    failed = true;
    void Promise.race([teardown(), sleep(30_000)]).finally(() => {
      killAllChildren();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // ---- Servers -------------------------------------------------------------------------
    results.loadBefore = await waitForQuietMachine();
    const t0 = Date.now();
    log('starting Postgres and the Temporal dev server…');
    stack = await startStack({ name: 'bench', database: 'metachat_bench' });
    log(`servers up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${stack.versions.postgres}; ${stack.versions.temporalCli})`);

    graph = await startFakeGraphApi({ accessTokens: [WHATSAPP_TOKEN] });
    if (TRACING) otlp = await startOtlpReceiver({ decode: false });
    /** Every text the fake Graph API accepted, per recipient, with when. */
    const replies = trackReplies(graph);

    llm = await startFakeLlm(PLAN.naiveLlmMs);
    const llmUrl = `http://127.0.0.1:${(llm.address() as { port: number }).port}/v1/reply`;

    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      ADMIN_API_KEY: randomBytes(24).toString('base64url'),
      SECRETS_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      META_GRAPH_API_URL: graph.url,
      // The default per-IP budget for webhooks is RATE_LIMIT_IP_PER_MINUTE × 10 = 12 000/min
      // (200/s); every request of this benchmark comes from 127.0.0.1.
      RATE_LIMIT_IP_PER_MINUTE: '100000000',
      ...(otlp && { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }),
      ...(otlp && TRACING_RATIO && { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: TRACING_RATIO }),
    };
    const config = loadConfig(env);
    db = createDb(config, 'metachat-bench');

    // Tenants: one with the quiet window at 0, one with the default (1500 ms).
    const quiet0 = await benchTenant(db, config.SECRETS_KEYS, 'quiet-0', 0);
    const quietDefault = await benchTenant(db, config.SECRETS_KEYS, 'quiet-default', undefined);
    const naiveChannel: BenchChannel = { tenantId: '-', channelId: '-', phoneNumberId: '109999000000001', appSecret: randomBytes(16).toString('hex'), quietWindowMs: 0 };

    // Child processes.
    const dataRoot = stack.dataRoot;
    const logFile = (name: string) => join(dataRoot, `${name}.log`);
    const [idlePort, livePort, naivePort] = await Promise.all([getPort({ host: '127.0.0.1' }), getPort({ host: '127.0.0.1' }), getPort({ host: '127.0.0.1' })]);
    const worker = startChild('worker', 'workers/main.ts', { ...env, WORKER_TASK_QUEUES: 'conversations', TEMPORAL_TASK_QUEUE_PREFIX: LIVE_PREFIX }, logFile('worker'));
    children.push(worker);
    const apiIdle = startChild('api (no worker)', 'api/server.ts', { ...env, HOST: '127.0.0.1', PORT: String(idlePort), TEMPORAL_TASK_QUEUE_PREFIX: IDLE_PREFIX }, logFile('api-idle'));
    children.push(apiIdle);
    const apiLive = startChild('api', 'api/server.ts', { ...env, HOST: '127.0.0.1', PORT: String(livePort), TEMPORAL_TASK_QUEUE_PREFIX: LIVE_PREFIX }, logFile('api-live'));
    children.push(apiLive);
    const naive = startChild('naive', 'bench/naive-webhook.ts', { PORT: String(naivePort), APP_SECRET: naiveChannel.appSecret, ACCESS_TOKEN: WHATSAPP_TOKEN, LLM_URL: llmUrl, GRAPH_URL: graph.url }, logFile('naive'));
    children.push(naive);
    const idleUrl = `http://127.0.0.1:${idlePort}`;
    const liveUrl = `http://127.0.0.1:${livePort}`;
    const naiveUrl = `http://127.0.0.1:${naivePort}`;

    const connection = await Connection.connect({ address: stack.temporalAddress });
    client = { client: new Client({ connection, namespace: 'default', dataConverter: temporalDataConverter(config.SECRETS_KEYS) }), connection };
    const temporal = client.client;

    await Promise.all([
      waitUntil('API (no worker)', () => httpOk(`${idleUrl}/health/ready`), 60_000, apiIdle),
      waitUntil('API', () => httpOk(`${liveUrl}/health/ready`), 60_000, apiLive),
      waitUntil('naive webhook server', () => httpOk(`${naiveUrl}/health`), 60_000, naive),
      waitUntil('worker', () => hasPollers(temporal, `${LIVE_PREFIX}conversations`), 120_000, worker),
    ]);
    log(`API, worker and naive server up (${((Date.now() - t0) / 1000).toFixed(1)} s since start)`);

    const meter = new CpuMeter(process.pid, ({ pid, comm }, ancestors) => {
      const lineage = [pid, ...ancestors];
      if (lineage.includes(apiIdle.pid) || lineage.includes(apiLive.pid)) return 'api';
      if (lineage.includes(worker.pid)) return 'worker';
      if (lineage.includes(naive.pid)) return 'naive';
      if (pid === process.pid) return 'bench';
      if (comm.startsWith('postgres')) return 'postgres';
      if (comm.startsWith('temporal')) return 'temporal';
      return 'other';
    });
    const measure = async <T>(id: string, body: () => Promise<T>): Promise<T> => {
      const from = meter.snapshot();
      const value = await body();
      results.phases.push({ id, cpu: meter.usage(from) });
      return value;
    };

    let run = 100;

    // ---- (a) bare signalWithStart and (b) signed webhook acks, interleaved ----------------
    // This machine is shared: other people's builds come and go. Alternating short rounds of (a)
    // and (b) exposes both to the same outside load, so their ratio means something.
    log(`(a)/(b) ${PLAN.rounds} rounds of ${PLAN.roundMs / 1000} s each: bare signalWithStart (${PLAN.concurrency} concurrent, task queue without worker), then signed webhooks (autocannon, ${PLAN.concurrency} connections)…`);
    await bareSignalWithStart(temporal, quiet0, run++, PLAN.concurrency, PLAN.warmupMs);
    await cannon({ url: idleUrl, channel: quiet0, run: run++, connections: PLAN.concurrency, durationMs: PLAN.warmupMs });
    const bareRounds: Awaited<ReturnType<typeof bareSignalWithStart>>[] = [];
    const ackRounds: CannonResult[] = [];
    for (let i = 1; i <= PLAN.rounds; i++) {
      const a = await measure(`a#${i}`, () => bareSignalWithStart(temporal, quiet0, run++, PLAN.concurrency, PLAN.roundMs));
      const b = await measure(`b#${i}`, () => cannon({ url: idleUrl, channel: quiet0, run: run++, connections: PLAN.concurrency, durationMs: PLAN.roundMs }));
      bareRounds.push(a);
      ackRounds.push(b);
      log(`  round ${i}: (a) ${fmt(a.ops)} ops/s, (b) ${fmt(b.rate)} acks/s = ${fmt((b.rate / a.ops) * 100)} %`);
    }
    const bareSeconds = bareRounds.reduce((sum, a) => sum + a.seconds, 0);
    const bareOps = bareRounds.reduce((sum, a) => sum + a.latencies.length, 0) / bareSeconds;
    results.bare = {
      ops: bareOps,
      latency: summarize(bareRounds.flatMap((a) => a.latencies)),
      errors: bareRounds.reduce((sum, a) => sum + a.errors, 0),
      concurrency: PLAN.concurrency,
      seconds: bareSeconds,
    };
    const ackSeconds = ackRounds.reduce((sum, b) => sum + b.seconds, 0);
    const maxRate = ackRounds.reduce((sum, b) => sum + b.ok, 0) / ackSeconds;
    const ackLatency = summarize(ackRounds.flatMap((b) => b.latencies));
    results.ackMax = {
      rate: maxRate,
      share: maxRate / bareOps,
      shares: ackRounds.map((b, i) => b.rate / bareRounds[i]!.ops),
      p50: ackLatency.p50,
      p99: ackLatency.p99,
      non2xx: ackRounds.reduce((sum, b) => sum + b.non2xx, 0),
      errors: ackRounds.reduce((sum, b) => sum + b.errors, 0),
      seconds: ackSeconds,
    };
    log(`(a) ${fmt(bareOps)} ops/s, p50 ${fmt(results.bare.latency.p50, 1)} ms, p99 ${fmt(results.bare.latency.p99, 1)} ms, ${results.bare.errors} errors`);
    log(`(b) ${fmt(maxRate)} acks/s = ${fmt(results.ackMax.share * 100)} % of (a), p50 ${fmt(ackLatency.p50, 1)} ms, p99 ${fmt(ackLatency.p99, 1)} ms, non-2xx ${results.ackMax.non2xx}, errors ${results.ackMax.errors}`);

    const target80 = Math.max(1, Math.round(maxRate * 0.8));
    log(`(b) at 80 %: ${target80}/s with autocannon overallRate…`);
    const at80 = await measure('b80-autocannon', () =>
      cannon({ url: idleUrl, channel: quiet0, run: run++, connections: PLAN.concurrency, durationMs: PLAN.ackMs, overallRate: target80 }),
    );
    const at80Latency = summarize(at80.latencies);
    results.ackCannon80 = { target: target80, rate: at80.rate, p50: at80Latency.p50, p99: at80Latency.p99, non2xx: at80.non2xx, errors: at80.errors };
    log(`(b) autocannon @${target80}/s: ${fmt(at80.rate)}/s, p50 ${fmt(at80Latency.p50, 1)} ms, p99 ${fmt(at80Latency.p99, 1)} ms`);

    log(`(b) at 80 %: ${target80}/s evenly paced (open loop)…`);
    const paced80 = await measure('b80-paced', () => pacedWebhooks(idleUrl, quiet0, run++, target80, PLAN.ackMs));
    results.ackPaced80 = { target: target80, rate: paced80.result.achievedRate, latency: summarize(paced80.result.latencies), failed: paced80.result.failed };
    log(`(b) paced @${target80}/s: p50 ${fmt(results.ackPaced80.latency.p50, 1)} ms, p99 ${fmt(results.ackPaced80.latency.p99, 1)} ms, failed ${paced80.result.failed}`);

    // ---- (c) webhook → reply ---------------------------------------------------------------
    // A few conversations first, so that the worker's caches and connections are warm.
    const warm = await pacedWebhooks(liveUrl, quiet0, run++, 10, 1_000);
    await waitForReplies(replies, warm.users, 30_000);
    const replyPhases = [
      { id: 'c-light-q0', channel: quiet0, rate: PLAN.lightRate, durationMs: PLAN.lightMs },
      { id: `c-light-q${quietDefault.quietWindowMs}`, channel: quietDefault, rate: PLAN.lightRate, durationMs: PLAN.lightMs },
      { id: 'c-q0', channel: quiet0, rate: PLAN.replyRate, durationMs: PLAN.replyMs },
      { id: `c-q${quietDefault.quietWindowMs}`, channel: quietDefault, rate: PLAN.replyRate, durationMs: PLAN.replyMs },
    ];
    for (const { id, channel, rate, durationMs } of replyPhases) {
      log(`(c) webhook → reply, ${rate} new conversations/s for ${durationMs / 1000} s, quiet window ${channel.quietWindowMs} ms…`);
      const r = run++;
      const startedEpoch = Date.now();
      const outcome = await measure(id, async () => {
        const sent = await pacedWebhooks(liveUrl, channel, r, rate, durationMs);
        const missing = await waitForReplies(replies, sent.users, PLAN.replyDrainMs);
        await terminateConversations(temporal, channel.tenantId, missing, startedEpoch);
        return sent;
      });
      // A conversation without a reply counts as infinitely slow: percentiles it reaches say so.
      const e2e: number[] = [];
      let firstSend = Number.POSITIVE_INFINITY;
      let lastReply = 0;
      for (const [user, scheduledAt] of outcome.users) {
        firstSend = Math.min(firstSend, scheduledAt);
        const at = replies.after(user, scheduledAt)?.at;
        if (at !== undefined) {
          e2e.push(at - scheduledAt);
          lastReply = Math.max(lastReply, at);
        } else e2e.push(Number.POSITIVE_INFINITY);
      }
      const delivered = e2e.filter(Number.isFinite).length;
      const e2eSummary = summarize(e2e);
      const overhead = summarize(e2e.map((v) => v - channel.quietWindowMs));
      const answered = [...outcome.users].filter(([user, at]) => replies.after(user, at));
      const ids = await conversationWorkflowIds(temporal, channel.tenantId, answered.map(([user]) => user), { taskQueue: LIVE_QUEUE, startedSince: startedEpoch });
      const samples: ReplySample[] = answered.flatMap(([user, at]) => {
        const workflowId = ids.get(user);
        return workflowId ? [{ workflowId, replyEpoch: replies.after(user, at)!.epoch }] : [];
      });
      results.replies.push({
        label: id,
        quietWindowMs: channel.quietWindowMs,
        rate: outcome.result.achievedRate,
        sent: outcome.users.size,
        delivered,
        e2e: e2eSummary,
        overhead,
        ack: summarize(outcome.result.latencies),
        failed: outcome.result.failed,
        replyThroughput: delivered / Math.max(0.001, (lastReply - firstSend) / 1000),
        breakdown: await pathBreakdown(temporal, samples),
      });
      log(`(c) ${id}: ${delivered}/${outcome.users.size} replies, end-to-end p50 ${fmtMs(e2eSummary.p50)} p99 ${fmtMs(e2eSummary.p99)}; overhead p50 ${fmtMs(overhead.p50)} p99 ${fmtMs(overhead.p99)}`);

      // ---- (h) history events per answered message, on the light phase with quiet window 0 ----
      if (id === 'c-light-q0') {
        const picked = answered.slice(0, PLAN.historySamples).filter(([user]) => ids.has(user));
        results.history = await measure('h-second-message', () => historyCost(temporal, replies, liveUrl, channel, picked.map(([user, at]) => ({ user, workflowId: ids.get(user)!, sentAt: at }))));
        const h = results.history;
        log(
          `(h) history events per answered message: new conversation ${fmtCount(h.fresh)} (target ≤ ${TARGETS.eventsNew}), ` +
            `second message ${fmtCount(h.existing)} (target ≤ ${TARGETS.eventsExisting}); second message webhook → reply p50 ${fmtMs(h.followUp?.e2e.p50 ?? Number.NaN)}`,
        );
        if (h.fresh) log(`(h)   new conversation, ${h.fresh.example.workflowId}: ${formatTypes(h.fresh.example)}`);
        if (h.existing) log(`(h)   second message, ${h.existing.example.workflowId}: ${formatTypes(h.existing.example)}`);
      }
    }

    // ---- (s) sustained replies/s, closed loop, in rounds alternating with (a) ------------------
    // Like (a)/(b): each closed-loop round follows a round of bare signalWithStart, so that the
    // share compares the two under the same outside load on a shared machine.
    log(
      `(s) sustained replies: ${PLAN.sustainedRounds} rounds of bare signalWithStart (${PLAN.roundMs / 1000} s), then a closed loop of ${PLAN.sustainedConcurrency} new conversations in flight ` +
        `(quiet window 0, ${PLAN.sustainedWarmupMs / 1000} s warm-up + ${PLAN.sustainedSteadyMs / 1000} s counted)…`,
    );
    {
      const startedEpoch = Date.now();
      const bare: Awaited<ReturnType<typeof bareSignalWithStart>>[] = [];
      const loops: ClosedLoopResult[] = [];
      for (let i = 1; i <= PLAN.sustainedRounds; i++) {
        bare.push(await measure(`s-a#${i}`, () => bareSignalWithStart(temporal, quiet0, run++, PLAN.concurrency, PLAN.roundMs)));
        const r = run++;
        const loop = await measure(`s-closed-loop#${i}`, () =>
          closedLoop({
            baseUrl: liveUrl,
            concurrency: PLAN.sustainedConcurrency,
            warmupMs: PLAN.sustainedWarmupMs,
            steadyMs: PLAN.sustainedSteadyMs,
            replies,
            replyTimeoutMs: PLAN.replyDrainMs,
            make: (n) => {
              const user = userId(r, n);
              return { user, path: '/webhooks/whatsapp', ...signedTextDelivery(quiet0, user, QUESTION) };
            },
          }),
        );
        loops.push(loop);
        log(`  round ${i}: (a) ${fmt(bare.at(-1)!.ops)} ops/s, (s) ${fmt(loop.repliesPerSecond, 1)} replies/s = ${fmt((loop.repliesPerSecond / bare.at(-1)!.ops) * 100, 1)} %`);
      }
      const sustained = mergeClosedLoops(loops);
      if (sustained.lost.length) {
        log(`  ${sustained.lost.length} conversations got no reply within ${PLAN.replyDrainMs / 1000} s; they are terminated`);
        await terminateConversations(temporal, quiet0.tenantId, sustained.lost, startedEpoch);
      }
      const bareOps = bare.reduce((n, a) => n + a.latencies.length, 0) / bare.reduce((t, a) => t + a.seconds, 0);
      const shares = loops.map((l, i) => l.repliesPerSecond / bare[i]!.ops);
      results.sustained = { ...sustained, concurrency: PLAN.sustainedConcurrency, warmupMs: PLAN.sustainedWarmupMs, rounds: loops.length, bareOps, shares };
      const share = sustained.repliesPerSecond / bareOps;
      log(
        `(s) ${fmt(sustained.repliesPerSecond, 1)} replies/s over the steady windows (per second ${sustained.perSecond.min}–${sustained.perSecond.max}) = ${fmt(share * 100, 1)} % of the ${fmt(bareOps)} ops/s of its (a) rounds (target ≥ ${TARGETS.sustainedShare * 100} %); ` +
          `${sustained.sent} sent, ${sustained.replied} replied, ${sustained.lost.length} lost, ${sustained.ackFailed} not acknowledged; send → reply p50 ${fmt(sustained.latency.p50)} ms`,
      );
    }

    // ---- (d) burst: naive vs ours ------------------------------------------------------------
    log(`(d) burst of ${PLAN.burst} deliveries against the naive design (LLM inline, ${PLAN.naiveLlmMs / 1000} s)…`);
    const naiveStart = performance.now();
    const naiveRun = run++;
    const naiveBurst = await measure('d-naive', () => cannon({ url: naiveUrl, channel: naiveChannel, run: naiveRun, connections: PLAN.burst, amount: PLAN.burst, timeoutS: 30 }));
    const naiveReplies = Array.from({ length: PLAN.burst }, (_, i) => userId(naiveRun, i)).filter((u) => replies.after(u)).length;
    const naiveLatency = summarize(naiveBurst.latencies);
    results.naive = {
      p50: naiveLatency.p50,
      p99: naiveLatency.p99,
      max: naiveLatency.max,
      ok: naiveBurst.ok,
      errors: naiveBurst.errors + naiveBurst.non2xx,
      lastReplyMs: performance.now() - naiveStart,
      replies: naiveReplies,
    };
    log(`(d) naive: ack p50 ${fmt(naiveLatency.p50)} ms, p99 ${fmt(naiveLatency.p99)} ms (${naiveBurst.ok}/${PLAN.burst} ok)`);

    log(`(d) burst of ${PLAN.burst} deliveries against ours (quiet window ${quietDefault.quietWindowMs} ms)…`);
    const oursRun = run++;
    const oursUsers = Array.from({ length: PLAN.burst }, (_, i) => userId(oursRun, i));
    const oursStart = performance.now();
    const oursStartEpoch = Date.now();
    const oursBurst = await measure('d-ours', async () => {
      const result = await cannon({ url: liveUrl, channel: quietDefault, run: oursRun, connections: PLAN.burst, amount: PLAN.burst, timeoutS: 30 });
      const missing = await waitForReplies(replies, new Map(oursUsers.map((u) => [u, oursStart])), PLAN.replyDrainMs);
      await terminateConversations(temporal, quietDefault.tenantId, missing, oursStartEpoch);
      return result;
    });
    const oursReplies = oursUsers.map((u) => replies.after(u, oursStart)?.at).filter((t): t is number => t !== undefined);
    const oursLatency = summarize(oursBurst.latencies);
    results.oursBurst = {
      p50: oursLatency.p50,
      p99: oursLatency.p99,
      max: oursLatency.max,
      ok: oursBurst.ok,
      errors: oursBurst.errors + oursBurst.non2xx,
      lastReplyMs: oursReplies.length ? Math.max(...oursReplies) - oursStart : Number.NaN,
      replies: oursReplies.length,
    };
    log(`(d) ours: ack p50 ${fmt(oursLatency.p50)} ms, p99 ${fmt(oursLatency.p99)} ms; ${oursReplies.length}/${PLAN.burst} replies, the last ${fmt(results.oursBurst.lastReplyMs / 1000, 1)} s after the burst began`);

    // ---- Report ------------------------------------------------------------------------------
    if (otlp) results.traced = { requests: otlp.requests, bytes: otlp.bytes };
    const report = renderReport(results, {
      temporalCli: stack.versions.temporalCli,
      postgres: stack.versions.postgres,
      quietDefault: quietDefault.quietWindowMs,
    });
    process.stdout.write(`\n${report}\n`);
    const resultsFile = join(PROJECT_ROOT, 'bench', 'RESULTS.md');
    if (!existsSync(resultsFile)) writeFileSync(resultsFile, RESULTS_HEADER);
    appendFileSync(resultsFile, `\n${report}\n`);
    log(`appended to ${resultsFile}`);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    clearTimeout(watchdog);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    log('stopping everything…');
    await Promise.race([teardown(), sleep(60_000)]);
    killAllChildren();
  }

  // ---- Steps ---------------------------------------------------------------------------------

  async function benchTenant(db: Db, keyring: ReturnType<typeof loadConfig>['SECRETS_KEYS'], name: string, quietWindowMs: number | undefined): Promise<BenchChannel> {
    const slug = `bench-${name}-${randomBytes(3).toString('hex')}`;
    const { tenant } = await createTenant(db, {
      name: `Bench ${name}`,
      slug,
      ...(quietWindowMs === undefined ? {} : { settings: { conversation: { quietWindowMs } } }),
    });
    const phoneNumberId = `10${Array.from(randomBytes(13), (b) => String(b % 10)).join('')}`;
    const appSecret = randomBytes(16).toString('hex');
    const channel = await createChannel(forTenant(db, tenant.id), keyring, {
      type: 'whatsapp',
      name: 'WhatsApp',
      phoneNumberId,
      wabaId: '555000111',
      accessToken: WHATSAPP_TOKEN,
      appSecret,
      verifyToken: `verify-${slug}`,
    });
    const settings = await db.tenant.findUniqueOrThrow({ where: { id: tenant.id } });
    const effective = (settings.settings as { conversation?: { quietWindowMs?: number } } | null)?.conversation?.quietWindowMs;
    return { tenantId: tenant.id, channelId: channel.id, phoneNumberId, appSecret, quietWindowMs: effective ?? quietWindowMs ?? 1500 };
  }
}

// ---- Load ------------------------------------------------------------------------------------

/** (a): `concurrency` loops of signalWithStart, each call to a new workflow id, for `durationMs`. */
async function bareSignalWithStart(client: Client, channel: BenchChannel, run: number, concurrency: number, durationMs: number) {
  const latencies: number[] = [];
  let errors = 0;
  let seq = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const deps = { temporal: client, config: { TEMPORAL_TASK_QUEUE_PREFIX: BARE_PREFIX } };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const user = userId(run, seq++);
        // The message exactly as the webhook reads it from a delivery (api/webhooks/whatsapp.ts)…
        const parsed = whatsappProvider.read(JSON.parse(signedTextDelivery(channel, user, QUESTION).body));
        if (!parsed.success) throw new Error(`the bench's own delivery does not parse: ${parsed.error.message}`);
        const messages = parsed.data.inbound.map((item) => item.message);
        const t = performance.now();
        try {
          // …and the very call the webhook makes with it (api/conversation-signal.ts: workflow id,
          // arguments, signal, search attributes, deadline), to a queue no worker polls.
          await signalInbound(deps, { tenantId: channel.tenantId, channel: 'whatsapp', channelId: channel.channelId, externalUserId: user, messages });
          latencies.push(performance.now() - t);
        } catch {
          errors++;
          await sleep(10);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ops: latencies.length / seconds, latencies, errors, seconds };
}

interface CannonOptions {
  url: string;
  channel: Pick<BenchChannel, 'phoneNumberId' | 'appSecret'>;
  run: number;
  connections: number;
  durationMs?: number;
  amount?: number;
  overallRate?: number;
  timeoutS?: number;
}

interface CannonResult {
  ok: number;
  rate: number;
  seconds: number;
  non2xx: number;
  errors: number;
  /** Each 2xx response's latency (ms, from autocannon's own timing of the request). */
  latencies: number[];
}

/** autocannon against POST /webhooks/whatsapp, each request a new user's signed delivery. */
function cannon(options: CannonOptions): Promise<CannonResult> {
  let seq = 0;
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: (options.durationMs ?? 10_000) / 1000 }),
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
        timeout: options.timeoutS ?? 10,
        requests: [
          {
            method: 'POST',
            path: '/webhooks/whatsapp',
            setupRequest: (request) => {
              const delivery = signedTextDelivery(options.channel, userId(options.run, seq++), QUESTION);
              return { ...request, method: 'POST', path: '/webhooks/whatsapp', headers: delivery.headers, body: delivery.body };
            },
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        resolve({ ok: result['2xx'], rate: result['2xx'] / result.duration, seconds: result.duration, non2xx: result.non2xx, errors: result.errors, latencies });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/**
 * (h) What one answered message costs in history events, from the histories of `samples` (new
 * conversations already answered): each history once quiescent, from WorkflowExecutionStarted;
 * then a second message to each of them (light pace), and the events it added, from its
 * WorkflowExecutionSignaled to the quiescent end.
 */
async function historyCost(client: Client, replies: ReplyLog, baseUrl: string, channel: BenchChannel, samples: { user: string; workflowId: string; sentAt: number }[]): Promise<NonNullable<Results['history']>> {
  const first = await Promise.all(samples.map(async (s) => ({ ...s, history: await settledHistory(client, s.workflowId, PLAN.settleMs) })));
  const settled = first.filter((f) => f.history.settled);
  for (const f of first) if (!f.history.settled) log(`  (h) ${f.workflowId} not quiescent after ${PLAN.settleMs / 1000} s (${f.history.pending}); left out`);
  const fresh = costOf(
    settled.map((f) => ({ workflowId: f.workflowId, stretch: f.history.events, throughReply: endOfReply(f.history.events, replies.after(f.user, f.sentAt)?.epoch ?? Number.NaN) })),
    first.length - settled.length,
  );
  if (settled.length === 0) return { fresh };

  const users = settled.map((f) => f.user);
  const boundary = new Map(settled.map((f) => [f.user, f.history.events.length]));
  const sent = new Map<string, number>();
  await pacedPost({
    baseUrl,
    ratePerSecond: PLAN.lightRate,
    durationMs: (users.length / PLAN.lightRate) * 1000,
    make: (i) => ({ path: '/webhooks/whatsapp', ...signedTextDelivery(channel, users[i]!, FOLLOW_UP) }),
    onScheduled: (i, at) => sent.set(users[i]!, at),
  });
  await waitForReplies(replies, sent, PLAN.replyDrainMs);
  const e2e = [...sent].map(([user, at]) => (replies.after(user, at)?.at ?? Number.POSITIVE_INFINITY) - at);
  const followUp = { sent: sent.size, delivered: e2e.filter(Number.isFinite).length, e2e: summarize(e2e) };

  const answered = settled.filter((f) => replies.after(f.user, sent.get(f.user) ?? Number.POSITIVE_INFINITY));
  const second = await Promise.all(answered.map(async (f) => ({ ...f, history: await settledHistory(client, f.workflowId, PLAN.settleMs) })));
  const items: { workflowId: string; stretch: HistoryEvent[]; throughReply: number | undefined }[] = [];
  let unsettled = settled.length - answered.length;
  for (const f of second) {
    const from = f.history.settled ? firstSignal(f.history.events, boundary.get(f.user)!) : undefined;
    if (from === undefined) {
      unsettled++;
      log(`  (h) ${f.workflowId}: the second message's stretch is not quiescent after ${PLAN.settleMs / 1000} s (${f.history.pending ?? 'no signal found'}); left out`);
      continue;
    }
    const end = endOfReply(f.history.events, replies.after(f.user, sent.get(f.user)!)!.epoch, from);
    items.push({ workflowId: f.workflowId, stretch: f.history.events.slice(from), throughReply: end === undefined ? undefined : end - from });
  }
  return { fresh, existing: costOf(items, unsettled), followUp };
}

/** Counts over the sampled stretches of history: median (with its sample in detail), min, max. */
function costOf(items: { workflowId: string; stretch: HistoryEvent[]; throughReply: number | undefined }[], unsettled: number): HistoryCost | undefined {
  if (items.length === 0) return undefined;
  const counted = items.map((item) => ({ ...item, counts: countEvents(item.stretch) })).sort((a, b) => a.counts.events - b.counts.events);
  const median = counted[Math.floor((counted.length - 1) / 2)]!;
  return {
    samples: counted.length,
    unsettled,
    events: { median: median.counts.events, min: counted[0]!.counts.events, max: counted.at(-1)!.counts.events },
    throughReply: summarize(counted.flatMap((c) => (c.throughReply === undefined ? [] : [c.throughReply]))).p50,
    example: { ...median.counts, workflowId: median.workflowId },
  };
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const fmtCount = (c: HistoryCost | undefined) => (c ? `${c.events.median} events (${c.events.min}–${c.events.max} over ${c.samples} samples)` : '— (no quiescent sample)');

/** Paced (open-loop) signed deliveries, one new user each; returns each user's scheduled send time. */
async function pacedWebhooks(baseUrl: string, channel: BenchChannel, run: number, rate: number, durationMs: number): Promise<{ result: PacedResult; users: Map<string, number> }> {
  const users = new Map<string, number>();
  const result = await pacedPost({
    baseUrl,
    ratePerSecond: rate,
    durationMs,
    make: (i) => ({ path: '/webhooks/whatsapp', ...signedTextDelivery(channel, userId(run, i), QUESTION) }),
    onScheduled: (i, at) => users.set(userId(run, i), at),
  });
  return { result, users };
}

/** Waits (bounded) until the machine is nearly idle; returns the busy cores last seen. */
async function waitForQuietMachine(): Promise<number> {
  const deadline = Date.now() + PLAN.quietWaitMs;
  for (;;) {
    const busy = await machineBusy(3_000);
    if (busy <= PLAN.quietBelowCores) return busy;
    if (Date.now() > deadline) {
      log(`the machine is still busy (${busy.toFixed(2)} cores used by others); measuring anyway — see "outside this bench"`);
      return busy;
    }
    log(`the machine is busy (${busy.toFixed(2)} cores used by other processes); waiting for it to settle…`);
  }
}

/** Waits (bounded) until the fake Graph API received a reply for every user since its send time; returns those without one. */
async function waitForReplies(replies: ReplyLog, users: Map<string, number>, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = [...users].filter(([user, sentAt]) => !replies.after(user, sentAt)).map(([user]) => user);
    if (missing.length === 0) return [];
    if (Date.now() > deadline) {
      log(`  ${missing.length} of ${users.size} replies still missing after ${timeoutMs / 1000} s; their conversations are terminated so that they do not load the next phase`);
      return missing;
    }
    await sleep(50);
  }
}

/** Terminates the conversations of `users` started since `sinceEpoch` (bounded: 10 at a time, 5 s each), best effort. */
async function terminateConversations(client: Client, tenantId: string, users: string[], sinceEpoch: number): Promise<void> {
  if (users.length === 0) return;
  const ids = [...(await conversationWorkflowIds(client, tenantId, users, { taskQueue: LIVE_QUEUE, startedSince: sinceEpoch, timeoutMs: 2_000 })).values()];
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < ids.length) {
        const workflowId = ids[next++]!;
        await client.connection.withDeadline(Date.now() + 5_000, () => client.workflow.getHandle(workflowId).terminate('benchmark phase over')).catch(() => {});
      }
    }),
  );
}

async function hasPollers(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue, kind: protos.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers?.length ?? 0) > 0;
}

/** The naive design's LLM: answers every question after `delayMs`, using no CPU meanwhile. */
async function startFakeLlm(delayMs: number): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: 'We are open 9:00–17:00 on Saturdays.' }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

// ---- Report ----------------------------------------------------------------------------------

const RESULTS_HEADER = `# Benchmark results

Appended by \`npm run bench\` (bench/conversations.ts), newest last. Each section is one run on
one machine; what each row measures and what bounds it is in bench/README.md.
`;

function gitFacts(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes in the working tree)` : commit;
  } catch {
    return 'unknown';
  }
}

/** Milliseconds for a cell; a percentile that falls on an undelivered reply says so. */
const fmtMs = (v: number) => (v === Number.POSITIVE_INFINITY ? `> ${PLAN.replyDrainMs / 1000} s after the last send (not delivered)` : `${fmt(v)} ms`);

const yesNo = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '✅' : '❌');

/** The conversation hot path's targets, each with ✅/❌, and the event types of one sample of each history stretch. */
function hotPathLines(r: Results): string[] {
  const lines: string[] = [];
  lines.push('Hot-path targets (conversation core):');
  lines.push('');
  lines.push('| | measure | result | target | met |');
  lines.push('|---|---|---|---|---|');
  const h = r.history;
  const costCell = (c: HistoryCost | undefined) =>
    c
      ? `**${c.events.median} events** (${c.events.min}–${c.events.max} over ${c.samples} samples${c.unsettled ? `, ${c.unsettled} not quiescent, left out` : ''}; ${fmt(c.throughReply)} through the workflow task after the reply): ` +
        `${count(c.example.workflowTasks, 'workflow task')}, ${count(c.example.activities, 'activity', 'activities')}, ${count(c.example.localActivities, 'local activity marker')}${c.example.otherMarkers ? `, ${count(c.example.otherMarkers, 'other marker')}` : ''}, ${count(c.example.timers, 'timer')} started`
      : 'no quiescent sample';
  lines.push(
    `| h1 | history events per answered message, **new conversation** (quiet window 0, no tools; conversations of c-light-q0): WorkflowExecutionStarted → quiescent after the reply | ${costCell(h?.fresh)} | ≤ ${TARGETS.eventsNew} | ${yesNo(h?.fresh ? h.fresh.events.median <= TARGETS.eventsNew : undefined)} |`,
  );
  const f = h?.followUp;
  lines.push(
    `| h2 | same, **existing conversation**: a second message to each of them once settled: its WorkflowExecutionSignaled → quiescent | ${costCell(h?.existing)}${f ? `; its webhook → reply p50 ${fmtMs(f.e2e.p50)}, p99 ${fmtMs(f.e2e.p99)} (${f.delivered}/${f.sent} replies)` : ''} | ≤ ${TARGETS.eventsExisting} | ${yesNo(h?.existing ? h.existing.events.median <= TARGETS.eventsExisting : undefined)} |`,
  );
  const s = r.sustained;
  if (s) {
    const share = s.repliesPerSecond / s.bareOps;
    const complete = s.lost.length === 0 && s.ackFailed === 0;
    lines.push(
      `| s | sustained replies/s: closed loop of ${s.concurrency} new conversations in flight through the webhook (quiet window 0), replies accepted by the fake Graph API over ${s.rounds} steady windows of ${fmt(s.steadyMs / s.rounds / 1000, 1)} s (each after ${fmt(s.warmupMs / 1000, 1)} s of warm-up), each round after a round of bare signalWithStart as in (a) | ` +
        `**${fmt(s.repliesPerSecond, 1)} replies/s = ${fmt(share * 100, 1)} % of (a)** (${fmt(s.bareOps)} ops/s in its rounds; rounds: ${s.shares.map((x) => `${fmt(x * 100, 1)} %`).join(', ')}; per second ${s.perSecond.min}–${s.perSecond.max}); ${s.sent} conversations, ${s.replied} replied, ${s.lost.length} lost${s.ackFailed ? `, ${s.ackFailed} not acknowledged` : ''}; send → reply p50 ${fmt(s.latency.p50)} ms, p99 ${fmt(s.latency.p99)} ms | ≥ ${TARGETS.sustainedShare * 100} % of (a), none lost | ${yesNo(share >= TARGETS.sustainedShare && complete)} |`,
    );
  } else lines.push(`| s | sustained replies/s | not measured | ≥ ${TARGETS.sustainedShare * 100} % of (a) | — |`);
  const light = r.replies.find((c) => c.label === 'c-light-q0');
  if (light) {
    const all = light.delivered === light.sent;
    const lost = all ? '' : ` (${light.sent - light.delivered} of ${light.sent} undelivered)`;
    lines.push(`| c0 | webhook → reply overhead at light load (c-light-q0: ${fmt(light.rate, 1)} new conversations/s, quiet window 0, ${light.sent} conversations), **p50** | **${fmtMs(light.overhead.p50)}**${lost} | ≤ ${TARGETS.lightOverheadP50Ms} ms | ${yesNo(all && light.overhead.p50 <= TARGETS.lightOverheadP50Ms)} |`);
    lines.push(`| c0 | same, **p99** | **${fmtMs(light.overhead.p99)}**${lost} | ≤ ${TARGETS.lightOverheadP99Ms} ms | ${yesNo(all && light.overhead.p99 <= TARGETS.lightOverheadP99Ms)} |`);
  }
  for (const [label, c] of [['new conversation', h?.fresh], ['second message', h?.existing]] as const) {
    if (!c) continue;
    lines.push('');
    lines.push(`Events of one ${label} (${c.example.events}, \`${c.example.workflowId}\`): ${formatTypes(c.example)}. Steps: ${c.example.steps.join(' → ') || 'none'}.`);
  }
  return lines;
}

function renderReport(r: Results, facts: { temporalCli: string; postgres: string; quietDefault: number }): string {
  const cpus = os.cpus();
  const lines: string[] = [];
  lines.push(`## ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC — commit ${gitFacts()}${QUICK ? ' — QUICK RUN (phases shortened)' : ''}${TRACING ? ` — TRACED${TRACING_RATIO ? ` (sampled ${TRACING_RATIO})` : ''}` : ''}`);
  lines.push('');
  if (r.traced) {
    lines.push(`Tracing on (BENCH_TRACING=1): API and worker exported ${r.traced.requests} OTLP requests, ${fmt(r.traced.bytes / 2 ** 20, 1)} MiB, to a receiver in the bench process that only counts them.`);
    lines.push('');
  }
  lines.push(
    `Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Linux ${os.release()}; ` +
      `Node ${process.version}; ${facts.temporalCli} (dev server, in-memory SQLite); ${facts.postgres} (embedded, fsync off). ` +
      `API = \`api/server.ts\` and worker = \`workers/main.ts\` as child processes (LOG_LEVEL=${LOG_LEVEL}); load generators, fake Graph API and fake LLM in the bench process. ` +
      `Load from other processes just before the run: ${fmt(r.loadBefore, 2)} cores.`,
  );
  lines.push('');
  lines.push(...hotPathLines(r));
  lines.push('');
  lines.push('All measures:');
  lines.push('');
  lines.push('| | measure | result | target | met |');
  lines.push('|---|---|---|---|---|');
  const b = r.bare;
  if (b) {
    lines.push(`| a | bare \`signalWithStart\` (the webhook's call), ${b.concurrency} concurrent client calls, new workflow id each, ${PLAN.rounds} × ${fmt(b.seconds / PLAN.rounds, 1)} s | **${fmt(b.ops)} ops/s**, p50 ${fmt(b.latency.p50, 1)} ms, p99 ${fmt(b.latency.p99, 1)} ms${b.errors ? `, ${b.errors} errors` : ''} | (reference) | |`);
  }
  const m = r.ackMax;
  if (m) {
    lines.push(
      `| b | signed \`POST /webhooks/whatsapp\`, autocannon ${PLAN.concurrency} connections, new user each, ${PLAN.rounds} × ${fmt(m.seconds / PLAN.rounds, 1)} s alternating with (a) | **${fmt(m.rate)} acks/s = ${fmt(m.share * 100)} % of (a)** (rounds: ${m.shares.map((x) => `${fmt(x * 100)} %`).join(', ')}), p50 ${fmt(m.p50, 1)} ms, p99 ${fmt(m.p99, 1)} ms${m.non2xx + m.errors ? `, ${m.non2xx} non-2xx, ${m.errors} errors` : ''} | ≥ ${TARGETS.ackShare * 100} % of (a) | ${yesNo(m.share >= TARGETS.ackShare)} |`,
    );
  }
  const c80 = r.ackCannon80;
  if (c80) {
    lines.push(`| b80 | same at 80 % of (b) = ${c80.target}/s, autocannon \`overallRate\` (it sends each second's quota at full speed, then idles) | ${fmt(c80.rate)}/s, p50 ${fmt(c80.p50, 1)} ms, **p99 ${fmt(c80.p99, 1)} ms**${c80.non2xx + c80.errors ? `, ${c80.non2xx} non-2xx, ${c80.errors} errors` : ''} | p99 ≤ ${TARGETS.ackP99Ms} ms | ${yesNo(c80.p99 <= TARGETS.ackP99Ms)} |`);
  }
  const p80 = r.ackPaced80;
  if (p80) {
    lines.push(`| b80' | same ${p80.target}/s evenly paced, open loop (latency from the scheduled send time) | ${fmt(p80.rate)}/s, p50 ${fmt(p80.latency.p50, 1)} ms, **p99 ${fmt(p80.latency.p99, 1)} ms**${p80.failed ? `, ${p80.failed} failed` : ''} | p99 ≤ ${TARGETS.ackP99Ms} ms | ${yesNo(p80.latency.p99 <= TARGETS.ackP99Ms)} |`);
  }
  for (const c of r.replies) {
    const light = c.label.startsWith('c-light');
    // The light row at quiet window 0 is the hot path's latency target; the other light row is the floor.
    const [p50Target, p99Target] = c.label === 'c-light-q0' ? [TARGETS.lightOverheadP50Ms, TARGETS.lightOverheadP99Ms] : [TARGETS.overheadP50Ms, TARGETS.overheadP99Ms];
    const met = c.delivered === c.sent && c.overhead.p50 <= p50Target && c.overhead.p99 <= p99Target;
    const floor = light && c.label !== 'c-light-q0';
    lines.push(
      `| ${light ? 'c0' : 'c'} | webhook → reply at the fake Graph API, ${fmt(c.rate, 1)} new conversations/s${light ? ' (light load: the floor)' : ''}, ${c.sent} conversations, quiet window **${c.quietWindowMs} ms** | ${c.delivered}/${c.sent} replies; end-to-end p50 ${fmtMs(c.e2e.p50)}, p99 ${fmtMs(c.e2e.p99)}; **overhead p50 ${fmtMs(c.overhead.p50)}, p99 ${fmtMs(c.overhead.p99)}**; ack p99 ${fmt(c.ack.p99, 1)} ms; replies completed at ${fmt(c.replyThroughput, 1)}/s | ${floor ? '(floor)' : `overhead ≤ ${p50Target} ms p50, ≤ ${p99Target} ms p99`} | ${floor ? '' : yesNo(met)} |`,
    );
  }
  const n = r.naive;
  if (n) {
    lines.push(`| d | burst of ${PLAN.burst} deliveries (autocannon, ${PLAN.burst} connections × 1 request), **naive** handler (bench/naive-webhook.ts): LLM (${PLAN.naiveLlmMs / 1000} s) + Graph send inline | ack p50 ${fmt(n.p50)} ms, **p99 ${fmt(n.p99)} ms**, max ${fmt(n.max)} ms; ${n.ok}/${PLAN.burst} ok; ${n.replies}/${PLAN.burst} replies sent, each before its ack | (comparison) | |`);
  }
  const o = r.oursBurst;
  if (o) {
    lines.push(`| d | same burst, **ours** (quiet window ${facts.quietDefault} ms) | ack p50 ${fmt(o.p50)} ms, **p99 ${fmt(o.p99)} ms**, max ${fmt(o.max)} ms; ${o.ok}/${PLAN.burst} ok; ${o.replies}/${PLAN.burst} replies sent, the last ${fmt(o.lastReplyMs / 1000, 1)} s after the burst began | (comparison) | |`);
  }
  const paths = r.replies.filter((c) => c.breakdown);
  if (paths.length) {
    const first = paths[0]!.breakdown!;
    lines.push('');
    lines.push(
      `Where the time to a first reply goes (workflow histories of ${first.samples} sampled conversations per phase, server clock, medians in ms; ` +
        `path = ${first.workflowTasks} workflow tasks, ${first.activities} activities and ${first.localActivities} local activities: ${first.steps.join(' → ')}; ` +
        'the path ends with the step during which the fake Graph API accepted the reply; local activities run inside workflow tasks):',
    );
    lines.push('');
    lines.push('| phase | start → reply sent | workflow tasks: queued | running | activities: queued | running | timers (quiet window) | server in between |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const c of paths) {
      const m = c.breakdown!.median;
      lines.push(`| ${c.label} | ${fmt(m.total)} | ${fmt(m.workflowTaskWait)} | ${fmt(m.workflowTaskRun)} | ${fmt(m.activityWait)} | ${fmt(m.activityRun)} | ${fmt(m.timerWait)} | ${fmt(m.other)} |`);
    }
  }
  lines.push('');
  lines.push('CPU during each measured phase, in cores (1.00 = one core busy the whole phase; the machine has ' + cpus.length + '):');
  lines.push('');
  const groups = ['temporal', 'postgres', 'api', 'worker', 'bench', 'naive', 'other'];
  lines.push(`| phase | s | ${groups.join(' | ')} | machine busy | outside this bench |`);
  lines.push(`|---|---|${groups.map(() => '---').join('|')}|---|---|`);
  for (const [id, cpu] of mergeRounds(r.phases)) {
    const cells = groups.map((g) => fmt(cpu.cores[g], 2));
    lines.push(`| ${id} | ${fmt(cpu.seconds, 1)} | ${cells.join(' | ')} | ${fmt(cpu.machineBusyCores, 2)} | ${fmt(cpu.outsideCores, 2)} |`);
  }
  return lines.join('\n');
}

/** Phases measured in rounds (`a#1`, `a#2`…) as one row each, weighted by their durations. */
function mergeRounds(phases: Phase[]): Map<string, CpuUsage> {
  const merged = new Map<string, { seconds: number; cores: Record<string, number>; busy: number; outside: number; rounds: number }>();
  for (const p of phases) {
    if (!p.cpu) continue;
    const id = p.id.split('#')[0]!;
    const m = merged.get(id) ?? { seconds: 0, cores: {}, busy: 0, outside: 0, rounds: 0 };
    m.seconds += p.cpu.seconds;
    m.rounds++;
    for (const [g, c] of Object.entries(p.cpu.cores)) m.cores[g] = (m.cores[g] ?? 0) + c * p.cpu.seconds;
    m.busy += p.cpu.machineBusyCores * p.cpu.seconds;
    m.outside += p.cpu.outsideCores * p.cpu.seconds;
    merged.set(id, m);
  }
  const out = new Map<string, CpuUsage>();
  for (const [id, m] of merged) {
    const cores = Object.fromEntries(Object.entries(m.cores).map(([g, c]) => [g, c / m.seconds]));
    out.set(m.rounds > 1 ? `${id} (${m.rounds} rounds)` : id, { seconds: m.seconds, cores, machineBusyCores: m.busy / m.seconds, outsideCores: m.outside / m.seconds });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  await runConversationsBench();
}
