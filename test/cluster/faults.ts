// The fault-injection run on the cluster (stack.ts): the load of the fault-injection suite
// (test/chaos/load.ts: WhatsApp users and web chat visitors through the round-robin proxy) while
// a conversations worker, an API process and the Temporal server itself are SIGKILLed and started
// again, then the suite's accounting (test/chaos/accounting.ts): nothing lost, nothing stored or
// answered twice. The other API and the other conversations worker keep serving meanwhile, so,
// unlike on the single-process stack, only the Temporal kill stops the platform.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { account, percentile, totals, type Accounting, type KindFigures } from '../chaos/accounting.ts';
import { startLoad } from '../chaos/load.ts';
import { sleep } from '../chaos/processes.ts';
import { platformDuplicates, setUpTenant } from '../chaos/run.ts';
import type { ClusterStack } from './stack.ts';

export type ClusterFault = 'worker-conversations-1' | 'api-1' | 'temporal';
export const CLUSTER_FAULTS: ClusterFault[] = ['worker-conversations-1', 'api-1', 'temporal'];

export interface ClusterFaultOptions {
  durationMs: number;
  whatsappUsers: number;
  webchatVisitors: number;
  downtimeMs: number;
  thinkMs: number;
  replyTimeoutMs: number;
  attemptTimeoutMs: number;
  duplicateRate: number;
  drainMs: number;
  settleMs: number;
  artifactDir: string;
  log: (message: string) => void;
}

export interface FaultRecord {
  kind: ClusterFault;
  atS: number;
  downMs: number;
  /** From the restart until it served again. */
  backMs: number;
  /** Through the proxy, during the downtime: whether the platform still answered /health/ready. */
  servedWhileDown: boolean;
  /** After it was back: a workflow round trip on the conversations queue. */
  workerMs: number;
}

export interface ClusterFaultResult {
  ok: boolean;
  problems: string[];
  totals: KindFigures;
  accounting: Accounting;
  faults: FaultRecord[];
  report: string;
  reportPath: string;
  durationsMs: { load: number; drain: number; total: number };
}

export async function runClusterFaults(stack: ClusterStack, o: ClusterFaultOptions): Promise<ClusterFaultResult> {
  const started = Date.now();
  const tenant = await setUpTenant(stack);
  const load = startLoad(
    {
      apiUrl: stack.apiUrl,
      whatsapp: tenant.whatsapp,
      webchat: tenant.webchat,
      whatsappUsers: o.whatsappUsers,
      webchatVisitors: o.webchatVisitors,
      thinkMs: o.thinkMs,
      replyTimeoutMs: o.replyTimeoutMs,
      duplicateRate: o.duplicateRate,
      attemptTimeoutMs: o.attemptTimeoutMs,
    },
    stack.graph,
  );
  const loadStarted = Date.now();
  const progress = setInterval(() => {
    const l = load.ledger;
    o.log(`progress: ${l.messages.length} sent, ${l.messages.length - l.unanswered().length} answered`);
  }, 15_000);
  const faults: FaultRecord[] = [];
  try {
    const slot = o.durationMs / CLUSTER_FAULTS.length;
    for (const [i, kind] of CLUSTER_FAULTS.entries()) {
      await sleep(Math.max(0, loadStarted + slot * (i + 0.4) - Date.now()));
      const atS = Math.round((Date.now() - loadStarted) / 100) / 10;
      await stack.kill(kind);
      let servedWhileDown = true;
      const downUntil = Date.now() + o.downtimeMs;
      while (Date.now() < downUntil) {
        // A keep-alive connection to the killed backend fails once, as behind any balancer: a client retries.
        if (!(await stack.apiReady()) && !(await stack.apiReady())) servedWhileDown = false;
        await sleep(250);
      }
      const backMs = await stack.restart(kind);
      const back = Date.now();
      await stack.waitWorker(60_000);
      const workerMs = Date.now() - back;
      faults.push({ kind, atS, downMs: o.downtimeMs, backMs, servedWhileDown, workerMs });
      stack.record(kind, `fault done: down ${o.downtimeMs} ms (platform ${servedWhileDown ? 'ready throughout' : 'not ready for a while'}), serving ${backMs} ms after the restart, a workflow round trip ${workerMs} ms later`);
    }
    await sleep(Math.max(0, loadStarted + o.durationMs - Date.now()));
  } finally {
    clearInterval(progress);
  }
  const loadMs = Date.now() - loadStarted;

  o.log('load done: no new messages; draining');
  load.stopSending();
  const drainStarted = Date.now();
  while (load.ledger.unanswered().length > 0 && Date.now() - drainStarted < o.drainMs) await sleep(500);
  await sleep(o.settleMs);
  await load.stop();
  const drainMs = Date.now() - drainStarted;
  if (load.ledger.fatal) throw new Error(load.ledger.fatal);

  const accounting = await account({ databaseUrl: stack.databaseUrl, tenantId: tenant.tenantId, ledger: load.ledger, client: stack.client });
  const t = totals(accounting);
  const problems: string[] = [];
  if (t.sent === 0) problems.push('no message was sent');
  if (t.lost > 0) problems.push(`${t.lost} message(s) lost`);
  if (platformDuplicates(t) > 0) problems.push(`${platformDuplicates(t)} duplicate(s)`);
  const unplanned = stack.events.filter((e) => /unexpectedly/.test(e.what));
  if (unplanned.length) problems.push(`${unplanned.length} exit(s) nobody asked for`);

  const durationsMs = { load: loadMs, drain: drainMs, total: Date.now() - started };
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const report = renderReport({ o, t, accounting, faults, problems, durationsMs, stamp, stack });
  mkdirSync(o.artifactDir, { recursive: true });
  const reportPath = join(o.artifactDir, `cluster-${stamp}.md`);
  writeFileSync(reportPath, report);
  return { ok: problems.length === 0, problems, totals: t, accounting, faults, report, reportPath, durationsMs };
}

const ms = (v: number | undefined) => (v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

function renderReport(r: {
  o: ClusterFaultOptions;
  t: KindFigures;
  accounting: Accounting;
  faults: FaultRecord[];
  problems: string[];
  durationsMs: ClusterFaultResult['durationsMs'];
  stamp: string;
  stack: ClusterStack;
}): string {
  const { t, accounting: a } = r;
  const w = a.figures.whatsapp;
  const c = a.figures.webchat;
  const row = (label: string, f: (x: KindFigures) => string | number) => `| ${label} | ${f(w)} | ${f(c)} | ${f(t)} |`;
  return [
    `# Cluster fault-injection run ${r.stamp}`,
    '',
    `**${r.problems.length === 0 ? 'PASS' : `FAIL: ${r.problems.join('; ')}`}**`,
    '',
    `${r.stack.temporalDescription}, two APIs behind a round-robin proxy ` +
      `(connections ${r.stack.proxy.connections.join(' / ')}), two conversations workers, one ingestion + maintenance worker. ` +
      `Load ${ms(r.durationsMs.load)} with ${r.o.whatsappUsers} WhatsApp users and ${r.o.webchatVisitors} web chat visitors; drain ${ms(r.durationsMs.drain)}; total ${ms(r.durationsMs.total)}. ` +
      `Code under test: ${r.stack.sourceDescription}.`,
    '',
    '| | WhatsApp | web chat | total |',
    '| --- | ---: | ---: | ---: |',
    row('messages sent', (x) => x.sent),
    row('stored', (x) => x.stored),
    row('answered', (x) => x.answered),
    row('answered only with the failure notice (not lost)', (x) => x.answeredWithNotice),
    row('**lost**', (x) => `**${x.lost}**`),
    row('**stored twice**', (x) => `**${x.storedTwice}**`),
    row('**answered twice**', (x) => `**${x.answeredTwice}**`),
    row("↳ through the Graph API's window (not the platform's)", (x) => x.answeredTwiceGraphWindow),
    row('two outbound rows', (x) => x.outboundRowsTwice),
    row('answered out of order', (x) => x.outOfOrder),
    row('delay message → reply p50 / p95 / max', (x) => `${ms(percentile(x.delays, 50))} / ${ms(percentile(x.delays, 95))} / ${ms(percentile(x.delays, 100))}`),
    row('retries (redeliveries / resends)', (x) => x.retries),
    '',
    '| # | at (s) | killed | down | serving again after the restart | platform ready while down | then a workflow round trip |',
    '| ---: | ---: | --- | ---: | ---: | --- | ---: |',
    ...r.faults.map((f, i) => `| ${i + 1} | ${f.atS} | ${f.kind} | ${ms(f.downMs)} | ${ms(f.backMs)} | ${f.servedWhileDown ? 'yes' : 'no'} | ${ms(f.workerMs)} |`),
    '',
    ...(a.findings.length ? ['## Findings', '', ...a.findings.map((f) => `- **${f.kind} ${f.token}**: ${f.problem}; ${f.facts.join('; ')}`), ''] : []),
    '## Timeline',
    '',
    ...r.stack.events.map((e) => `- ${new Date(e.at).toISOString().slice(11, 23)} ${e.component}: ${e.what}`),
    '',
  ].join('\n');
}
