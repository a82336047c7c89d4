// `npm run bench:idle`: many conversations, most of them silent — what the conversations worker's
// sticky cache costs in memory and what a conversation pushed out of it costs in latency.
//   1. a long conversation first: messages one after another until its history holds
//      --long-events (2000) or it continued as new, for the replay measures; then --capped (50)
//      conversations brought to the continue-as-new cap (MAX_HISTORY_EVENTS): one more message
//      and their run would continue as new, so an eviction costs them the longest replay;
//   2. N conversations (default 10 000) each get a first message through the API's own call
//      (signalInbound: the webhook's signalWithStart) and a reply from the local provider, by a
//      closed loop of senders; then they are left idle. The worker's RSS is read from /proc:
//      the peak during the load (VmHWM, reset once the worker is up) and after it settled;
//   3. evicted vs warm: one at a time, a second message to a conversation answered first (pushed
//      out by the others, so its history is fetched and replayed), then a third one to the same
//      conversation, now the latest in the sticky cache (warm: sampling other conversations as
//      warm would let the evicted samples push them out of a cache no larger than the sample),
//      and a message to one at the cap (pushed out too: the longest run replayed); p50/p95 of
//      signal → reply accepted by the fake Graph API, each sample's
//      cache hit or miss read from the worker's temporal_sticky_cache_*;
//   4. replay cost against history length: prefixes of the long conversation's history replayed
//      with the Worker's replay API (ms per 1k events), and its own first reply after eviction.
// Prints a table and appends it to bench/RESULTS.md with the machine's load average (a smoke run,
// with fewer than 10 000 conversations, 200 warm and evicted samples or 50 at the cap, is printed only).
//
//   npm run bench:idle                                  # 10 000 conversations, the configured cache
//   npm run bench:idle -- --conversations 500 --cache 100 --long-events 1000   # smoke run
//   flags: --conversations N --samples N (per kind, ≥ 200 for the report) --concurrency N
//          --cache N (WORKER_MAX_CACHED_WORKFLOWS of the worker; unset: its default)
//          --long-events N (target length of the long conversation) --settle-s N
//          --capped N (conversations at the continue-as-new cap, ≥ 50 for the report)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import getPort from 'get-port';
import { signalInbound } from '../api/conversation-signal.ts';
import { whatsappProvider } from '../api/webhooks/whatsapp.ts';
import { createChannel } from '../lib/channels.ts';
import { loadConfig } from '../lib/config.ts';
import { createDb, type Db } from '../lib/db.ts';
import { temporalDataConverter } from '../lib/temporal.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { PROJECT_ROOT } from '../scripts/provision/tools.ts';
import { startStack, type Stack } from '../scripts/provision/isolated-stack.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../test/fakes/graph-api.ts';
import { bundleWorkflows } from '../workers/create-workers.ts';
import { MAX_HISTORY_EVENTS } from '../workflows/conversation.ts';
import { conversationWorkflowId } from '../workflows/ids.ts';
import { httpOk, killAllChildren, startChild, waitUntil, type Child } from './lib/children.ts';
import { mib, processMemory, resetPeakRss, RssSampler } from './lib/process-memory.ts';
import { historyPrefix, msPer1kEvents, replayCosts, type ReplayCost } from './lib/replay-timing.ts';
import { trackReplies, type ReplyLog } from './lib/replies.ts';
import { fmt, percentile, sleep } from './lib/stats.ts';
import { signedTextDelivery, userId, type BenchChannel } from './lib/whatsapp.ts';

const { values: flags } = parseArgs({
  options: {
    conversations: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    cache: { type: 'string' },
    'long-events': { type: 'string', default: '2000' },
    'settle-s': { type: 'string', default: '30' },
    capped: { type: 'string', default: '50' },
  },
});
const int = (name: keyof typeof flags) => {
  const v = Number(flags[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer (got ${flags[name]})`);
  return v;
};
const PLAN = {
  conversations: int('conversations'),
  samples: int('samples'),
  concurrency: int('concurrency'),
  cache: flags.cache === undefined ? undefined : int('cache'),
  longEvents: int('long-events'),
  settleMs: int('settle-s') * 1000,
  capped: int('capped'),
  /** The long conversation's pace: under the tenant's flood guard (1000 messages a minute). */
  longMessagesPerSecond: 12,
  replyTimeoutMs: 60_000,
  replayLengths: [25, 50, 100, 200, 500, 1_000, 2_000, 4_000],
  replayRepeats: 10,
  watchdogMs: 45 * 60_000,
};
const TARGETS = { rssBytes: 2 ** 30, evictedOverWarmP95Ms: 150 };
const SIGNAL_ATTEMPTS = 4;

const WHATSAPP_TOKEN = 'EAAG-bench-idle-token';
const PREFIX = 'bench-idle-';
const log = (m: string) => process.stdout.write(`[bench:idle ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface Latencies {
  ms: number[];
  hits: number;
  misses: number;
  lost: number;
}

interface Figures {
  cache: number;
  opened: number;
  openSeconds: number;
  firstReply: number[];
  lostFirst: number;
  /** Signals the server refused and the bench delivered again. */
  redelivered: number;
  rss: { baseline: number; peak: number; peakSampled: number; afterLoad: number; settled: number; peakResettable: boolean };
  warm: Latencies;
  evicted: Latencies;
  capped: Latencies & { events: number[] };
  long: { events: number; messages: number; runId: string; evictedMs: number; warmMs: number; evictedMiss: boolean };
  replay: ReplayCost[];
  load: { before: number[]; after: number[] };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const children: Child[] = [];
  let stack: Stack | undefined;
  let graph: FakeGraphApi | undefined;
  let db: Db | undefined;
  let connection: Connection | undefined;
  let ok = false;
  const teardown = async () => {
    await Promise.allSettled(children.map((c) => c.stop()));
    await connection?.close().catch(() => {});
    await db?.$disconnect().catch(() => {});
    await graph?.close().catch(() => {});
    await stack?.close(!ok);
    if (!ok && stack) log(`logs kept in ${stack.dataRoot}`);
  };
  const watchdog = setTimeout(() => {
    log(`watchdog: running for more than ${PLAN.watchdogMs / 60_000} minutes; stopping`);
    void Promise.race([teardown(), sleep(30_000)]).finally(() => (killAllChildren(), process.exit(2)));
  }, PLAN.watchdogMs);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void Promise.race([teardown(), sleep(30_000)]).finally(() => (killAllChildren(), process.exit(130))));
  }

  try {
    const loadBefore = loadavg();
    log(`starting Postgres and the Temporal dev server (load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')})…`);
    stack = await startStack({ name: 'bench-idle', database: 'metachat_bench_idle' });
    graph = await startFakeGraphApi({ accessTokens: [WHATSAPP_TOKEN] });
    const replies = trackReplies(graph);
    const metricsPort = await getPort({ host: '127.0.0.1' });
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE_PREFIX: PREFIX,
      ADMIN_API_KEY: randomBytes(24).toString('base64url'),
      SECRETS_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      META_GRAPH_API_URL: graph.url,
    };
    const config = loadConfig(env);
    db = createDb(config, 'metachat-bench-idle');
    const channel = await benchChannel(db, config.SECRETS_KEYS);
    const workerEnv = {
      ...env,
      WORKER_TASK_QUEUES: 'conversations',
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_METRICS_HOST: '127.0.0.1',
      METRICS_ACCESS: 'public',
      ...(PLAN.cache !== undefined && { WORKER_MAX_CACHED_WORKFLOWS: String(PLAN.cache) }),
    };
    const cache = loadConfig(workerEnv).WORKER_MAX_CACHED_WORKFLOWS;
    const worker = startChild('worker', 'workers/main.ts', workerEnv, join(stack.dataRoot, 'worker.log'));
    children.push(worker);
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitUntil('worker metrics', () => httpOk(metricsUrl), 120_000, worker);

    connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: 'default', dataConverter: temporalDataConverter(config.SECRETS_KEYS) });
    const deps = { temporal: client, config };
    let messageSeq = 0;
    let redelivered = 0;
    /** One message from `user` through the webhook's own call; resolves with the reply's latency (ms), or undefined. */
    const converse = async (user: string, text: string): Promise<number | undefined> => {
      const parsed = whatsappProvider.read(JSON.parse(signedTextDelivery(channel, user, `${text} #${messageSeq++}`).body));
      if (!parsed.success) throw new Error(`the bench's own delivery does not parse: ${parsed.error.message}`);
      const t = performance.now();
      const delivery = { tenantId: channel.tenantId, channel: 'whatsapp' as const, channelId: channel.channelId, externalUserId: user, messages: parsed.data.inbound.map((i) => i.message) };
      // A signal the server refused (overloaded: the webhook answers 5xx) is delivered again, as
      // Meta redelivers it; the reply's latency counts from the first attempt.
      for (let attempt = 1; ; attempt++) {
        try {
          await signalInbound(deps, delivery);
          break;
        } catch (err) {
          if (attempt >= SIGNAL_ATTEMPTS) throw err;
          redelivered++;
          await sleep(1000 * attempt);
        }
      }
      const reply = await replies.wait(user, t, PLAN.replyTimeoutMs);
      return reply ? reply.at - t : undefined;
    };
    // The worker is up once it answers; its start-up (bundling) is then left out of the peak.
    const warmUser = userId(900, 0);
    if ((await converse(warmUser, 'hello')) === undefined) throw new Error('the worker did not answer a first message');
    const baseline = processMemory(worker.pid)!.rssBytes;
    const peakResettable = resetPeakRss(worker.pid);
    const sampler = new RssSampler(worker.pid);
    log(`worker up (cache ${cache} workflows), RSS ${fmt(mib(baseline))} MiB`);

    // ---- 1. the long conversation --------------------------------------------------------
    const longUser = userId(901, 0);
    const longId = conversationWorkflowId(channel.tenantId, channel.channelId, longUser);
    const long = await longConversation(client, longId, (text) => converse(longUser, text), PLAN.longEvents);
    log(`long conversation: ${long.events} events after ${long.messages} messages`);
    log(`${PLAN.capped} conversations to the continue-as-new cap (${MAX_HISTORY_EVENTS} events)…`);
    const capped = await Promise.all(
      Array.from({ length: PLAN.capped }, async (_, i) => {
        const user = userId(902, i);
        const handle = client.workflow.getHandle(conversationWorkflowId(channel.tenantId, channel.channelId, user));
        return { user, events: await growToCap(handle, (text) => converse(user, text)) };
      }),
    ).then((all) => all.filter((c): c is { user: string; events: number } => c.events !== undefined));
    const cappedEvents = sorted(capped.map((c) => c.events));
    log(`  their runs hold ${cappedEvents[0]}–${cappedEvents.at(-1)} events`);

    // ---- 2. N conversations, a first message each, then idle ------------------------------
    log(`opening ${PLAN.conversations} conversations, ${PLAN.concurrency} in flight…`);
    const opened: string[] = [];
    const firstReply: number[] = [];
    let lostFirst = 0;
    let next = 0;
    const openStart = performance.now();
    await Promise.all(
      Array.from({ length: PLAN.concurrency }, async () => {
        while (next < PLAN.conversations) {
          const i = next++;
          const user = userId(100, i);
          const ms = await converse(user, 'What are your opening hours on Saturday?');
          if (ms === undefined) lostFirst++;
          else {
            firstReply.push(ms);
            opened.push(user); // in the order answered: the last ones are the cache's newest
          }
          if (i > 0 && i % Math.max(1, Math.round(PLAN.conversations / 10)) === 0) {
            log(`  ${i} sent, ${opened.length} answered; worker RSS ${fmt(mib(sampler.lastBytes))} MiB`);
          }
        }
      }),
    );
    const openSeconds = (performance.now() - openStart) / 1000;
    const afterLoad = processMemory(worker.pid)!;
    log(`${opened.length} answered in ${fmt(openSeconds)} s (${fmt(opened.length / openSeconds, 1)}/s), ${lostFirst} without a reply; RSS ${fmt(mib(afterLoad.rssBytes))} MiB, peak ${fmt(mib(afterLoad.peakRssBytes))} MiB`);
    log(`idle for ${PLAN.settleMs / 1000} s…`);
    await sleep(PLAN.settleMs);
    const settled = processMemory(worker.pid)!.rssBytes;
    sampler.stop();
    log(`settled RSS ${fmt(mib(settled))} MiB`);

    // ---- 3. warm vs evicted, alternately, one at a time -----------------------------------
    const n = Math.min(PLAN.samples, Math.floor(opened.length / 2));
    if (opened.length - n <= cache) log(`note: ${opened.length} conversations for a cache of ${cache}: the first ones may not have been evicted (each sample says)`);
    const evictedUsers = opened.slice(0, n);
    const warm: Latencies = { ms: [], hits: 0, misses: 0, lost: 0 };
    const evicted: Latencies = { ms: [], hits: 0, misses: 0, lost: 0 };
    const atCap: Latencies = { ms: [], hits: 0, misses: 0, lost: 0 };
    const sample = async (user: string, into: Latencies, text: string) => {
      const before = await cacheCounters(metricsUrl);
      const ms = await converse(user, text);
      const after = await cacheCounters(metricsUrl);
      if (ms === undefined) into.lost++;
      else into.ms.push(ms);
      if (after.miss > before.miss) into.misses++;
      else if (after.hit > before.hit) into.hits++;
    };
    log(`${n} evicted, each then warm, and ${capped.length} evicted at the cap, alternately…`);
    for (let i = 0; i < n; i++) {
      await sample(evictedUsers[i]!, evicted, 'And on Sunday?');
      await sample(evictedUsers[i]!, warm, 'And on Saturday?');
      if (i < capped.length) await sample(capped[i]!.user, atCap, 'And on Sunday?');
    }
    const line = (name: string, l: Latencies) => `${name} p50 ${fmt(percentile(sorted(l.ms), 50))} ms p95 ${fmt(percentile(sorted(l.ms), 95))} ms (${l.hits} hits, ${l.misses} misses)`;
    log(`${line('warm', warm)}; ${line('evicted', evicted)}; ${line('at the cap', atCap)}`);

    // ---- 4. the long conversation after eviction, then replay cost by length ---------------
    const beforeLong = await cacheCounters(metricsUrl);
    const evictedMs = (await converse(longUser, 'Are you open on holidays?')) ?? Number.NaN;
    const evictedMiss = (await cacheCounters(metricsUrl)).miss > beforeLong.miss;
    const warmMs = (await converse(longUser, 'And tomorrow?')) ?? Number.NaN;
    log(`long conversation (${long.events} events): first reply after eviction ${fmt(evictedMs)} ms (${evictedMiss ? 'cache miss' : 'no cache miss seen'}), then warm ${fmt(warmMs)} ms`);

    const { events } = await client.workflow.getHandle(longId, long.runId).fetchHistory();
    const all = events ?? [];
    const lengths = PLAN.replayLengths.filter((l) => l < all.length);
    const prefixes = [...lengths.map((l) => historyPrefix(all, l)), all];
    log(`replaying prefixes of ${prefixes.map((p) => p.length).join(', ')} events, ${PLAN.replayRepeats} times each…`);
    const replay = await replayCosts({ workflowBundle: await bundleWorkflows(), dataConverter: temporalDataConverter(config.SECRETS_KEYS) }, longId, prefixes, PLAN.replayRepeats);

    const figures: Figures = {
      cache, opened: opened.length, openSeconds, firstReply, lostFirst, redelivered,
      rss: { baseline, peak: afterLoad.peakRssBytes, peakSampled: sampler.maxBytes, afterLoad: afterLoad.rssBytes, settled, peakResettable },
      warm, evicted, capped: { ...atCap, events: cappedEvents },
      long: { ...long, evictedMs, warmMs, evictedMiss },
      replay,
      load: { before: loadBefore, after: loadavg() },
    };
    const table = render(figures);
    process.stdout.write(`\n${table}\n`);
    if (isSmokeRun(figures)) log('smoke run: not appended to bench/RESULTS.md');
    else {
      appendFileSync(join(PROJECT_ROOT, 'bench', 'RESULTS.md'), `\n${table}`);
      log('appended to bench/RESULTS.md');
    }
    ok = true;
  } finally {
    clearTimeout(watchdog);
    await Promise.race([teardown(), sleep(60_000)]);
    killAllChildren();
  }
}

/** A tenant answering at once (quiet window 0), whose flood guard lets the long conversation through. */
async function benchChannel(db: Db, keyring: ReturnType<typeof loadConfig>['SECRETS_KEYS']): Promise<BenchChannel> {
  const slug = `bench-idle-${randomBytes(3).toString('hex')}`;
  const { tenant } = await createTenant(db, { name: 'Bench idle', slug, settings: { conversation: { quietWindowMs: 0, floodMaxPerMinute: 1000 } } });
  const phoneNumberId = `10${Array.from(randomBytes(13), (b) => String(b % 10)).join('')}`;
  const appSecret = randomBytes(16).toString('hex');
  const created = await createChannel(forTenant(db, tenant.id), keyring, {
    type: 'whatsapp', name: 'WhatsApp', phoneNumberId, wabaId: '555000111', accessToken: WHATSAPP_TOKEN, appSecret, verifyToken: `verify-${slug}`,
  });
  return { tenantId: tenant.id, channelId: created.id, phoneNumberId, appSecret, quietWindowMs: 0 };
}

/** Messages one after another (paced under the flood guard) until the history holds `targetEvents`. */
/**
 * Messages one after another (paced under the flood guard) until the run's history holds
 * `targetEvents`, or the run continued as new (MAX_HISTORY_EVENTS, or the server's suggestion:
 * the dev server suggests it from 4096 events): then the run that ended is the long one.
 */
async function longConversation(client: Client, workflowId: string, say: (text: string) => Promise<number | undefined>, targetEvents: number) {
  const interval = 1000 / PLAN.longMessagesPerSecond;
  log(`long conversation: messages until its history holds ${targetEvents} events (at most ${MAX_HISTORY_EVENTS})…`);
  await say('Hello');
  let messages = 1;
  let events = 0;
  const { runId } = await client.workflow.getHandle(workflowId).describe();
  while (events < targetEvents) {
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await say(`Question number ${messages} about delivery times`);
      messages++;
      await sleep(Math.max(0, interval - (performance.now() - started)));
    }
    const latest = await client.workflow.getHandle(workflowId).describe();
    if (latest.runId !== runId) {
      events = (await client.workflow.getHandle(workflowId, runId).describe()).historyLength;
      log(`long conversation: continued as new after ${events} events`);
      break;
    }
    events = latest.historyLength;
  }
  return { events, messages, runId };
}

/**
 * Messages until one more would take the run past the continue-as-new cap (its growth per
 * message read from the history once each reply's workflow task is recorded); the run's length,
 * or undefined if a message went unanswered (the conversation is left out).
 */
async function growToCap(handle: WorkflowHandle, say: (text: string) => Promise<number | undefined>): Promise<number | undefined> {
  let events = 0; // the first message starts the run
  for (let i = 0; ; i++) {
    if ((await say(`Question number ${i} about opening hours`)) === undefined) {
      log(`  no reply in ${handle.workflowId}: left out`);
      return undefined;
    }
    const now = await settledLength(handle);
    const step = now - events;
    events = now;
    if (events + step > MAX_HISTORY_EVENTS) return events;
  }
}

/** The run's history length once it stopped growing (the reply's workflow task recorded). */
async function settledLength(handle: WorkflowHandle): Promise<number> {
  let last = -1;
  for (;;) {
    const { historyLength } = await handle.describe();
    if (historyLength === last) return historyLength;
    last = historyLength;
    await sleep(100);
  }
}

/** The worker's sticky cache hit and miss counters (Temporal SDK metrics on its /metrics). */
async function cacheCounters(url: string): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => new RegExp(`^temporal_${name}(_total)?[{ ]`).test(l))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { hit: sum('sticky_cache_hit'), miss: sum('sticky_cache_miss') };
}

/** Fewer conversations or samples than the report asks for: printed, not recorded. */
const isSmokeRun = (f: Figures) => f.opened < 10_000 || f.warm.ms.length < 200 || f.evicted.ms.length < 200 || f.capped.ms.length < 50;

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

function commit(): string {
  try {
    return execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function render(f: Figures): string {
  const p = (xs: number[], q: number) => fmt(percentile(sorted(xs), q));
  const warmP95 = percentile(sorted(f.warm.ms), 95);
  const evictedP95 = percentile(sorted(f.evicted.ms), 95);
  const cappedP95 = percentile(sorted(f.capped.ms), 95);
  const mark = (ok: boolean) => (ok ? '✅' : '❌');
  const smoke = isSmokeRun(f) ? ' — SMOKE RUN (fewer conversations or samples than the report asks)' : '';
  const slope = msPer1kEvents(f.replay);
  const perCached = (f.rss.settled - f.rss.baseline) / Math.min(f.cache, f.opened);
  const lines = [
    `## Idle conversations — ${new Date().toISOString()} — commit ${commit()}${smoke}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'CPU'}; Node ${process.version}; shared with other engineers' work, run once: ` +
      `load average (1/5/15 min) ${f.load.before.map((l) => l.toFixed(1)).join(' / ')} at the start, ${f.load.after.map((l) => l.toFixed(1)).join(' / ')} at the end. ` +
      `Temporal dev server, embedded Postgres, \`workers/main.ts\` polling conversations as a child process (WORKER_MAX_CACHED_WORKFLOWS=${f.cache}), local provider, fake Graph API; ` +
      'messages through `signalInbound` (the webhook\'s signalWithStart), quiet window 0.',
    '',
    '| | measure | result | target | met |',
    '| --- | --- | --- | --- | --- |',
    `| open | ${f.opened} conversations answered (${f.lostFirst} without a reply), closed loop of ${PLAN.concurrency}; ${f.redelivered} signals refused by the overloaded server and delivered again over the whole run | ${fmt(f.openSeconds)} s, ${fmt(f.opened / f.openSeconds, 1)} first replies/s; first reply p50 ${p(f.firstReply, 50)} ms, p95 ${p(f.firstReply, 95)} ms | | |`,
    `| rss | worker RSS: before the load / **peak during it** (VmHWM${f.rss.peakResettable ? ' reset after start-up' : ', lifetime'}; sampled every 250 ms: ${fmt(mib(f.rss.peakSampled))}) / right after / **settled** (${PLAN.settleMs / 1000} s idle) | ${fmt(mib(f.rss.baseline))} / **${fmt(mib(f.rss.peak))}** / ${fmt(mib(f.rss.afterLoad))} / **${fmt(mib(f.rss.settled))} MiB** (≈ ${fmt(perCached / 1024)} KiB per cached conversation over the baseline) | ≤ 1024 MiB | ${mark(Math.max(f.rss.peak, f.rss.settled) <= TARGETS.rssBytes)} |`,
    `| warm | third message to each of the ${f.warm.ms.length + f.warm.lost} evicted conversations below, right after its second (sticky cache: ${f.warm.hits} hits, ${f.warm.misses} misses) | p50 ${p(f.warm.ms, 50)} ms, **p95 ${fmt(warmP95)} ms**${f.warm.lost ? `, ${f.warm.lost} lost` : ''} | | |`,
    `| evicted | second message to one of the ${f.evicted.ms.length + f.evicted.lost} answered first, pushed out by the others (${f.evicted.misses} misses, ${f.evicted.hits} hits): history fetched and replayed | p50 ${p(f.evicted.ms, 50)} ms, **p95 ${fmt(evictedP95)} ms** (+${fmt(evictedP95 - warmP95)} ms)${f.evicted.lost ? `, ${f.evicted.lost} lost` : ''} | ≤ warm p95 + ${TARGETS.evictedOverWarmP95Ms} ms | ${mark(evictedP95 <= warmP95 + TARGETS.evictedOverWarmP95Ms && f.evicted.lost === 0)} |`,
    `| cap | second message to one of the ${f.capped.ms.length + f.capped.lost} conversations whose run was at the continue-as-new cap (${MAX_HISTORY_EVENTS}): ${f.capped.events[0]}–${f.capped.events.at(-1)} events, median ${percentile(f.capped.events, 50)}; pushed out (${f.capped.misses} misses, ${f.capped.hits} hits): the longest run replayed | p50 ${p(f.capped.ms, 50)} ms, **p95 ${fmt(cappedP95)} ms** (+${fmt(cappedP95 - warmP95)} ms)${f.capped.lost ? `, ${f.capped.lost} lost` : ''} | ≤ warm p95 + ${TARGETS.evictedOverWarmP95Ms} ms | ${mark(cappedP95 <= warmP95 + TARGETS.evictedOverWarmP95Ms && f.capped.lost === 0)} |`,
    `| long | a conversation of ${f.long.events} events (${f.long.messages} messages): first reply after eviction (${f.long.evictedMiss ? 'cache miss' : 'no miss seen'}) / the next one, warm | ${fmt(f.long.evictedMs)} ms / ${fmt(f.long.warmMs)} ms | | |`,
    ...f.replay.map((r) => `| replay | ${r.events} events, Worker.runReplayHistories, ${r.ms.count} runs | ${r.error ? `failed: ${r.error.slice(0, 120)}` : `wall p50 ${fmt(r.ms.p50, 1)} ms, max ${fmt(r.ms.max, 1)} ms; CPU p50 ${fmt(r.cpuMs.p50, 1)} ms, max ${fmt(r.cpuMs.max, 1)} ms`} | | |`),
    `| replay/1k | replay cost per 1000 history events (least-squares slope of the medians) | wall **${fmt(slope, 1)} ms**, CPU **${fmt(msPer1kEvents(f.replay, 'cpuMs'), 1)} ms** | | |`,
    '',
  ];
  return lines.join('\n');
}

try {
  await main();
  process.exit(0);
} catch (err) {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  killAllChildren();
  process.exit(1);
}
