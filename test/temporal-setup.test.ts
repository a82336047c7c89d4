// Search attributes are registered once per namespace by `npm run temporal:setup`
// (scripts/temporal-setup.ts); a worker only checks them and refuses to start without them,
// naming what is missing. Against a namespace of its own on the shared dev server.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { temporalSetup } from '../scripts/temporal-setup.ts';
import { assertSearchAttributes, missingSearchAttributes } from '../temporal-config/search-attributes.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { testEnv } from './support/config.ts';
import { eventually } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const NAMES = SEARCH_ATTRIBUTES.map((k) => k.name);

describe('temporal:setup', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  const namespace = `setup-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    await temporal.client.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    await eventually(async () => (await missingSearchAttributes(temporal.client, namespace).catch(() => undefined))?.length === NAMES.length, 20_000, 'new namespace visible');
  });
  afterAll(async () => {
    await temporal?.close();
  });

  it('a worker refuses to start on a namespace without them, naming every missing one', async () => {
    await expect(assertSearchAttributes(temporal.client, namespace)).rejects.toThrow(
      `Temporal namespace "${namespace}" lacks the search attributes ${NAMES.join(', ')} (Keyword): run \`npm run temporal:setup\` once against it`,
    );
    const env = { ...process.env, ...testEnv({ TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'info' }) };
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'workers/main.ts'], { env, timeout: 60_000 }).then(
      () => ({ code: 0, output: '' }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, output: `${err.stdout}${err.stderr}` }),
    );
    expect(run.code).toBe(1);
    expect(run.output).toContain(`lacks the search attributes ${NAMES.join(', ')}`);
    expect(run.output).toContain('npm run temporal:setup');
  });

  it('registers them once; a second run changes nothing; then the check passes', async () => {
    const lines: string[] = [];
    const env = testEnv({ TEMPORAL_NAMESPACE: namespace });
    expect(await temporalSetup(env, (l) => lines.push(l))).toBe(0);
    expect(lines).toEqual([`Namespace "${namespace}": registered search attributes ${NAMES.join(', ')}.`]);
    await eventually(async () => (await missingSearchAttributes(temporal.client, namespace)).length === 0, 20_000, 'attributes visible');
    expect(await temporalSetup(env, (l) => lines.push(l))).toBe(0);
    expect(lines[1]).toBe(`Namespace "${namespace}": search attributes already in place.`);
    await assertSearchAttributes(temporal.client, namespace);
  });

  it('names bad connection variables and stops with EX_CONFIG', async () => {
    const lines: string[] = [];
    expect(await temporalSetup({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TLS_CERT_FILE: '/nonexistent.pem' }, (l) => lines.push(l))).toBe(78);
    expect(lines).toEqual([expect.stringMatching(/^TEMPORAL_TLS_KEY_FILE: is required with TEMPORAL_TLS_CERT_FILE/)]);
    lines.length = 0;
    expect(await temporalSetup({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TLS_CA_FILE: '/nonexistent.pem' }, (l) => lines.push(l))).toBe(78);
    expect(lines).toEqual(['TEMPORAL_TLS_CA_FILE: cannot read "/nonexistent.pem" (ENOENT)']);
  });
});
