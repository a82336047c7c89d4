// The conversation core's promise under the failures that used to break it: a retried store step,
// a database that stops answering mid-turn, a close while an update is in flight, an agent who
// takes over while the assistant's reply is being sent, and a run still open under the workflow
// id conversations had before it named the channel. Real worker, Temporal dev server, Postgres.
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { TypedSearchAttributes } from '@temporalio/common';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStoreActivities } from '../activities/store.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { agentMessageUpdate, closeSignal, conversation, inboundSignal, stateQuery, SUPERSEDED_BY_AGENT, takeOverUpdate } from '../workflows/conversation.ts';
import { legacyConversationWorkflowId } from '../workflows/ids.ts';
import { Channel, ConversationStatus, HandoffState, TenantId } from '../workflows/search-attributes.ts';
import type { RecordedRequest } from './fakes/graph-api.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const user = () => `1556${Math.floor(Math.random() * 1e7)}`;
const isTextTo = (r: RecordedRequest, to: string) => r.kind === 'whatsapp.message' && (r.body as { to?: string }).to === to;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('conversation core', () => {
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
  const tdb = () => forTenant(rig.db, rig.tenantId);
  const handleOf = (u: string) => temporal.client.workflow.getHandle(rig.workflowId('whatsapp', u));
  const statusOf = async (id: string) => (await temporal.client.workflow.getHandle(id).describe()).status.name;

  describe('storing inbound messages is a function of the input', () => {
    it('a retried store reports the same messages new; a redelivery stored before is not new', async () => {
      const store = createStoreActivities(rig.db);
      const u = user();
      const m = text('Is my order late?');
      const input = {
        tenantId: rig.tenantId, channel: 'whatsapp' as const, channelId: rig.whatsappChannelId, externalUserId: u,
        workflowId: rig.workflowId('whatsapp', u), conversationId: null, messages: [{ ...m, rowId: crypto.randomUUID() }],
      };
      const first = await store.receiveInbound(input);
      expect(first.fresh).toEqual([m.externalMessageId]);
      expect(first.opened?.conversationId).toBeTruthy();
      // The same step again (its first attempt committed, its answer was lost): same answer.
      expect((await store.receiveInbound(input)).fresh).toEqual([m.externalMessageId]);
      // The same message in a later step (a redelivery past the workflow's dedupe window): not new.
      const later = { ...input, conversationId: first.opened!.conversationId, messages: [{ ...m, rowId: crypto.randomUUID() }] };
      expect((await store.receiveInbound(later)).fresh).toEqual([]);
      expect(await tdb().message.count({ where: { externalMessageId: m.externalMessageId } })).toBe(1);
    });

    it('stores the receive time as created_at and the provider\'s as sent_at; a redelivery months later is still not new', async () => {
      const store = createStoreActivities(rig.db);
      const u = user();
      const m = text('Where is my parcel?', undefined, Date.now() - 3 * 86_400_000); // Meta redelivering a 3-day-old message
      const input = {
        tenantId: rig.tenantId, channel: 'whatsapp' as const, channelId: rig.whatsappChannelId, externalUserId: u,
        workflowId: rig.workflowId('whatsapp', u), conversationId: null, messages: [{ ...m, rowId: crypto.randomUUID() }],
      };
      const before = Date.now();
      const first = await store.receiveInbound(input);
      const after = Date.now();
      expect(first.fresh).toEqual([m.externalMessageId]);
      const row = await tdb().message.findFirstOrThrow({ where: { externalMessageId: m.externalMessageId } });
      expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.createdAt.getTime()).toBeLessThanOrEqual(after);
      expect(row.sentAt?.getTime()).toBe(m.sentAt);

      // As if it had been stored 40 days ago: its row is in an earlier month's partition now.
      const rowId = input.messages[0]!.rowId;
      const partition = async () => (await rig.db.$queryRaw<{ p: string }[]>`SELECT tableoid::regclass::text AS p FROM messages WHERE id = ${rowId}::uuid`)[0]?.p;
      const was = await partition();
      await rig.db.$executeRaw`UPDATE messages SET created_at = created_at - interval '40 days' WHERE id = ${rowId}::uuid`;
      await rig.db.$executeRaw`UPDATE inbound_message_keys SET created_at = created_at - interval '40 days' WHERE message_id = ${rowId}::uuid`;
      expect(await partition()).not.toBe(was);
      const later = { ...input, conversationId: first.opened!.conversationId, messages: [{ ...m, rowId: crypto.randomUUID() }] };
      expect((await store.receiveInbound(later)).fresh).toEqual([]);
      expect(await tdb().message.count({ where: { externalMessageId: m.externalMessageId } })).toBe(1);
    });

    it('a key stored without its row (a crash between the two) gets the row from the retry, under the key\'s time', async () => {
      const store = createStoreActivities(rig.db);
      const u = user();
      const m = text('Do you ship to Norway?');
      const input = {
        tenantId: rig.tenantId, channel: 'whatsapp' as const, channelId: rig.whatsappChannelId, externalUserId: u,
        workflowId: rig.workflowId('whatsapp', u), conversationId: null, messages: [{ ...m, rowId: crypto.randomUUID() }],
      };
      const first = await store.receiveInbound(input);
      const rowId = input.messages[0]!.rowId;
      await rig.db.$executeRaw`DELETE FROM messages WHERE id = ${rowId}::uuid`;
      const retry = { ...input, conversationId: first.opened!.conversationId };
      expect((await store.receiveInbound(retry)).fresh).toEqual([m.externalMessageId]);
      const [key] = await rig.db.$queryRaw<{ created_at: Date }[]>`SELECT created_at FROM inbound_message_keys WHERE message_id = ${rowId}::uuid`;
      const row = await tdb().message.findFirstOrThrow({ where: { externalMessageId: m.externalMessageId } });
      expect(row).toMatchObject({ id: rowId, createdAt: key!.created_at });
      expect((await store.receiveInbound(retry)).fresh).toEqual([m.externalMessageId]);
      expect(await tdb().message.count({ where: { externalMessageId: m.externalMessageId } })).toBe(1);
    });

    it('a message with a NUL character is stored (the character replaced) instead of failing the step for ever', async () => {
      const store = createStoreActivities(rig.db);
      const u = user();
      const m = { ...text('null\u0000byte'), content: { caption: 'a\u0000b' } };
      const input = {
        tenantId: rig.tenantId, channel: 'whatsapp' as const, channelId: rig.whatsappChannelId, externalUserId: u,
        workflowId: rig.workflowId('whatsapp', u), conversationId: null, messages: [{ ...m, rowId: crypto.randomUUID() }],
      };
      expect((await store.receiveInbound(input)).fresh).toEqual([m.externalMessageId]);
      const row = await tdb().message.findFirstOrThrow({ where: { externalMessageId: m.externalMessageId } });
      expect(row.content).toMatchObject({ text: 'null\uFFFDbyte', caption: 'a\uFFFDb' });
    });

    it('a NUL character in a user id or a reply does not stall the conversation either', { timeout: 30_000 }, async () => {
      const u = `${user()}\u0000`;
      await rig.deliver('whatsapp', u, [text('hello\u0000')]);
      await eventually(() => rig.graph.delivered.some((d) => d.to === u), 20_000, 'the reply');
      expect(await tdb().conversation.count({ where: { externalUserId: u.replace('\u0000', '\uFFFD') } })).toBe(1);
    });

    it('the first version\'s step derives its row ids from the activity, so its retries agree too', async () => {
      const store = createStoreActivities(rig.db);
      const u = user();
      const opened = await store.openConversation({ tenantId: rig.tenantId, channelId: rig.whatsappChannelId, externalUserId: u, workflowId: `legacy-${u}` });
      const m = text('hello');
      const input = { tenantId: rig.tenantId, conversationId: opened.conversationId, channel: 'whatsapp' as const, messages: [m] };
      const step = new MockActivityEnvironment({ activityId: `persist-${randomBytes(4).toString('hex')}` });
      expect(await step.run(store.persistInbound, input)).toEqual([m.externalMessageId]);
      expect(await step.run(store.persistInbound, input)).toEqual([m.externalMessageId]);
      const another = new MockActivityEnvironment({ activityId: `persist-${randomBytes(4).toString('hex')}` });
      expect(await another.run(store.persistInbound, input)).toEqual([]);
    });
  });

  it('a database that stops answering mid-turn pauses the conversation; it answers once the database is back', { timeout: 90_000 }, async () => {
    const u = user();
    const m = text('What are your opening hours?');
    await rig.deliver('whatsapp', u, [m]);
    // Stored before the quiet window; take the database away while the turn is still to come.
    await eventually(() => tdb().message.count({ where: { externalMessageId: m.externalMessageId } }).then((n) => n === 1), 10_000, 'the message stored');
    const database = new URL(rig.config.DATABASE_URL).pathname.slice(1);
    const admin = new pg.Client({ connectionString: rig.config.DATABASE_URL.replace(`/${database}`, '/postgres') });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
      await pause(8_000); // longer than the first version's retrieval retries (three attempts, about 3 s)
      expect(sentTo(u)).toHaveLength(0);
      expect(await statusOf(rig.workflowId('whatsapp', u))).toBe('RUNNING');
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await eventually(() => sentTo(u).length === 1, 60_000, 'the reply after the outage');
    await pause(1500);
    expect(sentTo(u)).toHaveLength(1);
    expect(await statusOf(rig.workflowId('whatsapp', u))).toBe('RUNNING');
  });

  it('an agent who takes over while the assistant\'s reply is being sent stops it; the agent\'s message goes out', { timeout: 60_000 }, async () => {
    const u = user();
    const stopFailing = rig.graph.failFor((r) => isTextTo(r, u), { status: 500, code: 2 });
    await rig.deliver('whatsapp', u, [text('hello')]);
    await eventually(() => rig.graph.requests.some((r) => isTextTo(r, u)), 20_000, 'a first send attempt');
    await handleOf(u).executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    stopFailing();
    await pause(4_000); // past the send's next retry
    expect(sentTo(u)).toHaveLength(0);
    const [assistant] = await eventually(async () => {
      const rows = await tdb().message.findMany({ where: { direction: 'outbound', conversation: { externalUserId: u } } });
      return rows[0]?.status === 'failed' && rows;
    }, 10_000, 'the assistant reply recorded as not sent');
    expect(assistant?.error).toMatchObject({ reason: SUPERSEDED_BY_AGENT });

    const result = await handleOf(u).executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Ann here, how can I help?' }] });
    expect(result.status).toBe('sent');
    expect(sentTo(u).map((d) => d.text)).toEqual(['Ann here, how can I help?']);
  });

  it('a message that arrives while a closed run waits for an update in flight reopens the conversation and is answered', { timeout: 60_000 }, async () => {
    const u = user();
    await rig.deliver('whatsapp', u, [text('hello')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'first reply');
    const handle = handleOf(u);
    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });

    rig.graph.delay(4_000); // the agent's message is in flight while the conversation closes
    const agentSend = handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'One moment' }] });
    await pause(500);
    await handle.signal(closeSignal, { reason: 'test' });
    await eventually(async () => (await handle.query(stateQuery)).status === 'closed', 10_000, 'closed');
    const late = text('Are you still there?');
    await rig.deliver('whatsapp', u, [late]);
    expect((await agentSend).status).toBe('sent');
    rig.graph.delay(0);

    await eventually(() => sentTo(u).length === 3, 30_000, 'the late message answered');
    expect(await tdb().message.count({ where: { externalMessageId: late.externalMessageId } })).toBe(1);
    const row = await tdb().conversation.findFirst({ where: { externalUserId: u } });
    expect(row?.status).toBe('active');
  });

  it('a message for a channel deleted meanwhile ends its run, completed, instead of retrying for ever', { timeout: 60_000 }, async () => {
    const gone = await rig.addWhatsAppChannel();
    await rig.db.channel.delete({ where: { id: gone.id } });
    const u = user();
    await rig.deliver(gone, u, [text('hello')]);
    await eventually(async () => (await statusOf(rig.workflowId(gone, u))) === 'COMPLETED', 30_000, 'the run completed');
    expect(await tdb().message.count({ where: { conversation: { externalUserId: u } } })).toBe(0);
  });

  it('a conversation still running under the workflow id of before keeps its run until it closes', { timeout: 60_000 }, async () => {
    const u = user();
    const legacyId = legacyConversationWorkflowId(rig.tenantId, 'whatsapp', u);
    // A run started under the older id (one per channel type), as the API started them before.
    await temporal.client.workflow.signalWithStart(conversation, {
      workflowId: legacyId,
      taskQueue: taskQueueName(rig.config, 'conversations'),
      args: [{ tenantId: rig.tenantId, channel: 'whatsapp', channelId: rig.whatsappChannelId, externalUserId: u }],
      signal: inboundSignal,
      signalArgs: [[text('hello')]],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: TenantId, value: rig.tenantId },
        { key: Channel, value: 'whatsapp' },
        { key: ConversationStatus, value: 'active' },
        { key: HandoffState, value: 'none' },
      ]),
    });
    await eventually(() => sentTo(u).length === 1, 20_000, 'reply from the older run');

    await rig.deliver('whatsapp', u, [text('thanks')]); // the API's id now names the channel
    await eventually(() => sentTo(u).length === 2, 20_000, 'second reply');
    await eventually(async () => (await statusOf(rig.workflowId('whatsapp', u))) === 'COMPLETED', 10_000, 'the new-id run hands over and completes');
    // The reply came from the older run (it counts it once the send's result is recorded).
    await eventually(async () => (await temporal.client.workflow.getHandle(legacyId).query(stateQuery)).repliesSent === 2, 10_000, 'the older run answered');
    expect((await tdb().conversation.findFirst({ where: { externalUserId: u } }))?.workflowId).toBe(legacyId);

    await temporal.client.workflow.getHandle(legacyId).signal(closeSignal, { reason: 'test' });
    await eventually(async () => (await statusOf(legacyId)) === 'COMPLETED', 10_000, 'the older run closed');
    await rig.deliver('whatsapp', u, [text('hello again')]);
    await eventually(() => sentTo(u).length === 3, 20_000, 'reply from a run under the new id');
    expect(await statusOf(rig.workflowId('whatsapp', u))).toBe('RUNNING');
    expect((await tdb().conversation.findFirst({ where: { externalUserId: u } }))?.workflowId).toBe(rig.workflowId('whatsapp', u));
    expect(sentTo(u)).toHaveLength(3);
  });
});
