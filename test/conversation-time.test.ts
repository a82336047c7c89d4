// Hours and days of a conversation's life under Temporal's time-skipping test server: idle close
// and a fresh run that reloads the thread, agent inactivity, and Meta's 24-hour window.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowExecutionStatusName } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { forTenant } from '../lib/tenant-db.ts';
import { agentMessageUpdate, stateQuery, takeOverUpdate } from '../workflows/conversation.ts';
import { testDataConverter } from './support/config.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';

describe('conversation over time (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let rig: ConversationRig;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      // The workers encrypt payloads (lib/payload-codec.ts): the client decodes with the same keys.
      client: { dataConverter: testDataConverter() },
      server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
    });
    rig = await createConversationRig(env.client, {
      searchAttributes: false,
      settings: { conversation: { quietWindowMs: 200, idleCloseHours: 24 }, handoff: { agentInactivityMinutes: 7 * 24 * 60 } },
    });
    await rig.startWorkers(env.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await env?.teardown();
  });

  const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);
  /** A message stamped with the server's clock, which time skipping moves ahead of ours. */
  const now = async (body: string) => text(body, undefined, await env.currentTimeMs());
  const status = async (id: string): Promise<WorkflowExecutionStatusName> => (await env.client.workflow.getHandle(id).describe()).status.name;

  it('closes after a day of silence, and a later message starts a fresh run with the thread', async () => {
    const u = '15550001111';
    const id = rig.workflowId('whatsapp', u);
    await rig.deliver('whatsapp', u, [await now('hello')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'first reply');

    await env.sleep('25 hours');
    await eventually(async () => (await status(id)) === 'COMPLETED', 20_000, 'run completed');
    const tdb = forTenant(rig.db, rig.tenantId);
    const closed = await tdb.conversation.findFirst({ where: { externalUserId: u } });
    expect(closed?.status).toBe('closed');
    expect(await tdb.event.count({ where: { subjectId: closed?.id, type: 'conversation.closed' } })).toBe(1);

    await rig.deliver('whatsapp', u, [await now('thanks')]);
    await eventually(() => sentTo(u).length === 2, 20_000, 'reply in the new run');
    expect(await status(id)).toBe('RUNNING');
    const reopened = await tdb.conversation.findFirst({ where: { externalUserId: u } });
    expect(reopened).toMatchObject({ id: closed?.id, status: 'active' });
  });

  it('refuses free-form messages outside the 24-hour window and records why', async () => {
    const u = '15550002222';
    const handle = env.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    await rig.deliver('whatsapp', u, [await now('I need a human please')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'handoff notice');
    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });

    await env.sleep('23 hours');
    expect(await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Still there?' }] })).toMatchObject({ status: 'sent' });
    await env.sleep('2 hours');
    const late = await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Hello again' }] });
    expect(late).toMatchObject({ status: 'failed', reason: 'outside_customer_service_window' });
    expect(sentTo(u).map((d) => d.text)).not.toContain('Hello again');
    const row = await forTenant(rig.db, rig.tenantId).message.findFirst({ where: { id: late.messageId } });
    expect(row).toMatchObject({ status: 'failed', error: { reason: 'outside_customer_service_window' } });
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'assigned_human', assignee: 'ann' });
  });

  it("lets an Instagram agent answer after the 24-hour window with the HUMAN_AGENT tag, up to 7 days", async () => {
    const u = '6543210000000001';
    const handle = env.client.workflow.getHandle(rig.workflowId('instagram', u));
    await rig.deliver('instagram', u, [await now('I need a human please')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'handoff notice');
    expect(sentTo(u)[0]).toMatchObject({ channel: 'instagram', from: rig.instagramPageId });
    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    const sends = () => rig.graph.requests.filter((r) => r.kind === 'instagram.message' && (r.body as { recipient: { id: string } }).recipient.id === u).map((r) => r.body);

    await env.sleep('23 hours');
    expect(await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Still there?' }] })).toMatchObject({ status: 'sent' });
    await env.sleep('2 hours');
    expect(await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Hello again' }] })).toMatchObject({ status: 'sent' });
    expect(sends().slice(1)).toEqual([
      { recipient: { id: u }, message: { text: 'Still there?' } },
      { recipient: { id: u }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'Hello again' } },
    ]);

    // A customer who last wrote 8 days ago: not even a person may answer.
    const old = '6543210000000002';
    const oldHandle = env.client.workflow.getHandle(rig.workflowId('instagram', old));
    await rig.deliver('instagram', old, [text('Where is my parcel?', undefined, (await env.currentTimeMs()) - 8 * 24 * 3600_000)]);
    await eventually(async () => (await forTenant(rig.db, rig.tenantId).message.count({ where: { conversation: { externalUserId: old }, direction: 'outbound', status: 'failed' } })) === 1, 20_000, "the assistant's answer refused");
    await oldHandle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    const late = await oldHandle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Anyone?' }] });
    expect(late).toMatchObject({ status: 'failed', reason: 'outside_human_agent_window' });
    expect(sentTo(old)).toEqual([]);
  });

  it('gives a conversation back to the assistant after the agent goes quiet', async () => {
    // Runs last: it shortens the tenant's agent inactivity for conversations started from now.
    await rig.db.tenant.update({
      where: { id: rig.tenantId },
      data: { settings: { conversation: { quietWindowMs: 200, idleCloseHours: 24 }, handoff: { agentInactivityMinutes: 30 } } },
    });
    const u = '15550003333';
    const handle = env.client.workflow.getHandle(rig.workflowId('whatsapp', u));
    await rig.deliver('whatsapp', u, [await now('a person please')]);
    await eventually(() => sentTo(u).length === 1, 20_000, 'handoff notice');
    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Looking into it' }] });

    await env.sleep('29 minutes');
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'assigned_human', assignee: 'ann' });
    await env.sleep('2 minutes');
    await eventually(async () => (await handle.query(stateQuery)).status === 'active', 20_000, 'released to the assistant');
    const conv = await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: u } });
    const released = await forTenant(rig.db, rig.tenantId).event.findFirst({ where: { subjectId: conv?.id, type: 'handoff.released' } });
    expect(released?.payload).toMatchObject({ reason: 'agent_inactive' });
    expect(conv).toMatchObject({ status: 'active', assignee: null });
  });
});
