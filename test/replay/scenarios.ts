// The conversations whose histories test/replay/record.ts records (run by it, not by `npm test`):
// each scenario drives a real conversation through the conversation rig (the tree's own
// workflows, activities and worker, the fake Graph API), waits until the run has settled, checks
// that it did what the scenario says, and writes the run's history. Scenarios that span two runs
// write both (`<scenario>-run1.json`, `<scenario>-run2.json`).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenantFunction } from '../../lib/tenant-functions.ts';
import { agentMessageUpdate, releaseUpdate, takeOverUpdate } from '../../workflows/conversation.ts';
import type { InboundMessage } from '../../workflows/types.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { createConversationRig, eventually, text, type ConversationRig } from '../support/conversations.ts';
import { connectTestTemporal } from '../support/temporal.ts';
import { isSettled, mapHistoryPayloads, summarizeHistory, writeHistoryFile, type History } from './history-files.ts';
import { EncryptionCodec } from '../../lib/payload-codec.ts';
import { testConfig, testDataConverter } from '../support/config.ts';

const outDir = inject('replayOutDir');
/** The recording's payloads are encrypted like production's (the test file's keyring); fixtures are written decrypted. */
const codec = new EncryptionCodec(testConfig().SECRETS_KEYS);

/** A rig's end user on WhatsApp: the one place that knows how the rig delivers and finds runs. */
function endUser(rig: ConversationRig, client: Client, userId: string) {
  let workflowId: string | undefined;
  const user = {
    userId,
    deliver: (...messages: InboundMessage[]) => rig.deliver('whatsapp', userId, messages),
    /** Replies the user has received so far. */
    replies: () => rig.graph.delivered.filter((d) => d.to === userId).map((d) => d.text),
    async waitForReplies(count: number): Promise<string[]> {
      try {
        return await eventually(() => user.replies().length >= count && user.replies(), 30_000, `${count} replies to ${userId}`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; the run is at: ${await user.whereIsIt()}`);
      }
    },
    /** For a scenario that times out: the run's last events and its pending activities' failures. */
    async whereIsIt(): Promise<string> {
      try {
        const row = await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: userId } });
        if (!row?.workflowId) return 'no conversation row yet (the run never opened the conversation)';
        const handle = client.workflow.getHandle(row.workflowId);
        const [{ raw }, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
        const pending = (raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure'}`);
        const failures = (history.events ?? []).map((e) => e.workflowTaskFailedEventAttributes?.failure?.message).filter(Boolean);
        return JSON.stringify({ ...summarizeHistory(history), eventTypes: undefined, pending, workflowTaskFailures: failures.slice(-3) });
      } catch (err) {
        return `unknown (${(err as Error).message})`;
      }
    },
    /** From the conversation's row (the workflow stores its id there), not from how ids are built. */
    async workflowId(): Promise<string> {
      workflowId ??= await eventually(
        async () => (await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: userId } }))?.workflowId ?? undefined,
        20_000,
        `conversation row of ${userId}`,
      );
      return workflowId;
    },
    async runId(): Promise<string> {
      return (await client.workflow.getHandle(await user.workflowId()).describe()).runId;
    },
    /** Waits until the run is closed or waits on nothing but the user, its history no longer growing. */
    async settled(runId?: string): Promise<History> {
      const handle = client.workflow.getHandle(await user.workflowId(), runId);
      let previous = -1;
      return eventually(async () => {
        const history = await handle.fetchHistory();
        const length = history.events?.length ?? 0;
        if (isSettled(history) && length === previous) return history;
        previous = isSettled(history) ? length : -1;
        await sleep(300);
        return undefined;
      }, 30_000, `run of ${userId} settled`);
    },
    async record(name: string, history: History): Promise<void> {
      // Fixtures are plaintext, readable and independent of the recording run's key.
      writeHistoryFile(join(outDir, `${name}.json`), await user.workflowId(), await mapHistoryPayloads(history, (p) => codec.decode(p as never)));
    },
  };
  return user;
}

const msg = (scenario: string, n: number, body: string, sentAt?: number) => text(body, `wamid.replay.${scenario}.${n}`, sentAt);

describe('conversations on the dev server', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let openai: FakeOpenAi;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    rig = await createConversationRig(temporal.client, {
      llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY }, allowInsecureFunctionEndpoints: true },
    });
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });
  const user = (id: string) => endUser(rig, temporal.client, id);

  it('new: one message, one reply', async () => {
    const u = user('15550000001');
    await u.deliver(msg('new', 1, 'Hello'));
    await u.waitForReplies(1);
    const history = await u.settled();
    expect(u.replies()).toHaveLength(1);
    await u.record('new', history);
  });

  it('burst: three quick messages, one reply', async () => {
    const u = user('15550000002');
    await u.deliver(msg('burst', 1, 'Hi'));
    await u.deliver(msg('burst', 2, 'I have a question'));
    await u.deliver(msg('burst', 3, 'about my order'));
    await u.waitForReplies(1);
    const history = await u.settled();
    expect(u.replies()).toHaveLength(1);
    expect(summarizeHistory(history).signals).toEqual({ inbound: 3 });
    await u.record('burst', history);
  });

  it('redelivery: the same message twice, and again after the reply', async () => {
    const u = user('15550000003');
    const m = msg('redelivery', 1, 'Hello');
    await u.deliver(m);
    await u.deliver(m);
    await u.waitForReplies(1);
    await u.settled();
    await u.deliver(m);
    await eventually(async () => summarizeHistory(await temporal.client.workflow.getHandle(await u.workflowId()).fetchHistory()).signals.inbound === 3);
    const history = await u.settled();
    expect(u.replies()).toHaveLength(1);
    await u.record('redelivery', history);
  });

  it('handoff-release: keyword handoff, an agent takes over, answers and releases, the assistant answers again', async () => {
    const u = user('15550000004');
    await u.deliver(msg('handoff', 1, 'human'));
    await u.waitForReplies(1); // the handoff notice
    await u.settled();
    const handle = temporal.client.workflow.getHandle(await u.workflowId());
    await handle.executeUpdate(takeOverUpdate, { args: [{ agentId: 'ann' }] });
    expect(await handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: 'ann', text: 'Hi, Ann here. How can I help?' }] })).toMatchObject({ status: 'sent' });
    await handle.executeUpdate(releaseUpdate, { args: [{ agentId: 'ann' }] });
    await u.deliver(msg('handoff', 2, 'Hello again'));
    await u.waitForReplies(3);
    const history = await u.settled();
    expect(u.replies()).toEqual([expect.any(String), 'Hi, Ann here. How can I help?', expect.any(String)]);
    expect(summarizeHistory(history).updates).toEqual({ takeOver: 1, agentMessage: 1, release: 1 });
    await u.record('handoff-release', history);
  });

  it('tools: the model calls a tenant function, then answers', async () => {
    const calls: unknown[] = [];
    const fn = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        calls.push(JSON.parse(raw));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ orderId: 'A-1', status: 'shipped' }));
      });
    });
    await new Promise<void>((r) => fn.listen(0, '127.0.0.1', r));
    const tenant = await rig.db.tenant.findUniqueOrThrow({ where: { id: rig.tenantId } });
    try {
      await createTenantFunction(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, {
        name: 'order_status',
        description: 'Status of an order by its id',
        parameters: { type: 'object', properties: { orderId: { type: 'string', minLength: 1 } }, required: ['orderId'], additionalProperties: false },
        endpoint: `http://127.0.0.1:${(fn.address() as AddressInfo).port}/order-status`,
        secret: 'fn-secret-0123456789abcdef',
        timeoutMs: 5000,
      }, { allowHttp: true });
      await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm: { provider: 'openai' } } } });
      openai.reset();
      openai.respond((_call, n) => (n === 0 ? { toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-1' } }] } : { text: 'Your order A-1 has shipped.' }));

      const u = user('15550000005');
      await u.deliver(msg('tools', 1, 'Where is my order A-1?'));
      await u.waitForReplies(1);
      const history = await u.settled();
      expect(u.replies()).toEqual([expect.stringContaining('Your order A-1 has shipped.')]);
      expect(calls).toEqual([expect.objectContaining({ function: 'order_status', arguments: { orderId: 'A-1' } })]);
      expect(openai.answered).toBe(2);
      await u.record('tools', history);
    } finally {
      await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: tenant.settings ?? {} } });
      openai.reset();
      await new Promise<void>((r) => fn.close(() => r()));
    }
  });

  it('continue-as-new: a run long enough to continue as new, and the next run answering with the carried state', async () => {
    const u = user('15550000006');
    const questions = ['Hello', 'What are your opening hours?', 'Do you sell helmets?', 'Thanks', 'Can I pay by card?', 'Where is your shop?'];
    await u.deliver(msg('can', 1, questions[0]!));
    await u.waitForReplies(1);
    const first = await u.runId();
    let history = await u.settled(first);
    let sent = 1;
    // The run continues as new past MAX_HISTORY_EVENTS, before the server would suggest it (200 events, record.ts starts it so).
    while (summarizeHistory(history).last !== 'workflowExecutionContinuedAsNew') {
      if (sent >= 30) throw new Error(`no continue-as-new after ${sent} messages (${history.events?.length} events)`);
      sent++;
      await u.deliver(msg('can', sent, questions[(sent - 1) % questions.length]!));
      await u.waitForReplies(sent);
      history = await u.settled(first);
    }
    await u.record('continue-as-new-run1', history);

    const second = await u.runId();
    expect(second).not.toBe(first);
    await u.settled(second);
    await u.deliver(msg('can', sent + 1, 'One more question: do you repair bikes?'));
    await u.waitForReplies(sent + 1);
    const next = await u.settled(second);
    expect(u.replies()).toHaveLength(sent + 1);
    expect(next.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId).toBe(first);
    await u.record('continue-as-new-run2', next);
  });
});

describe('conversations over time (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let rig: ConversationRig;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      client: { dataConverter: testDataConverter() },
      server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
    });
    rig = await createConversationRig(env.client, {
      searchAttributes: false,
      settings: { conversation: { quietWindowMs: 300, idleCloseHours: 24 } },
    });
    await rig.startWorkers(env.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await env?.teardown();
  });

  it('idle-close-reopen: closed after a day of silence, and a later message starts a fresh run that answers', async () => {
    const u = endUser(rig, env.client, '15550000007');
    await u.deliver(msg('idle', 1, 'Hello', await env.currentTimeMs()));
    await u.waitForReplies(1);
    const first = await u.runId();
    await u.settled(first);

    await env.sleep('25 hours');
    const closed = await u.settled(first);
    expect(summarizeHistory(closed).last).toBe('workflowExecutionCompleted');
    await u.record('idle-close-reopen-run1', closed);

    await u.deliver(msg('idle', 2, 'Thanks', await env.currentTimeMs()));
    await u.waitForReplies(2);
    const second = await u.runId();
    expect(second).not.toBe(first);
    const reopened = await u.settled(second);
    await u.record('idle-close-reopen-run2', reopened);
  });
});
