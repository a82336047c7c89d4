// The OpenAPI document as a contract, checked by schemathesis (test/fuzz/): the real API process
// on the run's Postgres and Temporal server, every operation of /docs/json fuzzed with a tenant
// key, an agent key and the admin key (test/fuzz/api-fuzz.ts PASSES), a few examples each (the
// full run is `npm run fuzz`). The agent pass leaves out the coverage phase (boundary and missing
// values: nine requests in ten of a pass, ~45 s): the agent key reaches the same handlers and
// validation as the tenant key, whose pass covers them; what differs is which operations it may
// call, and fuzzing calls every one. `npm run fuzz` runs every phase for every key. Any 5xx, and
// any answer the document does not describe (status, content type, body), fails the test, with the
// CLI's curl reproductions printed.
// test/api-fuzz.test.ts fuzzes the same routes with fast-check, beside the document.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSchemathesis } from '../scripts/provision/tools.ts';
import { clean, documentedOperations, ENDLESS, formatResults, fuzzApi, NEEDS_WORKER, PASSES, type PassReport } from './fuzz/api-fuzz.ts';
import { startFuzzTarget, type FuzzTarget } from './fuzz/target.ts';
import { createMigratedDatabase } from './support/database.ts';

const EXAMPLES = 3;
const SEED = 20260101;

describe('the OpenAPI document, fuzzed by schemathesis', () => {
  let dataDir: string;
  let target: FuzzTarget;
  let cli: string;
  let operations: string[];
  let reports: PassReport[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'metachat-schemathesis-test-'));
    // Installed by `npm test`'s setup (scripts/setup.ts --fuzzer); installs it here otherwise.
    [cli, target] = await Promise.all([
      ensureSchemathesis().then((t) => t.path),
      createMigratedDatabase('api_schemathesis').then((databaseUrl) => startFuzzTarget({ databaseUrl, temporalAddress: inject('temporalAddress'), dataDir })),
    ]);
    operations = await documentedOperations(target);
  });
  afterAll(async () => {
    await target?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds no 5xx and no answer the document does not describe, in any pass', { timeout: 240_000 }, async () => {
    reports = await fuzzApi(target, cli, { maxExamples: EXAMPLES, seed: SEED, passTimeoutMs: 180_000, phases: { agent: ['examples', 'fuzzing', 'stateful'] } });
    const table = formatResults(reports);
    const details = reports.map(({ pass, result }) => (result.failureReport ? `---- pass "${pass.name}" ----\n${result.failureReport}` : '')).join('\n');
    expect(clean(reports), `${table}\n\n${details}\n\nAPI log: ${target.apiLog}`).toBe(true);
  });

  it('sent requests to every operation of the document with a tenant key and with an agent key', () => {
    expect(reports, 'the fuzzing ran').toBeDefined();
    const byPass = new Map(reports.map(({ pass, result }) => [pass.name, result]));
    const tenant = new Set([...byPass.get('tenant')!.tested, ...byPass.get('tenant, key revocation')!.tested]);
    expect(operations.filter((op) => !tenant.has(op) && !NEEDS_WORKER.includes(op) && !ENDLESS.includes(op)), 'not reached by a tenant key').toEqual([]);
    expect(operations.filter((op) => !byPass.get('agent')!.tested.has(op) && !ENDLESS.includes(op)), 'not reached by the agent key').toEqual([]);
    expect(operations.length).toBeGreaterThan(60);
    for (const { pass, result } of reports) expect(result.requests, pass.name).toBeGreaterThan(result.operations);
    expect(PASSES.map((p) => p.name)).toEqual([...byPass.keys()]);
  });
});
