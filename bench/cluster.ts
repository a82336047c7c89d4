// `npm run bench:cluster`: the conversation path on the real Temporal server beside the CLI's dev
// server, in one run and on the same topology (test/cluster/stack.ts: two APIs behind the
// round-robin proxy, two conversations workers, one ingestion + maintenance worker, durable
// Postgres; the fake model and Graph API answer at once, so the platform's own cost is measured):
//   - sustained replies/s: a closed loop of new WhatsApp conversations, 24 senders;
//   - overhead: webhook → reply at light load, one conversation at a time;
//   - history events per reply: the settled histories of the light-load conversations (new
//     conversation, one message each), read from Temporal.
// Prints a table and appends it to bench/RESULTS.md, with the load average of the shared machine.
// About 5 minutes (BENCH_QUICK=1: a quarter of each phase), the server build aside.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../scripts/provision/tools.ts';
import { setUpTenant } from '../test/chaos/run.ts';
import { ClusterStack, killEverything } from '../test/cluster/stack.ts';
import { closedLoop, type ClosedLoopResult } from './lib/closed-loop.ts';
import { conversationWorkflowIds } from './lib/conversation-ids.ts';
import { settledHistory } from './lib/history.ts';
import { trackReplies } from './lib/replies.ts';
import { fmt, summarize, type Summary } from './lib/stats.ts';
import { signedTextDelivery, userId } from './lib/whatsapp.ts';

const quick = process.env.BENCH_QUICK === '1';
const scale = (ms: number) => (quick ? Math.round(ms / 4) : ms);
const SENDERS = 24;
const log = (m: string) => process.stdout.write(`[bench:cluster ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface Figures {
  temporal: string;
  startupMs: number;
  sustained: ClosedLoopResult;
  light: ClosedLoopResult;
  eventsPerReply: Summary;
  histories: number;
  load: { before: number; after: number };
}

/** Both halves run the same commit, whatever others commit meanwhile. */
const source = execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();

async function measure(temporal: 'dev-server' | 'cluster', run: number): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), `metachat-bench-${temporal}-`));
  const started = Date.now();
  const before = loadavg()[0]!;
  let stack: ClusterStack | undefined;
  let ok = false;
  try {
    stack = await ClusterStack.start({
      root, temporal, source, graphLatencyMs: 0, llmLatencyMinMs: 0, llmLatencyMaxMs: 0,
      suggestContinueAsNewAfter: 0, logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn', log,
    });
    const tenant = await setUpTenant(stack);
    const startupMs = Date.now() - started;
    log(`${stack.temporalDescription}: stack ready in ${(startupMs / 1000).toFixed(1)} s`);
    const replies = trackReplies(stack.graph);
    const phase = (n: number) => (i: number) => {
      const user = userId(run * 10 + n, i);
      const delivery = signedTextDelivery(tenant.whatsapp, user, `hello ${i}`);
      return { user, path: '/webhooks/whatsapp', headers: delivery.headers, body: delivery.body };
    };
    const loop = (n: number, concurrency: number, warmupMs: number, steadyMs: number) =>
      closedLoop({ baseUrl: stack!.apiUrl, concurrency, warmupMs, steadyMs, make: phase(n), replies, replyTimeoutMs: 60_000 });

    await loop(0, 4, 0, scale(8_000)); // warm-up: JIT, pools, the first shard and queue loads
    log('light load: one conversation at a time');
    const light = await loop(1, 1, scale(2_000), scale(30_000));
    log(`sustained: ${SENDERS} senders`);
    const sustained = await loop(2, SENDERS, scale(10_000), scale(40_000));

    const lightUsers = Array.from({ length: Math.min(20, light.sent) }, (_, i) => userId(run * 10 + 1, i));
    const ids = await conversationWorkflowIds(stack.client, tenant.tenantId, lightUsers, { timeoutMs: 20_000 });
    const counts: number[] = [];
    for (const workflowId of ids.values()) {
      const history = await settledHistory(stack.client, workflowId);
      if (history.settled) counts.push(history.events.length);
    }
    ok = true;
    return { temporal: stack.temporalDescription, startupMs, sustained, light, eventsPerReply: summarize(counts), histories: counts.length, load: { before, after: loadavg()[0]! } };
  } finally {
    await stack?.close();
    killEverything();
    if (ok) rmSync(root, { recursive: true, force: true });
    else log(`run folder kept: ${root}`);
  }
}

function render(dev: Figures, cluster: Figures): string {
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 ? `${((b / a) * 100).toFixed(0)} %` : '—');
  const diff = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(0)} ms` : '—');
  const row = (label: string, f: (x: Figures) => string, compare: string) => `| ${label} | ${f(dev)} | ${f(cluster)} | ${compare} |`;
  const lines = [
    `## Cluster vs dev server — ${new Date().toISOString()} — commit ${source.slice(0, 7)}${quick ? ' — QUICK RUN' : ''}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'CPU'}; Node ${process.version}; shared with others: load average (1 min) ` +
      `${dev.load.before.toFixed(1)} → ${dev.load.after.toFixed(1)} during the dev server's phases, ${cluster.load.before.toFixed(1)} → ${cluster.load.after.toFixed(1)} during the cluster's. ` +
      `Both: two APIs behind a round-robin TCP proxy, two conversations workers, one ingestion + maintenance worker, durable Postgres; the fake model and Graph API answer at once. ` +
      `dev server = ${dev.temporal}; cluster = ${cluster.temporal}.`,
    '',
    '| | dev server | cluster | cluster vs dev server |',
    '| --- | ---: | ---: | ---: |',
    row(`sustained replies/s (${SENDERS} senders, closed loop, new conversations)`, (x) => fmt(x.sustained.repliesPerSecond, 1), ratio(dev.sustained.repliesPerSecond, cluster.sustained.repliesPerSecond)),
    row('↳ lost / not acknowledged', (x) => `${x.sustained.lost.length} / ${x.sustained.ackFailed}`, ''),
    row('↳ webhook → reply p50 / p99 under that load (ms)', (x) => `${fmt(x.sustained.latency.p50)} / ${fmt(x.sustained.latency.p99)}`, diff(dev.sustained.latency.p50, cluster.sustained.latency.p50)),
    row('overhead: webhook → reply p50 / p99, one conversation at a time (ms)', (x) => `${fmt(x.light.latency.p50)} / ${fmt(x.light.latency.p99)}`, diff(dev.light.latency.p50, cluster.light.latency.p50)),
    row('↳ webhook acknowledged p50 / p99 (ms)', (x) => `${fmt(x.light.ack.p50)} / ${fmt(x.light.ack.p99)}`, diff(dev.light.ack.p50, cluster.light.ack.p50)),
    row('history events per reply, new conversation (median of settled histories)', (x) => `${fmt(x.eventsPerReply.p50)} (${x.histories})`, dev.eventsPerReply.p50 === cluster.eventsPerReply.p50 ? 'same' : diff(dev.eventsPerReply.p50, cluster.eventsPerReply.p50).replace(' ms', '')),
    row('stack start-up incl. tenant (s)', (x) => fmt(x.startupMs / 1000, 1), ''),
    '',
  ];
  return lines.join('\n');
}

// Ctrl-C: nothing this run started may outlive it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killEverything();
    process.exit(130);
  });
}

try {
  const dev = await measure('dev-server', 1);
  const cluster = await measure('cluster', 2);
  const table = render(dev, cluster);
  process.stdout.write(`\n${table}\n`);
  appendFileSync(join(PROJECT_ROOT, 'bench', 'RESULTS.md'), `\n${table}`);
  log('appended to bench/RESULTS.md');
  process.exit(0);
} catch (err) {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  killEverything();
  process.exit(1);
}
