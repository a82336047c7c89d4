// `npm run chaos`: the full fault-injection run (several kills of each kind, a few minutes), or
// `npm run chaos -- --bounded` for the short one npm test runs. Prints the report, writes it to
// test-artifacts/chaos-<timestamp>.md, exits 0 when nothing was lost or duplicated, 1 when
// something was, 2 when the run itself failed. Ctrl-C stops everything it started (a second
// Ctrl-C kills at once) and keeps the run folder.
import { resolveOptions, usage } from './options.ts';
import { killEverything } from './processes.ts';
import { BOUNDED_DEFAULTS, FULL_DEFAULTS, runChaos } from './run.ts';

const started = Date.now();
const log = (message: string) => process.stdout.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}
const bounded = args.includes('--bounded');
let options;
try {
  options = resolveOptions(bounded ? BOUNDED_DEFAULTS : FULL_DEFAULTS, args.filter((a) => a !== '--bounded'), process.env);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${usage()}\n`);
  process.exit(64);
}

const interrupt = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    log(`${signal} again: killing everything now`);
    killEverything();
    process.exit(130);
  }
  log(`${signal}: stopping (again to kill at once)`);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.stdout.on('error', () => {});

let exitCode: number;
try {
  const result = await runChaos({ ...options, log, signal: interrupt.signal });
  process.stdout.write(`\n${result.report}\n`);
  log(`report written to ${result.reportPath}`);
  exitCode = interrupt.signal.aborted ? 130 : result.ok ? 0 : 1;
} catch (err) {
  log(interrupt.signal.aborted ? 'interrupted' : `the run failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = interrupt.signal.aborted ? 130 : 2;
}
// Everything the run started is stopped by now; nothing else may keep this process alive.
process.exit(exitCode);
