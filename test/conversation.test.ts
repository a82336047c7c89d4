// The conversation workflow end to end: real worker, real Temporal dev server, real Postgres,
// Meta's Graph API faked at the edge. Messages enter as the webhooks deliver them.
import { randomBytes } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tenantAnalytics } from '../lib/analytics.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { agentMessageUpdate, HANDOFF_NOTICE, MAX_HISTORY_EVENTS, releaseUpdate, SHORT_RUNS, stateQuery, takeOverUpdate } from '../workflows/conversation.ts';
import type { RecordedRequest } from './fakes/graph-api.ts';
import { isSettled, summarizeHistory } from './replay/history-files.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const user = () => `1555${Math.floor(Math.random() * 1e7)}`;
const isTextTo = (r: RecordedRequest, to: string) => r.kind === 'whatsapp.message' && (r.body as { to?: string }).to === to;

describe('conversation workflow', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await temporal?.close();
  });
  beforeEach(() => rig.graph.reset());

  const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);
  const outbound = (userId: string) =>
    forTenant(rig.db, rig.tenantId).message.findMany({
      where: { direction: 'outbound', conversation: { externalUserId: userId } },
      orderBy: { createdAt: 'asc' },
    });

  it('answers a WhatsApp message once, storing both sides', async () => {
    const u = user();
    const inbound = text('Hello there');
    await rig.deliver('whatsapp', u, [inbound]);
    const [reply] = await eventually(() => sentTo(u).length === 1 && sentTo(u), 20_000, 'one reply');
    expect(reply?.text).toBe('Hello! How can I help you today?');
    expect(rig.graph.requests.some((r) => (r.body as { status?: string }).status === 'read')).toBe(true);

    const [sent] = await eventually(async () => {
      const rows = await outbound(u);
      return rows[0]?.status === 'sent' && rows;
    }, 10_000, 'outbound marked sent');
    expect(sent?.externalMessageId).toBe(reply?.messageId);
    const stored = await forTenant(rig.db, rig.tenantId).message.findMany({ where: { externalMessageId: inbound.externalMessageId } });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ direction: 'inbound', status: 'received', content: { text: 'Hello there' } });
  });

  it('answers a Messenger message on Messenger', async () => {
    const u = `psid${user()}`;
    await rig.deliver('messenger', u, [text('hi', `m_${randomBytes(6).toString('hex')}`)]);
    const [reply] = await eventually(() => sentTo(u).length === 1 && sentTo(u), 20_000, 'one reply');
    expect(reply?.channel).toBe('messenger');
  });

  it('answers a redelivered message once', async () => {
    const u = user();
    const m = text('Hello');
    await rig.deliver('whatsapp', u, [m]);
    await rig.deliver('whatsapp', u, [m]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'a reply');
    await rig.deliver('whatsapp', u, [m]); // after the reply, too
    await new Promise((r) => setTimeout(r, 1500));
    expect(sentTo(u)).toHaveLength(1);
    expect(await forTenant(rig.db, rig.tenantId).message.count({ where: { externalMessageId: m.externalMessageId } })).toBe(1);
  });

  it('answers three quick messages with one reply', async () => {
    const u = user();
    await rig.deliver('whatsapp', u, [text('Hi')]);
    await rig.deliver('whatsapp', u, [text('I have a question')]);
    await rig.deliver('whatsapp', u, [text('about my order')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'a reply');
    await new Promise((r) => setTimeout(r, 1500));
    expect(sentTo(u)).toHaveLength(1);
    const inbound = await forTenant(rig.db, rig.tenantId).message.count({ where: { direction: 'inbound', conversation: { externalUserId: u } } });
    expect(inbound).toBe(3);
  });

  it('keeps each of two interleaved users in order', async () => {
    const [a, b] = [user(), user()];
    await rig.deliver('whatsapp', a, [text('hello')]);
    await rig.deliver('whatsapp', b, [text('hello')]);
    await eventually(() => sentTo(a).length === 1 && sentTo(b).length === 1, 20_000, 'first replies');
    await rig.deliver('whatsapp', b, [text('thanks')]);
    await rig.deliver('whatsapp', a, [text('thanks')]);
    await eventually(() => sentTo(a).length === 2 && sentTo(b).length === 2, 20_000, 'second replies');
    for (const u of [a, b]) expect(sentTo(u).map((d) => d.text)).toEqual(['Hello! How can I help you today?', "You're welcome! Anything else I can help with?"]);
  });

  it('retries a Graph 500 and delivers once', async () => {
    const u = user();
    let failures = 0;
    rig.graph.failFor((r) => isTextTo(r, u) && failures++ < 2, { status: 500, code: 2 });
    await rig.deliver('whatsapp', u, [text('hello')]);
    await eventually(() => sentTo(u).length === 1, 30_000, 'the reply after two failures');
    const attempts = rig.graph.requests.filter((r) => isTextTo(r, u));
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 200]);
    // The row turns sent once the activity has Graph's answer, just after the fake recorded the request.
    await eventually(async () => (await outbound(u))[0]?.status === 'sent', 10_000, 'the reply marked sent');
  });

  it('records a Graph 190 as failed without a retry storm', async () => {
    const u = user();
    rig.graph.failFor((r) => isTextTo(r, u), { status: 401, code: 190 });
    await rig.deliver('whatsapp', u, [text('hello')]);
    const [row] = await eventually(async () => {
      const rows = await outbound(u);
      return rows[0]?.status === 'failed' && rows;
    }, 20_000, 'failed outbound');
    expect(row?.error).toMatchObject({ reason: 'GraphPermanentError' });
    expect(JSON.stringify(row?.error)).not.toContain('EAAG');
    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.graph.requests.filter((r) => isTextTo(r, u))).toHaveLength(1);
    const events = await forTenant(rig.db, rig.tenantId).event.findMany({ where: { type: 'message.failed', subjectId: row?.id } });
    expect(events).toHaveLength(1);
  });

  it('hands over on a keyword, stays silent for the agent, and answers again after release', async () => {
    const u = user();
    const handle = temporal.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    await rig.deliver('whatsapp', u, [text('I want to talk to a human')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'handoff notice');
    expect(sentTo(u)[0]?.text).toBe(HANDOFF_NOTICE);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'handoff_requested', handoff: 'requested' });

    await rig.deliver('whatsapp', u, [text('hello? anyone?')]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(sentTo(u)).toHaveLength(1); // the assistant stays silent

    expect(await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] })).toMatchObject({ status: 'assigned_human', assignee: 'ann' });
    await expect(handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'bob' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'bob', text: 'hi' }] })).rejects.toThrow();
    expect(await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Hi, Ann here. How can I help?' }] })).toMatchObject({ status: 'sent' });
    expect(sentTo(u).at(-1)?.text).toBe('Hi, Ann here. How can I help?');

    expect(await handle.executeUpdate(releaseUpdate, { args: [{ agentId: 'ann' }] })).toMatchObject({ status: 'active', handoff: 'none' });
    await rig.deliver('whatsapp', u, [text('thanks')]);
    await eventually(() => sentTo(u).length === 3, 20_000, 'the assistant again');
    expect(sentTo(u).at(-1)?.text).toBe("You're welcome! Anything else I can help with?");

    const tdb = forTenant(rig.db, rig.tenantId);
    const conv = await tdb.conversation.findFirst({ where: { externalUserId: u } });
    expect(conv?.status).toBe('active');
    const events = await tdb.event.findMany({ where: { subjectId: conv?.id }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['handoff.requested', 'handoff.assigned', 'handoff.released']);
    const analytics = await tenantAnalytics(rig.db, rig.tenantId, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
    expect(analytics.handoff.conversations).toBeGreaterThanOrEqual(1);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get({ name: 'HandoffState', type: 'KEYWORD' } as never)).toBe('none');
  });

  it('continues as new past MAX_HISTORY_EVENTS, before the server would suggest it, keeping its state and dedupe', async () => {
    const u = user();
    const handle = temporal.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    const first = text('hello');
    await rig.deliver('whatsapp', u, [first]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'first reply');
    const firstRunId = (await handle.describe()).runId;
    // Messages until the run continues as new: past MAX_HISTORY_EVENTS, well before the 200
    // events from which the test server suggests it. Each one once the run is idle again (a run
    // continues as new between messages, never with one in hand).
    let replies = 1;
    while ((await handle.describe()).runId === firstRunId && replies < 40) {
      replies++;
      await rig.deliver('whatsapp', u, [text(`thanks ${replies}`)]);
      await eventually(() => sentTo(u).length === replies, 20_000, `reply ${replies}`);
      await eventually(async () => isSettled(await handle.fetchHistory()), 20_000, `idle after reply ${replies}`);
    }
    const { runId, historyLength } = await handle.describe();
    expect(runId).not.toBe(firstRunId);
    expect(historyLength).toBeLessThan(MAX_HISTORY_EVENTS);
    const ended = await temporal.client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory();
    const endedRun = summarizeHistory(ended);
    expect(endedRun.last).toBe('workflowExecutionContinuedAsNew');
    expect(endedRun.events).toBeGreaterThan(MAX_HISTORY_EVENTS);
    expect(endedRun.events).toBeLessThan(200);
    expect(endedRun.patches).toContain(SHORT_RUNS);
    const conversationId = (await forTenant(rig.db, rig.tenantId).conversation.findFirstOrThrow({ where: { externalUserId: u } })).id;
    expect(await handle.query(stateQuery)).toMatchObject({ conversationId, status: 'active', repliesSent: replies, pending: 0 });

    await rig.deliver('whatsapp', u, [first]); // a redelivery from before the new run
    await new Promise((r) => setTimeout(r, 1500));
    expect(sentTo(u)).toHaveLength(replies);
    await rig.deliver('whatsapp', u, [text('one more')]); // the new run answers
    await eventually(() => sentTo(u).length === replies + 1, 20_000, 'reply in the new run');
    // The run counts a reply once its activity's result is recorded, just after the send.
    const after = await eventually(async () => {
      const state = await handle.query(stateQuery);
      return state.repliesSent === replies + 1 && state;
    }, 20_000, 'the reply counted');
    expect(after).toMatchObject({ conversationId, status: 'active' });
  }, 180_000); // a few dozen round trips one after another: slow when the machine is busy

  it('stores every message but stops answering a flooding sender', async () => {
    const u = user();
    const flood = Array.from({ length: 25 }, (_, i) => text(`spam ${i}`));
    await rig.deliver('whatsapp', u, flood);
    await eventually(async () => (await forTenant(rig.db, rig.tenantId).message.count({ where: { direction: 'inbound', conversation: { externalUserId: u } } })) === 25, 20_000, 'all stored');
    await new Promise((r) => setTimeout(r, 1500));
    expect(sentTo(u)).toHaveLength(0);
  });
});
