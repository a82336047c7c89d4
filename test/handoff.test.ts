// Human handoff through the REST API against a running conversation workflow: a real worker,
// the real Temporal server, Postgres, and Meta's Graph API faked at the edge. The end user's
// messages come in through the signed webhook, as in production.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { conversationUpdateId, messageIdOfUpdate } from '../api/idempotency.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey } from '../lib/tenants.ts';
import { bearer } from './support/api.ts';
import { stateQuery } from '../workflows/conversation.ts';
import { createConversationRig, eventually, WA_APP_SECRET, WHATSAPP_TOKEN, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('handoff through the API', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let agentKey: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    agentKey = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'agents', scope: 'agent' })).key;
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  async function webhook(body: unknown) {
    const payload = JSON.stringify(body);
    const res = await app.inject({
      method: 'POST',
      url: '/webhooks/whatsapp',
      payload,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, WA_APP_SECRET) },
    });
    expect(res.statusCode).toBe(200);
  }

  const userSays = (from: string, body: string, phoneNumberId = rig.phoneNumberId) =>
    webhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '555000111',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
                contacts: [{ profile: { name: 'Pat' }, wa_id: from }],
                messages: [{ from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
              },
            },
          ],
        },
      ],
    });

  const api = (path: string, payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/api/v1/conversations/${path}`, headers: { ...bearer(agentKey), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);
  /** The WhatsApp sends of `text` to `to` that reached the fake Graph API, failed ones included. */
  const sendsOf = (to: string, text: string) =>
    rig.graph.requests.filter((r) => r.kind === 'whatsapp.message' && (r.body as { to?: string; text?: { body?: string } }).to === to && (r.body as { text?: { body?: string } }).text?.body === text);
  const tdb = () => forTenant(rig.db, rig.tenantId);
  const outboundRows = async (conversationId: string, text: string) =>
    (await tdb().message.findMany({ where: { conversationId, direction: 'outbound' }, orderBy: { createdAt: 'asc' } })).filter((m) => (m.content as { text?: string }).text === text);

  /** A user who wrote, was answered, and whose conversation `agent` holds; its id. */
  async function heldConversation(agent: string): Promise<{ u: string; conversationId: string }> {
    const u = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(u, 'Hi, I need help');
    await eventually(() => sentTo(u).length >= 1, 20_000, 'the assistant answers');
    const conversationId = (await tdb().conversation.findFirstOrThrow({ where: { externalUserId: u } })).id;
    const taken = await api(`${conversationId}/take`, { agentId: agent });
    expect(taken.statusCode, taken.body).toBe(200);
    return { u, conversationId };
  }

  it('requests a human, takes over, replies as the agent, refuses other agents, and releases', async () => {
    const u = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(u, 'Hello there');
    await eventually(() => sentTo(u).length >= 1, 20_000, 'the assistant answers');

    const list = await app.inject({ url: `/api/v1/conversations?externalUserId=${u}`, headers: bearer(agentKey) });
    expect(list.statusCode).toBe(200);
    const conversationId = (list.json() as { items: { id: string }[] }).items[0]!.id;

    const requested = await api(`${conversationId}/handoff`, { reason: 'wants a person' });
    expect(requested.statusCode).toBe(202);
    expect(requested.json()).toEqual({ conversationId, accepted: true });

    const taken = await api(`${conversationId}/take`, { agentId: 'ann' });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({ conversationId, status: 'assigned_human', handoff: 'assigned', assignee: 'ann' });

    const stolen = await api(`${conversationId}/take`, { agentId: 'bob' });
    expect(stolen.statusCode).toBe(409);
    expect(stolen.json().error).toMatchObject({ code: 'handoff_conflict', message: expect.stringContaining('held by another agent') });
    expect(stolen.json().error.message).not.toContain('ann'); // who holds it is not the caller's business
    expect((await api(`${conversationId}/messages`, { agentId: 'bob', text: 'let me help' })).statusCode).toBe(409);
    expect((await api(`${conversationId}/release`, { agentId: 'bob' })).statusCode).toBe(409);

    const before = sentTo(u).length;
    const reply = await api(`${conversationId}/messages`, { agentId: 'ann', text: 'Hi, Ann here. How can I help?' });
    expect(reply.statusCode, reply.body).toBe(200);
    const result = reply.json() as { status: string; messageId: string };
    expect(result).toMatchObject({ status: 'sent', messageId: expect.any(String) });
    await eventually(() => sentTo(u).length === before + 1, 10_000, "the agent's message reaches the user");
    expect(sentTo(u).at(-1)?.text).toBe('Hi, Ann here. How can I help?');

    const released = await api(`${conversationId}/release`, { agentId: 'ann' });
    expect(released.statusCode).toBe(200);
    expect(released.json()).toMatchObject({ status: 'active', handoff: 'none', assignee: null });
    const again = await api(`${conversationId}/release`, { agentId: 'ann' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('handoff_conflict');
  });

  it("moves the agent's stored message forward when Meta reports its status", async () => {
    const u = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(u, 'Hi');
    await eventually(() => sentTo(u).length >= 1, 20_000, 'the assistant answers');
    const conversationId = (await forTenant(rig.db, rig.tenantId).conversation.findFirstOrThrow({ where: { externalUserId: u } })).id;
    expect((await api(`${conversationId}/take`, { agentId: 'cy' })).statusCode).toBe(200);
    const { messageId } = (await api(`${conversationId}/messages`, { agentId: 'cy', text: 'On it' })).json() as { messageId: string };

    // messageId is the platform's id of the stored message; Meta reports statuses by its own id.
    const stored = () => forTenant(rig.db, rig.tenantId).message.findFirst({ where: { id: messageId, direction: 'outbound' } });
    const sent = await eventually(async () => {
      const row = await stored();
      return row?.status === 'sent' && row.externalMessageId ? row : undefined;
    }, 10_000, 'the outbound message stored as sent with its wamid');
    await webhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [{ field: 'messages', value: { metadata: { phone_number_id: rig.phoneNumberId }, statuses: [{ id: sent.externalMessageId, status: 'read', timestamp: '1750263773', recipient_id: u }] } }],
        },
      ],
    });
    expect((await stored())?.status).toBe('read');
  });

  it('keeps a customer who writes to two WhatsApp numbers of the tenant in two conversations, each answered from the number written to', async () => {
    const second = await rig.addWhatsAppChannel();
    const u = `1555${Math.floor(Math.random() * 1e7)}`;
    await userSays(u, 'Hello, first number');
    await eventually(() => sentTo(u).length >= 1, 20_000, 'the first number answers');
    await userSays(u, 'Hello, second number', second.phoneNumberId);
    await eventually(() => sentTo(u).some((d) => d.from === second.phoneNumberId), 20_000, 'the second number answers');
    const replies = sentTo(u);
    const firstReplies = replies.filter((d) => d.from === rig.phoneNumberId).length;
    expect(firstReplies).toBeGreaterThanOrEqual(1);
    expect(replies.slice(firstReplies).every((d) => d.from === second.phoneNumberId)).toBe(true);
    // Each number's sends carry that number's token.
    for (const r of rig.graph.requests.filter((r) => r.kind === 'whatsapp.message' && (r.body as { to?: string }).to === u)) {
      expect(r.headers.authorization).toBe(`Bearer ${r.path.includes(`/${second.phoneNumberId}/`) ? second.accessToken : WHATSAPP_TOKEN}`);
    }

    // Two conversation rows, each with its own workflow, both running.
    const rows = await tdb().conversation.findMany({ where: { externalUserId: u }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.channelId, r.workflowId])).toEqual([
      [rig.whatsappChannelId, rig.workflowId('whatsapp', u)],
      [second.id, rig.workflowId(second, u)],
    ]);
    expect(new Set(rows.map((r) => r.workflowId)).size).toBe(2);
    for (const r of rows) expect((await temporal.client.workflow.getHandle(r.workflowId!).describe()).status.name).toBe('RUNNING');
    const [onFirst, onSecond] = rows as [(typeof rows)[0], (typeof rows)[0]];

    // The handoff routes act on the conversation named, and only on it.
    const taken = await api(`${onSecond.id}/take`, { agentId: 'dee' });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({ conversationId: onSecond.id, status: 'assigned_human', assignee: 'dee' });
    expect(await temporal.client.workflow.getHandle(onFirst.workflowId!).query(stateQuery)).toMatchObject({ conversationId: onFirst.id, status: 'active', assignee: null });
    expect((await api(`${onFirst.id}/messages`, { agentId: 'dee', text: 'wrong one' })).statusCode).toBe(409);
    const reply = await api(`${onSecond.id}/messages`, { agentId: 'dee', text: 'Dee here, on the second number' });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ status: 'sent' });
    expect(sentTo(u).filter((d) => d.text === 'Dee here, on the second number').map((d) => d.from)).toEqual([second.phoneNumberId]);
    expect((await api(`${onSecond.id}/release`, { agentId: 'dee' })).statusCode).toBe(200);
  });

  it('sends an agent message once per Idempotency-Key, however often the request is retried', async () => {
    const { u, conversationId } = await heldConversation('eve');
    const key = `msg-${randomUUID()}`;
    const send = (text: string, k = key) => api(`${conversationId}/messages`, { agentId: 'eve', text }, { 'idempotency-key': k });

    const first = await send('Once only, please');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ status: 'sent', messageId: expect.any(String) });
    const again = await send('Once only, please');
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(sendsOf(u, 'Once only, please')).toHaveLength(1);
    expect(await outboundRows(conversationId, 'Once only, please')).toHaveLength(1);

    // Another key is another message.
    const other = await send('Once only, please', `msg-${randomUUID()}`);
    expect(other.statusCode, other.body).toBe(200);
    expect(other.json().messageId).not.toBe(first.json().messageId);
    await eventually(() => sendsOf(u, 'Once only, please').length === 2, 10_000, 'the second key sends again');

    // The message id is the API's, derived from the conversation and the key, and the stored row's.
    const [row] = await outboundRows(conversationId, 'Once only, please');
    expect(row?.id).toBe(first.json().messageId);
    expect(first.json().messageId).toBe(messageIdOfUpdate(conversationUpdateId('agent-message', conversationId, key)));
  });

  it('sends an agent message once per Idempotency-Key even when the retry comes after the workflow continued as new', async () => {
    const { u, conversationId } = await heldConversation('gus');
    const { workflowId } = await tdb().conversation.findFirstOrThrow({ where: { id: conversationId } });
    const handle = temporal.client.workflow.getHandle(workflowId!);
    const firstRun = (await handle.describe()).runId;
    const key = `msg-${randomUUID()}`;
    const first = await api(`${conversationId}/messages`, { agentId: 'gus', text: 'Sent before the new run' }, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(200);
    // Messages until the run passes MAX_HISTORY_EVENTS and continues as new at the next pause.
    for (let i = 0; (await handle.describe()).runId === firstRun; i++) {
      expect(i, 'the workflow continues as new').toBeLessThan(40);
      expect((await api(`${conversationId}/messages`, { agentId: 'gus', text: `filler ${i}` })).statusCode).toBe(200);
    }
    const retry = await api(`${conversationId}/messages`, { agentId: 'gus', text: 'Sent before the new run' }, { 'idempotency-key': key });
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json()).toEqual(first.json());
    expect(sendsOf(u, 'Sent before the new run')).toHaveLength(1);
    expect(await outboundRows(conversationId, 'Sent before the new run')).toHaveLength(1);
  });

  it('answers 202 with the message id while the send is held, joins a retry with the same key to it, and sends once', async () => {
    const { u, conversationId } = await heldConversation('fay');
    const key = randomUUID();
    const text = 'Held up at Meta for a while';
    const send = () => api(`${conversationId}/messages`, { agentId: 'fay', text }, { 'idempotency-key': key });
    // Longer than two waits of the route (AGENT_MESSAGE_WAIT_MS), shorter than the send's timeout.
    rig.graph.delay(8_000);
    try {
      const pending = await send();
      expect(pending.statusCode, pending.body).toBe(202);
      const { messageId } = pending.json() as { status: string; messageId: string };
      expect(pending.json()).toEqual({ status: 'pending', messageId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) });

      const retry = await send();
      expect(retry.statusCode, retry.body).toBe(202);
      expect(retry.json()).toEqual({ status: 'pending', messageId });
      expect(sendsOf(u, text)).toHaveLength(1);

      const sent = await eventually(async () => {
        const [row] = await outboundRows(conversationId, text);
        return row?.status === 'sent' ? row : undefined;
      }, 15_000, 'the held message stored as sent');
      expect(sendsOf(u, text)).toHaveLength(1);
      expect(await outboundRows(conversationId, text)).toHaveLength(1);

      // Once sent, the same key answers the outcome, with the same id, and still sends nothing.
      rig.graph.delay(0);
      const done = await send();
      expect(done.statusCode, done.body).toBe(200);
      expect(sendsOf(u, text)).toHaveLength(1);
      expect(done.json()).toEqual({ status: 'sent', messageId });
      expect(sent.id).toBe(messageId);
    } finally {
      rig.graph.delay(0);
    }
  });
});
