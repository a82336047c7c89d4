// `npm run fuzz`: schemathesis over every operation of the OpenAPI document (GET /docs/json) of
// the real API, in passes of one key each (test/fuzz/api-fuzz.ts): the API process on an
// isolated embedded Postgres and Temporal dev server of its own (scripts/provision/
// isolated-stack.ts), all on 127.0.0.1, started and stopped here. Prints the results per key
// and writes them to test/fuzz/RESULTS.md; exits 1 on any 5xx or schema violation.
//   FUZZ_EXAMPLES  test cases per operation and phase (default 100)
//   FUZZ_SEED      the generator's seed (default 20260101)
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { killAllChildren } from '../bench/lib/children.ts';
import { clean, documentedOperations, formatOperations, formatResults, fuzzApi } from '../test/fuzz/api-fuzz.ts';
import { startFuzzTarget, type FuzzTarget } from '../test/fuzz/target.ts';
import { startStack, type Stack } from './provision/isolated-stack.ts';
import { ensureSchemathesis, PINS, PROJECT_ROOT } from './provision/tools.ts';

const maxExamples = Number(process.env.FUZZ_EXAMPLES ?? 100);
const seed = Number(process.env.FUZZ_SEED ?? 20260101);
const WATCHDOG_MS = 30 * 60_000;
const log = (message: string) => process.stdout.write(`[fuzz ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

let stack: Stack | undefined;
let target: FuzzTarget | undefined;
const teardown = async (keepFiles = false) => {
  await target?.stop().catch(() => {});
  await stack?.close(keepFiles);
};
const abort = (why: string, code: number) => {
  log(why);
  void teardown(true).finally(() => {
    killAllChildren();
    process.exit(code);
  });
};
setTimeout(() => abort(`watchdog: still running after ${WATCHDOG_MS / 60_000} minutes; stopping`, 2), WATCHDOG_MS).unref();
process.once('SIGINT', () => abort('interrupted; stopping', 130));
process.once('SIGTERM', () => abort('terminated; stopping', 143));

const started = performance.now();
let ok = false;
try {
  const [cli, stackStarted] = await Promise.all([ensureSchemathesis(), startStack({ name: 'fuzz', database: 'metachat_fuzz' })]);
  stack = stackStarted;
  target = await startFuzzTarget({ databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, dataDir: stack.dataRoot });
  log(`API up at ${target.url} (${stack.versions.postgres}; ${stack.versions.temporalCli}); schemathesis ${PINS.schemathesis}, ${maxExamples} examples per operation, seed ${seed}`);
  const reports = await fuzzApi(target, cli.path, { maxExamples, seed, passTimeoutMs: 20 * 60_000, log });
  const seconds = (performance.now() - started) / 1000;
  ok = clean(reports);
  const table = formatResults(reports);
  const text = [
    '# OpenAPI fuzzing results',
    '',
    `\`npm run fuzz\` (scripts/fuzz-api.ts), ${new Date().toISOString().slice(0, 10)}: schemathesis ${PINS.schemathesis}, checks not_a_server_error, status_code_conformance, ` +
      `content_type_conformance, response_schema_conformance; phases coverage, fuzzing, stateful; ${maxExamples} examples per operation and phase, seed ${seed}; ` +
      `${os.cpus().length} cores; ${seconds.toFixed(0)} s in all (servers included).`,
    '',
    table,
    '',
    '## Answers per operation',
    '',
    'Requests by status class, per pass (the stateful phase\'s sequences are counted under the operations they called).',
    '',
    formatOperations(reports, await documentedOperations(target)),
    '',
  ].join('\n');
  process.stdout.write(`\n${table}\n\n`);
  writeFileSync(join(PROJECT_ROOT, 'test', 'fuzz', 'RESULTS.md'), text);
  if (!ok) {
    for (const { pass, result } of reports) if (result.failureReport) process.stdout.write(`\n---- pass "${pass.name}" ----\n${result.failureReport}\n`);
    log(`the API log is kept in ${target.apiLog}`);
  }
  log(`${ok ? 'clean' : 'FOUND PROBLEMS'}: ${seconds.toFixed(0)} s; results in test/fuzz/RESULTS.md`);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await teardown(!ok);
}
process.exit(ok ? 0 : 1);
