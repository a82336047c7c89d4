// A deploy while conversations are running: a run started by the first build (no v2 marker in
// its history) is picked up by a worker of the current build, replays through the frozen first
// version, and at its next message continues as new on the current code with its whole state.
import { createRequire } from 'node:module';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERSATION_V2, stateQuery } from '../workflows/conversation.ts';
import { summarizeHistory } from './replay/history-files.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const require = createRequire(import.meta.url);
/** Patch ids recorded in the run's history (patched() markers). */
const patchesOf = async (handle: { fetchHistory(): ReturnType<WorkflowHandle['fetchHistory']> }) => summarizeHistory(await handle.fetchHistory()).patches;

describe('upgrading running conversations', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client, { settings: { conversation: { quietWindowMs: 0 } } });
  });
  afterAll(async () => {
    await rig?.close();
    await temporal?.close();
  });

  it('a first-version run moves to the current code at its next message, losing nothing', { timeout: 120_000 }, async () => {
    const firstBuild = await bundleWorkflowCode({ workflowsPath: require.resolve('./support/first-version-workflows.ts'), logger: new DefaultLogger('WARN') });
    await rig.startWorkers(temporal.nativeConnection, { workflowBundle: firstBuild });
    const u = '15557001234';
    const hello = text('hello');
    await rig.deliver('whatsapp', u, [hello]);
    await eventually(() => rig.graph.delivered.length === 1, 30_000, 'the first build answers');
    const handle = temporal.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    await eventually(async () => (await handle.query(stateQuery)).repliesSent === 1, 10_000, 'reply recorded');
    const firstRun = (await handle.describe()).runId;
    expect(await patchesOf(handle)).toEqual([]); // as the first build recorded it: no patch marker

    await rig.stopWorkers(); // the deploy: the current build's worker takes over
    await rig.startWorkers(temporal.nativeConnection);
    await rig.deliver('whatsapp', u, [text('thanks')]);
    await eventually(() => rig.graph.delivered.length === 2, 30_000, 'answered after the deploy');

    const first = await temporal.client.workflow.getHandle(handle.workflowId, firstRun).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    const current = temporal.client.workflow.getHandle(handle.workflowId);
    expect((await current.describe()).runId).not.toBe(firstRun);
    expect(await patchesOf(current)).toContain(CONVERSATION_V2);
    await eventually(async () => (await current.query(stateQuery)).repliesSent === 2, 10_000, 'the state carried over');

    await rig.deliver('whatsapp', u, [hello]); // a redelivery of the first build's message: still known
    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.graph.delivered.map((d) => d.text)).toEqual(['Hello! How can I help you today?', "You're welcome! Anything else I can help with?"]);
  });
});
