// Records a set of conversation workflow histories for test/replay.test.ts:
//
//   npm run replay:record -- <set>          → test/replay/histories/<set>/  (e.g. conversation-v2)
//   npm run replay:record -- <folder>       → that folder (a path: contains a "/")
//   … [--only <pattern>]                    only the scenarios whose names match, e.g. while changing one
//
// Why: conversations run for days and weeks, so a deploy meets runs started by the previous
// workflow code. Their histories, recorded once from that code and kept here, must replay
// against every later version (`npm test` replays them all); a change that alters the commands
// a history already holds has to be gated with patched() (see the header of test/replay.test.ts).
// Record a new set after a change to workflows/ that existing sets do not exercise, from the
// tree whose code should produce it; to record the code of an older commit, check it out in a
// worktree, copy test/replay/ into it, run this there and point <folder> back at this tree.
//
// What it does: starts servers of its own (an embedded Postgres and a Temporal dev server on free
// ports, scripts/provision/isolated-stack.ts, the dev server suggesting continue-as-new after 200
// events as in the test suite; the time-skipping test server for the idle-close scenario), then
// runs test/replay/scenarios.ts under vitest with the same context the test suite's global setup
// provides, so the scenarios build on test/support's conversation rig unchanged: a tenant, the
// fake Graph API and a real worker running this tree's workflows and activities. Each scenario
// waits until its run has closed or waits on nothing but the user before its history is written:
//
//   new                         one message, one reply
//   burst                       three quick messages, one reply (quiet window 300 ms)
//   redelivery                  one message delivered twice, and once more after the reply
//   handoff-release             "human", then the takeOver, agentMessage and release updates, then
//                               the assistant answers the next message
//   tools                       the model (fake OpenAI server) calls a tenant function, then answers
//   continue-as-new-run1/-run2  messages until the run continues as new; the next run answers one
//   idle-close-reopen-run1/-run2  closed after 24 h of silence (time skipping); a later message
//                               starts a fresh run that answers
//
// Re-running it drives the same steps to the same outcomes (fixed users and message ids, each
// step waiting for the previous one's effect); ids, times and the tenant differ, and a signal may
// land in its own workflow task or share one, a few events more or less. The files are written
// only if every scenario passed, into a folder that must not hold recorded histories yet: a
// committed set is never edited or replaced. It takes about 40 s and prints a summary of every
// file (events, activities, local activities, signals, updates, timers, patch markers).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProvidedContext } from 'vitest';
import { startVitest } from 'vitest/node';
import { startStack } from '../../scripts/provision/isolated-stack.ts';
import { ensureTemporalTestServer } from '../../scripts/provision/tools.ts';
import { MIGRATED_TEMPLATE } from '../support/database.ts';
import { writeWorkflowBundles } from '../support/workflow-bundles.ts';
import { listHistoryFiles, readHistoryFile, summarizeHistory } from './history-files.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where test/replay/scenarios.ts writes the histories (record.ts moves them into place). */
    replayOutDir: string;
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function parseArgs(args: string[]): { target: string; only?: string } {
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
  const [target, ...rest] = args;
  if (!target || rest.length || target.startsWith('-') || (onlyAt >= 0 && !only)) {
    console.error('usage: npm run replay:record -- <set name | folder> [--only <scenario name pattern>]   e.g. conversation-v2');
    process.exit(2);
  }
  return { target: target.includes('/') ? resolve(target) : join(here, 'histories', target), ...(only && { only }) };
}

async function main(): Promise<void> {
  const { target, only } = parseArgs(process.argv.slice(2));
  if (existsSync(target) && readdirSync(target).some((f) => f.endsWith('.json'))) {
    console.error(`${target} already holds recorded histories; recorded sets are never replaced. Choose a new set name.`);
    process.exit(2);
  }
  const started = Date.now();
  const staging = mkdtempSync(join(tmpdir(), 'metachat-replay-'));
  const bundleDir = mkdtempSync(join(tmpdir(), 'metachat-replay-bundles-'));
  const [stack, testServer, workflowBundlePaths] = await Promise.all([
    startStack({
      name: 'replay-record',
      database: MIGRATED_TEMPLATE,
      temporalArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=200'],
    }),
    ensureTemporalTestServer(),
    writeWorkflowBundles(bundleDir),
  ]);
  let ok = false;
  try {
    const provide: ProvidedContext = {
      postgresAdminUrl: stack.adminUrl,
      postgresBinDir: stack.postgresBinDir,
      temporalAddress: stack.temporalAddress,
      temporalCliPath: stack.temporalCliPath,
      temporalTestServerPath: testServer.path,
      chromiumPath: '',
      workflowBundlePaths,
      replayOutDir: staging,
    };
    const vitest = await startVitest('test', [], {
      config: false,
      root,
      include: [relative(root, join(here, 'scenarios.ts'))],
      setupFiles: [join(root, 'test/support/temporal-runtime.ts')],
      provide,
      pool: 'forks',
      maxWorkers: 1,
      testTimeout: 180_000,
      hookTimeout: 120_000,
      watch: false,
      // Only some scenarios (a regular expression on their names), e.g. while changing one.
      ...(only && { testNamePattern: only }),
    });
    const failed = vitest.state.getCountOfFailedTests() + vitest.state.getUnhandledErrors().length;
    const files = vitest.state.getFiles();
    ok = failed === 0 && files.length > 0 && files.every((f) => f.result?.state === 'pass' || (only && f.result?.state !== 'fail'));
    await vitest.close();
  } finally {
    await stack.close();
    rmSync(bundleDir, { recursive: true, force: true });
  }
  if (!ok) {
    rmSync(staging, { recursive: true, force: true });
    console.error('\nrecording failed: nothing written');
    process.exit(1);
  }

  mkdirSync(target, { recursive: true });
  cpSync(staging, target, { recursive: true });
  rmSync(staging, { recursive: true, force: true });
  console.log(`\nrecorded into ${relative(process.cwd(), target) || '.'} in ${((Date.now() - started) / 1000).toFixed(0)} s:`);
  for (const path of listHistoryFiles(target)) {
    const { name, history } = readHistoryFile(target, path);
    const s = summarizeHistory(history);
    const list = (counts: Record<string, number>) => Object.entries(counts).map(([k, n]) => `${k}×${n}`).join(' ') || '-';
    console.log(`  ${name.padEnd(30)} ${String(s.events).padStart(4)} events, last ${s.last}`);
    console.log(`    activities: ${list(s.activities)}; local: ${list(s.localActivities)}`);
    console.log(`    signals: ${list(s.signals)}; updates: ${list(s.updates)}; timers: ${s.eventTypes.timerStarted ?? 0}; patches: ${s.patches.join(' ') || '-'}`);
  }
}

await main();
process.exit(0); // the servers are stopped; do not wait on handles the SDK may keep
