// What operators see of a conversation in the Temporal Web UI: the search attributes they filter
// by (ConversationId, ChannelId, Assignee besides tenant, channel and status), the memo (status,
// assignee, summary; encrypted like every payload) and a summary on each step of the history.
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '../lib/tenant-db.ts';
import { releaseUpdate, takeOverUpdate } from '../workflows/conversation.ts';
import { Assignee, ChannelId, ConversationId } from '../workflows/search-attributes.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { testDataConverter } from './support/config.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('The operators’ view of a conversation', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    // Two turns verbatim: a few answers in, the older turns fold into the summary the memo shows.
    rig = await createConversationRig(temporal.client, { settings: { conversation: { quietWindowMs: 300 }, llm: { historyTurns: 2 } } });
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await temporal?.close();
  });

  const codec = testDataConverter().payloadCodecs![0]!;
  const decode = async (payload: unknown) => defaultPayloadConverter.fromPayload((await codec.decode([payload as never]))[0]!);

  it('shows ids, the assignee and the memo, and a summary on every step', async () => {
    const u = `3155${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const handle = temporal.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    await rig.deliver('whatsapp', u, [text('What are your opening hours?')]);
    await eventually(() => rig.graph.delivered.some((d) => d.to === u), 20_000, 'the reply');
    const conv = await eventually(async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: u } })) ?? undefined);

    let described = await handle.describe();
    expect(described.typedSearchAttributes.get(ConversationId)).toBe(conv.id);
    expect(described.typedSearchAttributes.get(ChannelId)).toBe(rig.whatsappChannelId);
    expect(described.typedSearchAttributes.get(Assignee)).toBeUndefined();
    expect(described.memo ?? {}).toEqual({}); // no summary yet

    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    expect((await handle.describe()).typedSearchAttributes.get(Assignee)).toBe('ann');
    await handle.executeUpdate(releaseUpdate, { args: [{ agentId: 'ann' }] });
    expect((await handle.describe()).typedSearchAttributes.get(Assignee)).toBeUndefined();

    for (const [i, question] of ['Do you repair e-bikes?', 'How much is a service?', 'Can I book for Monday?'].entries()) {
      await rig.deliver('whatsapp', u, [text(question)]);
      await eventually(() => rig.graph.delivered.filter((d) => d.to === u).length === i + 2, 20_000, `reply ${i + 2}`);
    }
    described = await eventually(async () => {
      const d = await handle.describe();
      return typeof d.memo?.summary === 'string' && d;
    }, 20_000, 'the summary in the memo');
    expect(String(described.memo?.summary)).toMatch(/opening hours|e-bikes/i);
    // The memo is the conversation's words: stored encrypted, readable only through the codec.
    const raw = await temporal.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: handle.workflowId } });
    const memoFields = Object.values(raw.workflowExecutionInfo?.memo?.fields ?? {});
    expect(memoFields.length).toBeGreaterThan(0);
    for (const field of memoFields) expect(Buffer.from(field.metadata!.encoding!).toString()).toBe('binary/encrypted');

    // Operators find it by its row id.
    const found = await eventually(async () => {
      for await (const w of temporal.client.workflow.list({ query: `ConversationId = "${conv.id}"` })) return w;
      return undefined;
    }, 20_000, 'visibility');
    expect(found.workflowId).toBe(handle.workflowId);

    // Each step of the history says what it does (summaries are payloads too: encrypted).
    const history = await handle.fetchHistory();
    const summaries: string[] = [];
    for (const event of history.events ?? []) {
      if (!event.userMetadata?.summary) continue;
      expect(Buffer.from(event.userMetadata.summary.metadata!.encoding!).toString()).toBe('binary/encrypted');
      summaries.push(String(await decode(event.userMetadata.summary)));
    }
    expect(summaries).toEqual(
      expect.arrayContaining(['store 1 inbound message', 'primary model: retrieve, read receipt, answer, send', 'record handoff.assigned', 'record handoff.released', expect.stringMatching(/^fold \d+ older turns into the summary$/)]),
    );
  });
});
