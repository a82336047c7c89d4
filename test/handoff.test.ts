// Human handoff through the REST API against a running conversation workflow: a real worker,
// the real Temporal server, Postgres, and Meta's Graph API faked at the edge. The end user's
// messages come in through the signed webhook, as in production.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
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
  const tdb = () => forTenant(rig.db, rig.tenantId);

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
});
