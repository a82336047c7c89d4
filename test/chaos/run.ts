// The fault-injection suite: proves (or disproves) the platform's promise that a crash or restart
// loses no message and sends no reply twice, in order per user.
//
//   1. Its own stack (stack.ts): durable Postgres, file-backed Temporal dev server, the API and
//      the worker as child processes, the fake Graph API and a fake OpenAI in this process.
//   2. A tenant, a WhatsApp channel and a web chat channel created through the REST API (admin
//      key → tenant → channels), the tenant answering with OpenAI (the fake), quiet window 0.
//   3. Steady load (load.ts) from WhatsApp users and web chat visitors, while faults are injected
//      at intervals spread over the run: SIGKILL the worker, the Temporal server, Postgres, each
//      started again after a short downtime. After each fault the suite checks whether the API
//      (and the worker) recover by themselves, and restarts them only if they do not (recorded).
//   4. A drain (no new messages; waits until every message is answered, bounded), then the
//      accounting (accounting.ts) and the report: printed, and written to
//      test-artifacts/chaos-<timestamp>.md.
// The run is bounded in time (a watchdog), stops everything it started however it ends, and
// keeps its temporary folder (logs, Postgres data, Temporal file) when it fails.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../scripts/provision/tools.ts';
import { account, percentile, totals, type Accounting, type KindFigures } from './accounting.ts';
import { startLoad, type Load } from './load.ts';
import { killEverything, sleep } from './processes.ts';
import { ChaosStack, WHATSAPP_TOKEN, type Component, type SourceMode } from './stack.ts';

export type FaultKind = 'worker' | 'temporal' | 'postgres';
export const FAULT_KINDS: FaultKind[] = ['worker', 'temporal', 'postgres'];

export interface ChaosOptions {
  /** Label in the report: `full` (npm run chaos) or `bounded` (npm test). */
  mode: string;
  /** Load phase; faults are spread over it. */
  durationMs: number;
  whatsappUsers: number;
  webchatVisitors: number;
  kills: Record<FaultKind, number>;
  /** How long a killed server stays down, drawn from [min, max]. */
  downtimeMinMs: number;
  downtimeMaxMs: number;
  thinkMs: number;
  replyTimeoutMs: number;
  duplicateRate: number;
  attemptTimeoutMs: number;
  /** After the load: at most this long for the last answers. */
  drainMs: number;
  /** After everything is answered: time for duplicates to show up. */
  settleMs: number;
  /** The API (and worker) get this long to recover by themselves after a fault before being restarted. */
  recoveryMs: number;
  /** The dev server suggests continue-as-new after this many events (0: the server's default). */
  suggestContinueAsNewAfter: number;
  /** The code the API and worker run: a copy of the working tree at the start, or of a commit. */
  source: SourceMode;
  /** Between the fake Graph API accepting a reply and its answer reaching the worker (ms): Meta's round trip. */
  graphLatencyMs: number;
  /** The fake model's time to answer, uniform in [min, max] ms. */
  llmLatencyMinMs: number;
  llmLatencyMaxMs: number;
  /** Log level of the API and worker (their logs are kept with the run's folder on failure). */
  logLevel: string;
  /** Keep the temporary folder even when the run passes. */
  keep: boolean;
  /** Where the report goes (test-artifacts/ by default). */
  artifactDir: string;
  /** Prints progress (the report is returned either way). */
  log: (message: string) => void;
  /** Aborts the run (Ctrl-C): everything is stopped, the folder kept. */
  signal?: AbortSignal;
}

export const FULL_DEFAULTS: Omit<ChaosOptions, 'log'> = {
  mode: 'full',
  durationMs: 240_000,
  whatsappUsers: 6,
  webchatVisitors: 4,
  kills: { worker: 3, temporal: 3, postgres: 3 },
  downtimeMinMs: 1_000,
  downtimeMaxMs: 8_000,
  thinkMs: 1_000,
  replyTimeoutMs: 20_000,
  duplicateRate: 0.05,
  attemptTimeoutMs: 10_000,
  drainMs: 90_000,
  settleMs: 5_000,
  recoveryMs: 30_000,
  suggestContinueAsNewAfter: 200,
  source: 'worktree',
  graphLatencyMs: 150,
  llmLatencyMinMs: 300,
  llmLatencyMaxMs: 1_500,
  logLevel: 'info',
  keep: false,
  artifactDir: join(PROJECT_ROOT, 'test-artifacts'),
};

/** The run inside `npm test`: one fault of each kind, about two minutes in all. */
export const BOUNDED_DEFAULTS: Omit<ChaosOptions, 'log'> = {
  ...FULL_DEFAULTS,
  mode: 'bounded',
  durationMs: 60_000,
  whatsappUsers: 3,
  webchatVisitors: 2,
  kills: { worker: 1, temporal: 1, postgres: 1 },
  downtimeMaxMs: 4_000,
  drainMs: 35_000,
  settleMs: 3_000,
};

export interface FaultRecord {
  kind: FaultKind;
  /** Seconds into the load phase. */
  atS: number;
  downMs: number;
  /** From the restart until the server answered again (the worker: until it answered a workflow). */
  backMs: number;
  /** From the server being back until the API was ready again by itself; null when it had to be restarted. */
  apiReadyMs: number | null;
  /** From the server being back until a workflow round trip on the conversations queue succeeded; null when the worker had to be restarted. */
  workerMs: number | null;
}

export interface ChaosResult {
  ok: boolean;
  /** Why not ok, in words (empty when ok). */
  problems: string[];
  accounting: Accounting;
  totals: KindFigures;
  faults: FaultRecord[];
  kills: Record<FaultKind, number>;
  /** API / worker / Temporal exits nobody asked for, and restarts the suite had to do. */
  unplannedRestarts: string[];
  report: string;
  reportPath: string;
  /** Kept (logs, data) unless the run passed. */
  root: string;
  durationsMs: { startup: number; load: number; drain: number; total: number };
}

/**
 * The watchdog: start-up, load, drain and settle, plus for each fault its longest downtime and
 * time to come back (a fault that takes longer than that is a hang, and the run fails).
 */
export function timeBudgetMs(o: Pick<ChaosOptions, 'durationMs' | 'drainMs' | 'settleMs' | 'kills' | 'downtimeMaxMs'>): number {
  const faults = o.kills.worker + o.kills.temporal + o.kills.postgres;
  return 120_000 + o.durationMs + o.drainMs + o.settleMs + faults * (o.downtimeMaxMs + 45_000);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const log = options.log;
  const root = mkdtempSync(join(tmpdir(), 'metachat-chaos-'));
  const budgetMs = timeBudgetMs(options);
  let stack: ChaosStack | undefined;
  let load: Load | undefined;
  let keepFolder = options.keep;
  let watchdogTimer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    watchdogTimer = setTimeout(() => reject(new Error(`the run exceeded its time budget of ${Math.round(budgetMs / 1000)} s`)), budgetMs);
  });
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new Error('interrupted'));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  watchdog.catch(() => {});
  aborted.catch(() => {});
  /** Stops the fault injection (and anything else still running) when the run ends, however it ends. */
  const ending = new AbortController();
  const bounded = <T>(p: Promise<T>) => {
    p.catch(() => {}); // it may lose the race and fail later (the stack closing): observed here
    return Promise.race([p, watchdog, aborted]);
  };

  try {
    log(`run folder ${root}; time budget ${Math.round(budgetMs / 1000)} s`);
    stack = await bounded(ChaosStack.start({
      root,
      source: options.source,
      graphLatencyMs: options.graphLatencyMs,
      llmLatencyMinMs: options.llmLatencyMinMs,
      llmLatencyMaxMs: options.llmLatencyMaxMs,
      suggestContinueAsNewAfter: options.suggestContinueAsNewAfter, logLevel: options.logLevel, log }));
    const tenant = await bounded(setUpTenant(stack));
    const startupMs = Date.now() - started;
    log(`stack and tenant ready in ${(startupMs / 1000).toFixed(1)} s; load for ${options.durationMs / 1000} s with ${options.whatsappUsers} WhatsApp users and ${options.webchatVisitors} web chat visitors`);

    load = startLoad(
      {
        apiUrl: stack.apiUrl,
        whatsapp: tenant.whatsapp,
        webchat: tenant.webchat,
        whatsappUsers: options.whatsappUsers,
        webchatVisitors: options.webchatVisitors,
        thinkMs: options.thinkMs,
        replyTimeoutMs: options.replyTimeoutMs,
        duplicateRate: options.duplicateRate,
        attemptTimeoutMs: options.attemptTimeoutMs,
      },
      stack.graph,
    );
    const loadStarted = Date.now();
    const progress = setInterval(() => {
      const l = load!.ledger;
      log(`progress: ${l.messages.length} sent, ${l.messages.length - l.unanswered().length} answered, ${l.replies.length} replies seen`);
    }, 15_000);
    let faults: FaultRecord[];
    try {
      faults = await bounded(injectFaults(stack, options, loadStarted, ending.signal));
      const remaining = loadStarted + options.durationMs - Date.now();
      if (remaining > 0) await bounded(sleep(remaining));
    } finally {
      clearInterval(progress);
    }
    const loadMs = Date.now() - loadStarted;

    // ---- Drain ----
    log('load done: no new messages; draining');
    load.stopSending();
    const drainStarted = Date.now();
    while (load.ledger.unanswered().length > 0 && Date.now() - drainStarted < options.drainMs) await bounded(sleep(500));
    const left = load.ledger.unanswered().length;
    log(left ? `drain ended after ${options.drainMs / 1000} s with ${left} message(s) unanswered` : `every message answered after ${((Date.now() - drainStarted) / 1000).toFixed(1)} s of drain`);
    await bounded(sleep(options.settleMs));
    await load.stop();
    const drainMs = Date.now() - drainStarted;
    if (load.ledger.fatal) throw new Error(load.ledger.fatal);

    // ---- Accounting ----
    const accounting = await bounded(account({ databaseUrl: stack.databaseUrl, tenantId: tenant.tenantId, ledger: load.ledger, client: stack.client }));
    const t = totals(accounting);
    const kills = { worker: 0, temporal: 0, postgres: 0 };
    for (const f of faults) kills[f.kind]++;
    const unplannedRestarts = stack.events.filter((e) => /unexpectedly|restarted:|did not recover/.test(e.what)).map((e) => `${e.component}: ${e.what}`);
    const problems: string[] = [];
    if (t.lost > 0) problems.push(`${t.lost} message(s) lost`);
    const duplicated = platformDuplicates(t);
    if (duplicated > 0) {
      problems.push(`${duplicated} duplicate(s) (stored twice ${t.storedTwice}, answered twice ${t.answeredTwice - t.answeredTwiceGraphWindow} besides the Graph API's window, outbound rows twice ${t.outboundRowsTwice})`);
    }
    for (const kind of FAULT_KINDS) if (kills[kind] < options.kills[kind]) problems.push(`only ${kills[kind]} of ${options.kills[kind]} ${kind} kills happened`);
    if (t.sent === 0) problems.push('no message was sent');

    const durationsMs = { startup: startupMs, load: loadMs, drain: drainMs, total: Date.now() - started };
    const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
    const report = renderReport({ options, accounting, totals: t, faults, kills, unplannedRestarts, problems, durationsMs, root, stamp, stack, webchatConnects: load.webchatConnects });
    mkdirSync(options.artifactDir, { recursive: true });
    const reportPath = join(options.artifactDir, `chaos-${stamp}.md`);
    writeFileSync(reportPath, report);
    writeFileSync(join(root, 'report.md'), report);
    const ok = problems.length === 0;
    if (!ok) keepFolder = true;
    return { ok, problems, accounting, totals: t, faults, kills, unplannedRestarts, report, reportPath, root, durationsMs };
  } catch (err) {
    keepFolder = true;
    log(`run failed: ${(err as Error).message}`);
    throw err;
  } finally {
    clearTimeout(watchdogTimer);
    ending.abort();
    await load?.stop().catch(() => {});
    await Promise.race([stack?.close(), sleep(60_000)]).catch(() => {});
    killEverything();
    if (keepFolder) log(`run folder kept: ${root} (logs in ${join(root, 'logs')})`);
    else rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Duplicates the platform is answerable for: stored twice, answered twice (except through the
 * Graph API's window, which is counted apart), two outbound rows for one message.
 */
export function platformDuplicates(t: KindFigures): number {
  return t.storedTwice + (t.answeredTwice - t.answeredTwiceGraphWindow) + t.outboundRowsTwice;
}

// ---- Tenant -----------------------------------------------------------------------------

/** What the tenant's set-up needs of a stack (this suite's, or test/cluster's). */
type TenantStack = Pick<ChaosStack, 'apiUrl' | 'adminKey' | 'graph'>;

export interface ChaosTenant {
  tenantId: string;
  whatsapp: { phoneNumberId: string; appSecret: string };
  webchat: { widgetId: string; channelId: string };
}

async function rest<T>(stack: TenantStack, method: string, path: string, key: string, body: unknown): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Admin key → tenant (OpenAI through the fake, quiet window 0) → WhatsApp and web chat channels. */
export async function setUpTenant(stack: TenantStack): Promise<ChaosTenant> {
  const suffix = randomBytes(4).toString('hex');
  const settings = {
    conversation: { quietWindowMs: 0, floodMaxPerMinute: 1000 },
    // The fallback is the same fake under another model name, so that even a fallback answer
    // names the messages it answers.
    llm: { provider: 'openai', model: 'gpt-4o-mini', fallbackProvider: 'openai', fallbackModel: 'gpt-4o' },
  };
  const created = await rest<{ tenant: { id: string }; apiKey: { key: string } }>(stack, 'POST', '/api/v1/tenants', stack.adminKey, {
    name: 'Chaos Bikes', slug: `chaos-${suffix}`, settings,
  });
  const key = created.apiKey.key;
  const phoneNumberId = `10${Date.now() % 1e10}`;
  const appSecret = randomBytes(16).toString('hex');
  stack.graph.own(WHATSAPP_TOKEN, { phoneNumberIds: [phoneNumberId] }); // registration asks Meta who owns the number
  await rest(stack, 'POST', '/api/v1/channels', key, {
    type: 'whatsapp', name: 'WhatsApp', phoneNumberId, wabaId: `20${Date.now() % 1e10}`,
    accessToken: WHATSAPP_TOKEN, appSecret, verifyToken: `verify-${suffix}`,
  });
  const webchat = await rest<{ id: string; widgetId: string | null }>(stack, 'POST', '/api/v1/channels', key, { type: 'webchat', name: 'Site chat', allowedOrigins: [] });
  if (!webchat.widgetId) throw new Error('the web chat channel has no widgetId');
  return { tenantId: created.tenant.id, whatsapp: { phoneNumberId, appSecret }, webchat: { widgetId: webchat.widgetId, channelId: webchat.id } };
}

// ---- Faults -----------------------------------------------------------------------------

/** worker, temporal, postgres, worker, … for as long as each kind has kills left. */
export function faultPlan(kills: Record<FaultKind, number>): FaultKind[] {
  const left = { ...kills };
  const plan: FaultKind[] = [];
  while (FAULT_KINDS.some((k) => left[k] > 0)) {
    for (const kind of FAULT_KINDS) {
      if (left[kind] > 0) {
        plan.push(kind);
        left[kind]--;
      }
    }
  }
  return plan;
}

async function injectFaults(stack: ChaosStack, options: ChaosOptions, loadStarted: number, stop: AbortSignal): Promise<FaultRecord[]> {
  const plan = faultPlan(options.kills);
  const slot = options.durationMs / Math.max(1, plan.length);
  const records: FaultRecord[] = [];
  let lastDone = loadStarted;
  for (const [i, kind] of plan.entries()) {
    const at = loadStarted + slot * (i + 0.5) + (Math.random() - 0.5) * slot * 0.4;
    // At least a few seconds of normal operation between two faults.
    await sleep(Math.max(0, at - Date.now(), lastDone + 5_000 - Date.now()));
    if (stop.aborted) throw new Error('fault injection stopped');
    records.push(await injectFault(stack, kind, options, loadStarted));
    lastDone = Date.now();
  }
  return records;
}

async function injectFault(stack: ChaosStack, kind: FaultKind, options: ChaosOptions, loadStarted: number): Promise<FaultRecord> {
  const atS = Math.round((Date.now() - loadStarted) / 100) / 10;
  const downMs = Math.round(options.downtimeMinMs + Math.random() * (options.downtimeMaxMs - options.downtimeMinMs));
  if (kind === 'worker') await stack.killWorker();
  else if (kind === 'temporal') await stack.killTemporal();
  else await stack.killPostgres();
  await sleep(downMs);
  const restarted = Date.now();
  if (kind === 'worker') await stack.restartWorker();
  else if (kind === 'temporal') await stack.restartTemporal();
  else await stack.restartPostgres();
  const back = Date.now();
  const backMs = back - restarted;

  // Does the API get back by itself? Only if not is it restarted (recorded as such).
  let apiReadyMs: number | null = null;
  while (Date.now() - back < options.recoveryMs) {
    if (await stack.apiReady()) {
      apiReadyMs = Date.now() - back;
      break;
    }
    await sleep(100);
  }
  if (apiReadyMs === null) await stack.restartApi(`not ready ${options.recoveryMs} ms after the ${kind} restart (did not recover by itself)`);

  let workerMs: number | null = kind === 'worker' ? 0 : null;
  if (kind !== 'worker') {
    try {
      await stack.waitWorker(Math.max(10_000, options.recoveryMs));
      workerMs = Date.now() - back;
    } catch (err) {
      stack.record('worker', `did not recover by itself after the ${kind} restart (${(err as Error).message}); restarting it`);
      await stack.killWorker();
      await stack.restartWorker();
    }
  }
  stack.record(kind as Component, `fault done: down ${downMs} ms, back in ${backMs} ms, then API ready ${apiReadyMs === null ? 'only after a restart' : `after ${apiReadyMs} ms`}, worker answering ${workerMs === null ? 'only after a restart' : `after ${workerMs} ms`}`);
  return { kind, atS, downMs, backMs, apiReadyMs, workerMs };
}

// ---- Report -----------------------------------------------------------------------------

const ms = (v: number | undefined) => (v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

function renderReport(r: {
  options: ChaosOptions;
  accounting: Accounting;
  totals: KindFigures;
  faults: FaultRecord[];
  kills: Record<FaultKind, number>;
  unplannedRestarts: string[];
  problems: string[];
  durationsMs: ChaosResult['durationsMs'];
  root: string;
  stamp: string;
  stack: ChaosStack;
  webchatConnects: number;
}): string {
  const { options: o, accounting: a, totals: t } = r;
  const w = a.figures.whatsapp;
  const c = a.figures.webchat;
  const row = (label: string, f: (x: KindFigures) => string | number, whatsapp = f(w), webchat = f(c), total = f(t)) => `| ${label} | ${whatsapp} | ${webchat} | ${total} |`;
  const delays = (x: KindFigures) => `${ms(percentile(x.delays, 50))} / ${ms(percentile(x.delays, 95))} / ${ms(percentile(x.delays, 100))}`;
  const lines = [
    `# Fault-injection run ${r.stamp} (${o.mode})`,
    '',
    `**${r.problems.length === 0 ? 'PASS' : `FAIL: ${r.problems.join('; ')}`}**` +
      (t.answeredTwiceGraphWindow > 0 ? ` (${t.answeredTwiceGraphWindow} reply/replies sent twice through the Graph API's window: Meta accepted a send whose answer never reached the worker)` : ''),
    '',
    `Load ${Math.round(r.durationsMs.load / 1000)} s with ${o.whatsappUsers} WhatsApp users and ${o.webchatVisitors} web chat visitors (think ${o.thinkMs} ms, reply timeout ${o.replyTimeoutMs / 1000} s, ` +
      `${Math.round(o.duplicateRate * 100)} % forced redeliveries), downtime ${o.downtimeMinMs}–${o.downtimeMaxMs} ms per kill, ` +
      `continue-as-new suggested after ${o.suggestContinueAsNewAfter || 'the default number of'} events. ` +
      `Model latency ${o.llmLatencyMinMs}–${o.llmLatencyMaxMs} ms, Graph API answer ${o.graphLatencyMs} ms after accepting. ` +
      `Code under test: ${r.stack.sourceDescription}. ` +
      `Durations: startup ${ms(r.durationsMs.startup)}, load ${ms(r.durationsMs.load)}, drain ${ms(r.durationsMs.drain)}, total ${ms(r.durationsMs.total)}.`,
    '',
    '| | WhatsApp | web chat | total |',
    '| --- | ---: | ---: | ---: |',
    `| kills: worker / Temporal / Postgres | | | ${r.kills.worker} / ${r.kills.temporal} / ${r.kills.postgres} |`,
    row('messages sent', (x) => x.sent),
    row('acknowledged by the API', (x) => x.acknowledged),
    row('stored', (x) => x.stored),
    row('answered (reply seen by the user)', (x) => x.answered),
    row('answered only with the failure notice (not lost)', (x) => x.answeredWithNotice),
    row('outbound rows naming them', (x) => x.outboundRows),
    row('**lost**', (x) => `**${x.lost}**`),
    row('↳ not stored', (x) => x.lostNotStored),
    row('↳ stored, not answered', (x) => x.lostNotAnswered),
    row('**duplicated: stored twice**', (x) => `**${x.storedTwice}**`),
    row('**duplicated: answered twice**', (x) => `**${x.answeredTwice}**`),
    row("↳ of which through the Graph API's window (not the platform's)", (x) => x.answeredTwiceGraphWindow),
    row('duplicated: two outbound rows', (x) => x.outboundRowsTwice),
    row('answered out of order', (x) => x.outOfOrder),
    row('stored out of order', (x) => x.storedOutOfOrder),
    row('delay message → reply p50 / p95 / max', delays),
    row('retries (redeliveries / resends)', (x) => x.retries),
    row('forced redeliveries of acknowledged deliveries', (x) => x.forcedRedeliveries),
    row('reply accepted by Meta but not recorded', () => '', String(a.acceptedNotRecorded.length), '–', String(a.acceptedNotRecorded.length)),
    `| replies naming no message (failure notices) | | | ${a.unattributed.length} |`,
    `| outbound rows not sent (pending / failed) | | | ${a.unsentRows.length} |`,
    `| web chat: sockets opened / frames replayed | | ${r.webchatConnects} / ${a.replayedFrames} | |`,
    `| unplanned restarts (exits nobody asked for, components that did not recover) | | | ${r.unplannedRestarts.length} |`,
    '',
    '## Faults',
    '',
    '| # | at (s) | kind | down | back in (after the restart) | then API ready | then worker answering |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...r.faults.map((f, i) => `| ${i + 1} | ${f.atS} | ${f.kind} | ${ms(f.downMs)} | ${ms(f.backMs)} | ${f.apiReadyMs === null ? 'restarted' : ms(f.apiReadyMs)} | ${f.workerMs === null ? 'restarted' : ms(f.workerMs)} |`),
    '',
  ];
  if (r.unplannedRestarts.length) lines.push('## Unplanned restarts', '', ...r.unplannedRestarts.map((u) => `- ${u}`), '');
  if (a.findings.length) {
    lines.push('## Findings', '');
    for (const f of a.findings) {
      lines.push(`- **${f.kind} ${f.token}** (user ${f.user}, message #${f.seq}, id \`${f.externalId}\`): ${f.problem}`);
      for (const fact of f.facts) lines.push(`  - ${fact}`);
    }
    lines.push('');
  }
  if (a.acceptedNotRecorded.length) lines.push('## Accepted by Meta but not recorded', '', ...a.acceptedNotRecorded.map((x) => `- to ${x.user}: ${x.graphMessageId} "${x.text}"`), '');
  if (a.unattributed.length) lines.push('## Replies naming no message', '', ...a.unattributed.map((x) => `- ${x.kind} ${x.user} at ${new Date(x.at).toISOString()}: "${x.text}"`), '');
  if (a.unsentRows.length) lines.push('## Outbound rows not sent', '', ...a.unsentRows.map((x) => `- ${x.user} ${x.status}: "${x.text}" ${JSON.stringify(x.error)}`), '');
  lines.push('## Timeline', '', ...r.stack.events.map((e) => `- ${new Date(e.at).toISOString().slice(11, 23)} ${e.component}: ${e.what}`), '');
  const kept = r.problems.length > 0 || o.keep;
  lines.push(`Run folder: \`${r.root}\` (${kept ? 'kept: logs/ holds the API, worker, Temporal and Postgres logs' : 'removed, the run passed; --keep keeps it'}).`, '');
  return lines.join('\n');
}
