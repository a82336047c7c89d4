// Workflow histories recorded from earlier versions of the workflow code replay against the code
// in this tree. A conversation lives for days and weeks, so every deploy meets runs that earlier
// code started: their histories must replay, or those conversations fail at their next message.
//
// - The fixtures: test/replay/histories/<set>/<scenario>.json, one JSON history per run (new
//   conversation, burst, redelivery, handoff and release, a tool call, continue-as-new, idle close
//   and reopen; see test/replay/record.ts). Every file under test/replay/histories/ replays here,
//   against the workflows bundled exactly as the worker bundles them (workers/create-workers.ts).
// - A change under workflows/ that alters the commands an existing history holds (a new or
//   reordered activity, timer or update step, different options) fails this suite. Keep the old
//   path for those histories with `patched('<change-id>')` (`deprecatePatch` once no run without
//   the marker can still be open), and record a new set.
// - Recording a set: `npm run replay:record -- conversation-v<N>` runs the scenarios against this
//   tree's workflows, activities and test rig, with servers of its own (about a minute), and
//   writes test/replay/histories/conversation-v<N>/. Commit it with the change it records.
// - Fixtures are never edited, re-recorded or deleted while a run they stand for may still be
//   open in production: they are what that production code wrote.
//
// - The workers bundle their sandbox interceptors with the workflows (request id always, the
//   OpenTelemetry ones with tracing on, workers/interceptors.ts); every history replays with both
//   bundles, so an interceptor that changes commands fails here.
//
// Replay is offline: this file needs no Postgres and no Temporal server (the suite's global setup
// starts them for the other files regardless); it replays the bundles that the global setup wrote.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { EncryptionCodec } from '../lib/payload-codec.ts';
import { temporalDataConverter } from '../lib/temporal.ts';
import { testWorkflowBundle } from './support/workers.ts';
import { listHistoryFiles, mapHistoryPayloads, readHistoryFile, type HistoryFile } from './replay/history-files.ts';

const HISTORIES = fileURLToPath(new URL('./replay/histories', import.meta.url));
/** Replay decodes with the workers' data converter (lib/payload-codec.ts): fixtures recorded in plaintext pass through it. */
const keyring = [{ id: 'replay', key: randomBytes(32) }];

/** Where the traced bundle's workflow spans would go: replay must export none. */
const replayedSpans = new InMemorySpanExporter();
const spanSinks = { exporter: makeWorkflowExporter(new SimpleSpanProcessor(replayedSpans), new Resource({})) };

/** Replays `histories` one after another on one replay worker; each one's error, if any. */
async function replay(
  workflowBundle: WorkflowBundle,
  histories: HistoryFile[],
  dataConverter: DataConverter | null = temporalDataConverter(keyring),
): Promise<{ name: string; error?: Error }[]> {
  const results: { name: string; error?: Error }[] = [];
  // runReplayHistories replays one history at a time and yields its result before taking the
  // next, so results arrive in the order of `histories`.
  const options = { workflowBundle, replayName: 'replay-test', sinks: spanSinks, ...(dataConverter && { dataConverter }) };
  for await (const result of Worker.runReplayHistories(options, histories)) {
    results.push({ name: histories[results.length]!.name, ...(result.error && { error: result.error }) });
  }
  return results;
}

describe('recorded workflow histories', () => {
  const files = listHistoryFiles(HISTORIES);
  const histories: HistoryFile[] = [];
  const unreadable: string[] = [];
  for (const path of files) {
    try {
      histories.push(readHistoryFile(HISTORIES, path));
    } catch (err) {
      unreadable.push((err as Error).message);
    }
  }
  let production: WorkflowBundle;
  let traced: WorkflowBundle;

  beforeAll(async () => {
    // Bundled by test/global-setup.ts with bundleWorkflows, as the workers bundle them.
    const read = async (tracing: boolean) => ({ code: await readFile(testWorkflowBundle(tracing).codePath, 'utf8') });
    [production, traced] = await Promise.all([read(false), read(true)]);
    // The traced bundle holds Temporal's workflow tracer (its name), the other one does not.
    expect(traced.code).toContain('@temporalio/interceptor-workflow');
    expect(production.code).not.toContain('@temporalio/interceptor-workflow');
  });

  for (const [bundle, name] of [[() => production, 'the workers bundle them'], [() => traced, 'the workers bundle them with tracing on']] as const) {
    it(`all replay against the workflows in this tree, as ${name}`, async () => {
      expect(histories.length, `no histories under ${HISTORIES}`).toBeGreaterThan(0);
      const results = await replay(bundle(), histories);
      expect(results.map((r) => r.name)).toEqual(histories.map((h) => h.name));
      const failures = [
        ...unreadable,
        ...results.filter((r) => r.error).map((r) => `${r.name} (${r.error!.name}): ${r.error!.message}`),
      ];
      expect(failures, `histories that do not replay:\n${failures.join('\n')}`).toEqual([]);
      expect(replayedSpans.getFinishedSpans(), 'spans exported while replaying').toEqual([]);
    });
  }

  it('replay with payloads encrypted as the workers now write them, and not without the codec', async () => {
    const codec = new EncryptionCodec(keyring);
    const sample = histories.filter((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name === 'conversation').slice(0, 4);
    expect(sample.length).toBeGreaterThan(0);
    const encrypted = await Promise.all(sample.map(async (h) => ({ ...h, history: await mapHistoryPayloads(h.history, (p) => codec.encode(p as never)) })));
    const firstInput = encrypted[0]!.history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(Buffer.from(firstInput?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    const withCodec = await replay(production, encrypted);
    expect(withCodec.filter((r) => r.error).map((r) => `${r.name}: ${r.error!.message}`)).toEqual([]);
    const withoutCodec = await replay(production, encrypted, null);
    for (const { name, error } of withoutCodec) expect(error, `${name} replayed without the codec`).toBeDefined();
  });

  it('catch a change to the commands: each fails against a conversation that runs a new first step', async () => {
    const altered = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./replay/altered-workflows.ts', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    });
    const conversations = histories.filter((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name === 'conversation');
    expect(conversations.length).toBeGreaterThan(0);
    const results = await replay(altered, conversations);
    for (const { name, error } of results) {
      expect(error, `${name} replayed against the altered conversation`).toBeInstanceOf(DeterminismViolationError);
      expect(error?.message, name).toMatch(/nondeterminism/i);
    }
  });
});
