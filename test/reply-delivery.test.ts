// deliverMessage against the real database and the fake Graph API: a reply whose every part Meta
// accepted is never sent again by a retry, even when recording it sent failed, and an assistant's
// reply stops at a take-over read in the statement that stores it.
import { randomBytes, randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelActivities, type DeliverInput } from '../activities/channels/index.ts';
import { createStoreActivities } from '../activities/store.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { SUPERSEDED_BY_AGENT } from '../workflows/types.ts';
import { createConversationRig, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const user = () => `1557${Math.floor(Math.random() * 1e7)}`;

describe('delivering a reply', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let channels: ReturnType<typeof createChannelActivities>;
  let admin: pg.Client;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    channels = createChannelActivities({ db: rig.db, keyring: rig.config.SECRETS_KEYS, graphApiUrl: rig.graph.url });
    admin = new pg.Client({ connectionString: rig.config.DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await rig?.close();
    await temporal?.close();
  });

  /** A conversation of a new user, opened as the workflow's first step opens it. */
  async function conversationOf(to: string): Promise<string> {
    const store = createStoreActivities(rig.db);
    const received = await store.receiveInbound({
      tenantId: rig.tenantId, channel: 'whatsapp', channelId: rig.whatsappChannelId, externalUserId: to,
      workflowId: rig.workflowId('whatsapp', to), conversationId: null, messages: [{ ...text('Hello?'), rowId: randomUUID() }],
    });
    return received.opened!.conversationId;
  }

  const replyTo = (to: string, conversationId: string, words = 'We open at nine.'): DeliverInput => ({
    id: randomUUID(), createdAt: Date.now(), tenantId: rig.tenantId, conversationId, channelId: rig.whatsappChannelId,
    channel: 'whatsapp', to, text: words, author: 'assistant', assistantTurn: true,
  });

  it('a reply Meta accepted is not sent again when marking it sent failed: the retry resumes after it', async () => {
    const to = user();
    const input = replyTo(to, await conversationOf(to));
    // The database refuses to mark this one row sent, once Meta has accepted it.
    const trigger = `refuse_sent_${randomBytes(4).toString('hex')}`;
    await admin.query(`
      CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = '${input.id}' AND NEW.status = 'sent' THEN RAISE EXCEPTION 'the database went away'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER ${trigger} BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION ${trigger}()`);
    const first = new MockActivityEnvironment({ attempt: 1 });
    const heartbeats: unknown[] = [];
    first.on('heartbeat', (details: unknown) => heartbeats.push(details));
    try {
      await expect(first.run(channels.deliverMessage, input)).rejects.toThrow(/went away/);
    } finally {
      await admin.query(`DROP TRIGGER ${trigger} ON messages; DROP FUNCTION ${trigger}()`);
    }
    expect(rig.graph.delivered.filter((d) => d.to === to)).toHaveLength(1);
    expect(heartbeats).toEqual([{ nextPart: 1, sentIds: [expect.any(String)] }]);

    // The retry, given the failed attempt's last heartbeat (Temporal hands it to the next attempt).
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: heartbeats.at(-1) });
    const result = await retry.run(channels.deliverMessage, input);
    expect(result).toEqual({ status: 'sent', messageIds: (heartbeats[0] as { sentIds: string[] }).sentIds });
    expect(rig.graph.delivered.filter((d) => d.to === to)).toHaveLength(1);
    const row = await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { id: input.id } });
    expect(row).toMatchObject({ status: 'sent', externalMessageId: (heartbeats[0] as { sentIds: string[] }).sentIds[0] });
  });

  it('a one-part reply costs no heartbeat: marking the row sent records it', async () => {
    const to = user();
    const input = replyTo(to, await conversationOf(to));
    const env = new MockActivityEnvironment({ attempt: 1 });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    expect(await env.run(channels.deliverMessage, input)).toMatchObject({ status: 'sent' });
    expect(heartbeats).toEqual([]);
    // A retry after the row was marked finds it sent and sends nothing.
    expect(await new MockActivityEnvironment({ attempt: 2 }).run(channels.deliverMessage, input)).toMatchObject({ status: 'sent' });
    expect(rig.graph.delivered.filter((d) => d.to === to)).toHaveLength(1);
  });

  it('an assistant reply to a conversation a person has taken is stored failed, not sent', async () => {
    const to = user();
    const conversationId = await conversationOf(to);
    await forTenant(rig.db, rig.tenantId).conversation.updateMany({ where: { id: conversationId }, data: { status: 'assigned_human', assignee: 'agent-7' } });
    const input = replyTo(to, conversationId);
    expect(await new MockActivityEnvironment().run(channels.deliverMessage, input)).toEqual({ status: 'failed', reason: SUPERSEDED_BY_AGENT });
    expect(rig.graph.delivered.filter((d) => d.to === to)).toHaveLength(0);
    const row = await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { id: input.id } });
    expect(row).toMatchObject({ status: 'failed', error: { reason: SUPERSEDED_BY_AGENT } });
    // The conversation's last message moved with the stored row.
    expect((await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { id: conversationId } }))?.lastMessageAt?.getTime()).toBe(input.createdAt);
  });

  it('a reply to a conversation of another tenant is refused, and nothing is stored', async () => {
    const to = user();
    const conversationId = await conversationOf(to);
    const input = { ...replyTo(to, conversationId), tenantId: randomUUID() };
    await expect(new MockActivityEnvironment().run(channels.deliverMessage, input)).rejects.toThrow(/not found/);
    expect(await rig.db.message.count({ where: { id: input.id } })).toBe(0);
    expect(rig.graph.delivered.filter((d) => d.to === to)).toHaveLength(0);
  });
});
