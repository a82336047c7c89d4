// The platform as Meta sees it: a signed webhook over HTTP, one reply on the same channel at the
// (fake) Graph API, and the delivery status webhook recorded on the reply. Instagram's direct
// messages too, with a person taking over through the REST API.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createPartitionsAhead, drainDefaultPartitions, MONTHS_BACK } from '../activities/maintenance.ts';
import { createLogger } from '../lib/logger.ts';
import { updateChannel } from '../lib/channels.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey } from '../lib/tenants.ts';
import { stateQuery } from '../workflows/conversation.ts';
import { bearer } from './support/api.ts';
import { createConversationRig, eventually, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('webhook to reply', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const post = (channel: 'whatsapp' | 'messenger', body: unknown, secret: string) => {
    const payload = JSON.stringify(body);
    return app.inject({
      method: 'POST',
      url: `/webhooks/${channel}`,
      payload,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) },
    });
  };
  const whatsapp = (value: Record<string, unknown>) => ({
    object: 'whatsapp_business_account',
    entry: [{ id: '555000111', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: rig.phoneNumberId }, ...value } }] }],
  });

  it('answers a signed WhatsApp message once, and records its delivery status', async () => {
    const from = '15551230001';
    const message = { from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'Hello!' } };
    const body = whatsapp({ contacts: [{ profile: { name: 'Ana' }, wa_id: from }], messages: [message] });
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200); // Meta redelivers
    const [reply] = await eventually(() => rig.graph.delivered.filter((d) => d.to === from).length > 0 && rig.graph.delivered.filter((d) => d.to === from), 20_000, 'a reply');
    expect(reply).toMatchObject({ channel: 'whatsapp', from: rig.phoneNumberId, text: 'Hello! How can I help you today?' });

    const tdb = forTenant(rig.db, rig.tenantId);
    await eventually(async () => (await tdb.message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status === 'sent', 10_000, 'reply stored as sent');
    const status = whatsapp({ statuses: [{ id: reply!.messageId, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: from }] });
    expect((await post('whatsapp', status, 'wa-app-secret')).statusCode).toBe(200);
    expect((await tdb.message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status).toBe('delivered');

    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.graph.delivered.filter((d) => d.to === from)).toHaveLength(1);
  });

  it('answers a signed Messenger message once, on Messenger', async () => {
    const psid = `7${Date.now()}`;
    const body = {
      object: 'page',
      entry: [{ id: rig.pageId, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: rig.pageId }, timestamp: Date.now(), message: { mid: `m_${randomBytes(8).toString('hex')}`, text: 'hi there' } }] }],
    };
    const res = await post('messenger', body, 'page-app-secret');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('EVENT_RECEIVED');
    const replies = await eventually(() => rig.graph.delivered.filter((d) => d.to === psid).length > 0 && rig.graph.delivered.filter((d) => d.to === psid), 20_000, 'a reply');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ channel: 'messenger', text: 'Hello! How can I help you today?' });
  });

  it('stores and answers messages a tenant dated 2090 and 1990 once each, and maintenance makes no partition for those years', async () => {
    const forged = [
      { from: '15551230010', id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '3786912000' }, // 2090-01-01
      { from: '15551230011', id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '631152000' }, // 1990-01-01
    ];
    const before = Date.now();
    for (const m of forged) {
      const body = whatsapp({ contacts: [{ profile: { name: 'Eve' }, wa_id: m.from }], messages: [{ ...m, type: 'text', text: { body: 'Hello!' } }] });
      expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
      expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200); // redelivered
    }
    for (const { from } of forged) await eventually(() => rig.graph.delivered.some((d) => d.to === from), 20_000, `a reply to ${from}`);
    const after = Date.now();

    const rows = await rig.db.$queryRaw<{ external_message_id: string; created_at: Date; sent_at: Date; partition: string; content: { providerSentAt?: number } }[]>`
      SELECT external_message_id, created_at, sent_at, tableoid::regclass::text AS partition, content FROM messages
      WHERE tenant_id = ${rig.tenantId}::uuid AND external_message_id = ANY(${forged.map((m) => m.id)}::text[]) ORDER BY created_at`;
    expect(rows.map((r) => r.external_message_id)).toEqual(forged.map((m) => m.id));
    const monthPartition = (d: Date) => `messages_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    for (const [i, row] of rows.entries()) {
      expect(row.created_at.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.created_at.getTime()).toBeLessThanOrEqual(after);
      expect(row.sent_at.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.content.providerSentAt).toBe(Number(forged[i]!.timestamp) * 1000);
      expect(row.partition).toBe(monthPartition(row.created_at)); // the receive month's, not the default partition
    }

    const now = new Date();
    const logger = createLogger({ level: 'silent', name: 'test' });
    await drainDefaultPartitions(rig.db, logger, now);
    await createPartitionsAhead(rig.db, logger, 3, now);
    const partitions = (await rig.db.$queryRaw<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages'::regclass`).map((r) => r.name);
    const allowed = new Set(['messages_default', ...Array.from({ length: MONTHS_BACK + 4 }, (_, k) => monthPartition(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - MONTHS_BACK + k, 1))))]);
    expect(partitions.filter((p) => !allowed.has(p))).toEqual([]);
    expect(partitions.some((p) => /_(2090|1990)_/.test(p))).toBe(false);
  });

  it('refuses a forged delivery and stores nothing', async () => {
    const from = '15551230002';
    const body = whatsapp({ messages: [{ from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '1749416383', type: 'text', text: { body: 'hi' } }] });
    expect((await post('whatsapp', body, 'not-the-app-secret')).statusCode).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await forTenant(rig.db, rig.tenantId).conversation.count({ where: { externalUserId: from } })).toBe(0);
    expect(rig.graph.delivered.filter((d) => d.to === from)).toHaveLength(0);
  });

  // Instagram direct messages: the Messenger Platform's Instagram API, answered from the linked page.
  describe('on Instagram', () => {
    const IG_APP_SECRET = 'ig-app-secret';
    const GREETING = 'Hello! How can I help you today?';
    let agentKey: string;
    beforeAll(async () => {
      agentKey = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'agents', scope: 'agent' })).key;
    });

    const tdb = () => forTenant(rig.db, rig.tenantId);
    const igsid = () => `${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const mid = () => `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE${randomBytes(9).toString('base64url')}`;
    const sentTo = (to: string) => rig.graph.delivered.filter((d) => d.to === to);

    /** One delivery of `events` (sender and recipient default to the user and the account). */
    const delivery = (user: string, events: Record<string, unknown>[]) => ({
      object: 'instagram',
      entry: [{ id: rig.instagramAccountId, time: Date.now(), messaging: events.map((e) => ({ sender: { id: user }, recipient: { id: rig.instagramAccountId }, timestamp: Date.now(), ...e })) }],
    });
    const postInstagram = (body: unknown, secret = IG_APP_SECRET) => {
      const payload = JSON.stringify(body);
      return app.inject({
        method: 'POST',
        url: '/webhooks/instagram',
        payload,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) },
      });
    };
    const says = async (user: string, text: string, id = mid()) => {
      const res = await postInstagram(delivery(user, [{ message: { mid: id, text } }]));
      expect(res.statusCode, res.body).toBe(200);
      return id;
    };

    it("verifies the subscription with the Instagram channel's verify token, and no other channel's", async () => {
      await updateChannel(tdb(), rig.config.SECRETS_KEYS, rig.instagramChannelId, { verifyToken: 'ig-verify-token-1' });
      await updateChannel(tdb(), rig.config.SECRETS_KEYS, rig.messengerChannelId, { verifyToken: 'fb-verify-token-1' });
      const verify = (type: string, token: string) => app.inject({ url: `/webhooks/${type}?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444` });
      const ok = await verify('instagram', 'ig-verify-token-1');
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toBe('1158201444');
      expect((await verify('instagram', 'fb-verify-token-1')).statusCode).toBe(403);
      expect((await verify('messenger', 'ig-verify-token-1')).statusCode).toBe(403);
    });

    it('answers a signed message once on Instagram, from the linked page, and records the read receipt', async () => {
      const user = igsid();
      const id = mid();
      const body = delivery(user, [{ message: { mid: id, text: 'Hello!' } }]);
      const first = await postInstagram(body);
      expect(first.statusCode).toBe(200);
      expect(first.body).toBe('EVENT_RECEIVED');
      expect((await postInstagram(body)).statusCode).toBe(200); // Meta redelivers

      const [reply] = await eventually(() => sentTo(user).length > 0 && sentTo(user), 20_000, 'a reply on Instagram');
      expect(reply).toMatchObject({ channel: 'instagram', from: rig.instagramPageId, text: GREETING });
      const actions = rig.graph.requests.filter((r) => r.kind === 'instagram.sender_action' && (r.body as { recipient: { id: string } }).recipient.id === user);
      expect(actions.map((r) => [r.path, (r.body as { sender_action: string }).sender_action])).toEqual([
        [`/v21.0/${rig.instagramPageId}/messages`, 'mark_seen'],
        [`/v21.0/${rig.instagramPageId}/messages`, 'typing_on'],
      ]);

      const conversation = await tdb().conversation.findFirstOrThrow({ where: { externalUserId: user } });
      expect(conversation.channelId).toBe(rig.instagramChannelId);
      expect(await tdb().message.count({ where: { conversationId: conversation.id, direction: 'inbound', externalMessageId: id } })).toBe(1);
      await eventually(async () => (await tdb().message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status === 'sent', 10_000, 'reply stored as sent');
      expect((await tdb().message.findFirstOrThrow({ where: { externalMessageId: reply!.messageId } })).channel).toBe('instagram');

      expect((await postInstagram(delivery(user, [{ read: { mid: reply!.messageId } }]))).statusCode).toBe(200);
      expect((await tdb().message.findFirstOrThrow({ where: { externalMessageId: reply!.messageId } })).status).toBe('read');
      expect(sentTo(user)).toHaveLength(1);
    });

    it("refuses a delivery not signed with the Instagram channel's app secret, and signals nothing", async () => {
      const user = igsid();
      const body = delivery(user, [{ message: { mid: mid(), text: 'hi' } }]);
      expect((await postInstagram(body, 'not-the-app-secret')).statusCode).toBe(401);
      expect((await postInstagram(body, 'page-app-secret')).statusCode).toBe(401); // the Messenger channel's
      const unsigned = await app.inject({ method: 'POST', url: '/webhooks/instagram', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(unsigned.statusCode).toBe(401);
      const malformed = await postInstagram({ object: 'instagram', entry: [{ id: rig.instagramAccountId, messaging: [{ sender: { id: user }, timestamp: 'now' }] }] });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('invalid_payload');
      expect(await tdb().conversation.count({ where: { externalUserId: user } })).toBe(0);
    });

    it("stores a message the business sent from the Instagram app as its own and pauses the assistant; the echo of the platform's own reply does not", async () => {
      const user = igsid();
      await says(user, 'Hello!');
      const [reply] = await eventually(() => sentTo(user).length > 0 && sentTo(user), 20_000, 'a reply on Instagram');
      await eventually(async () => (await tdb().message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status === 'sent', 10_000, 'the reply stored as sent');
      // Instagram echoes every message the account sends: the platform's own, and a person's in the Instagram app.
      const echo = (id: string, text: string) => ({ sender: { id: rig.instagramAccountId }, recipient: { id: user }, message: { mid: id, text, is_echo: true } });
      const fromApp = echo(mid(), 'Hi, this is Jo from the shop');
      const ours = delivery(user, [echo(reply!.messageId, GREETING), fromApp, { message: { mid: mid(), is_deleted: true } }]);
      const res = await postInstagram(ours);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('EVENT_RECEIVED');
      expect((await postInstagram(ours)).statusCode).toBe(200); // Meta redelivers

      const held = await eventually(() => tdb().conversation.findFirst({ where: { externalUserId: user, status: 'assigned_human' } }).then((c) => c ?? undefined), 15_000, 'held by the business app');
      expect(held.assignee).toBe('business_app');
      const outbound = await tdb().message.findMany({ where: { conversationId: held.id, direction: 'outbound' }, orderBy: { createdAt: 'asc' } });
      expect(outbound.map((m) => [m.externalMessageId, (m.content as { agentId?: string }).agentId ?? 'assistant', m.status])).toEqual([
        [reply!.messageId, 'assistant', 'sent'],
        [fromApp.message.mid, 'business_app', 'sent'],
      ]);
      expect(outbound[1]!.content).toMatchObject({ text: 'Hi, this is Jo from the shop', author: 'agent' });
      expect(await tdb().conversation.count({ where: { externalUserId: rig.instagramAccountId } })).toBe(0);

      await says(user, 'Thanks Jo!'); // the business holds it: the assistant stays silent
      await eventually(async () => {
        const stored = await tdb().message.count({ where: { conversationId: held.id, direction: 'inbound' } });
        return stored === 2 && (await temporal.client.workflow.getHandle(rig.workflowId('instagram', user)).query(stateQuery)).pending === 0;
      }, 10_000, 'the next message stored');
      expect(sentTo(user)).toHaveLength(1);
    });

    it("tells the echo of an agent's message still being sent from the business's own, once the send is recorded", async () => {
      const user = igsid();
      await says(user, 'Hello!');
      await eventually(() => sentTo(user).length > 0, 20_000, 'a reply on Instagram');
      const conversation = await eventually(() => tdb().conversation.findFirst({ where: { externalUserId: user } }).then((c) => c ?? undefined), 10_000, 'the conversation');
      const api = (path: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/conversations/${conversation.id}/${path}`, headers: bearer(agentKey), payload });
      expect((await api('take', { agentId: 'ann' })).statusCode).toBe(200);

      // Meta accepts the agent's message and echoes it before its answer reaches the platform.
      rig.graph.delay(1500);
      const sending = api('messages', { agentId: 'ann', text: 'Ann here: it ships today.' });
      const accepted = await eventually(() => sentTo(user).find((d) => d.text === 'Ann here: it ships today.'), 10_000, 'the agent message at Meta');
      const echo = (id: string, text: string) => ({ sender: { id: rig.instagramAccountId }, recipient: { id: user }, message: { mid: id, text, is_echo: true } });
      expect((await postInstagram(delivery(user, [echo(accepted.messageId, 'Ann here: it ships today.')]))).statusCode).toBe(200);
      const sent = await sending;
      rig.graph.delay(0);
      // 200 sent, or 202 pending when the send outlasted the route's wait on a loaded machine.
      expect(sent.json()).toMatchObject({ status: expect.stringMatching(/^(sent|pending)$/) });
      const { messageId } = sent.json() as { messageId: string };
      await eventually(async () => (await tdb().message.findFirst({ where: { id: messageId } }))?.status === 'sent', 10_000, 'the agent message stored as sent');
      // A person's message from the Instagram app after it: stored once the echo before it was handled.
      const fromApp = mid();
      expect((await postInstagram(delivery(user, [echo(fromApp, 'Jo here too')]))).statusCode).toBe(200);
      await eventually(() => tdb().message.findFirst({ where: { externalMessageId: fromApp } }).then((m) => m ?? undefined), 20_000, "the app's message stored");
      const outbound = await tdb().message.findMany({ where: { conversationId: conversation.id, direction: 'outbound' }, orderBy: { createdAt: 'asc' } });
      expect(outbound.map((m) => [(m.content as { agentId?: string }).agentId ?? 'assistant', (m.content as { text: string }).text])).toEqual([
        ['assistant', GREETING],
        ['ann', 'Ann here: it ships today.'],
        ['business_app', 'Jo here too'],
      ]);
      expect((await tdb().conversation.findUniqueOrThrow({ where: { id: conversation.id } })).assignee).toBe('ann'); // the person holding it keeps it
    });

    it('keeps a story mention unanswered and answers a reply to a story with the story kept', async () => {
      const user = igsid();
      const mention = mid();
      const url = 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000001&signature=abc';
      expect((await postInstagram(delivery(user, [{ message: { mid: mention, attachments: [{ type: 'story_mention', payload: { url } }] } }]))).statusCode).toBe(200);
      const stored = await eventually(() => tdb().message.findFirst({ where: { externalMessageId: mention } }).then((m) => m ?? undefined), 10_000, 'the mention stored');
      expect(stored).toMatchObject({ direction: 'inbound', type: 'unsupported', content: expect.objectContaining({ type: 'story_mention', url }) });

      const reply = mid();
      const story = { id: '17900000000000002', url: 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000002' };
      expect((await postInstagram(delivery(user, [{ message: { mid: reply, text: 'Hello!', reply_to: { story } } }]))).statusCode).toBe(200);
      await eventually(() => sentTo(user).length > 0, 20_000, 'a reply');
      // The workflow answers in order: a reply to the mention would have come first.
      expect(sentTo(user).map((d) => d.text)).toEqual([GREETING]);
      expect((await tdb().message.findFirstOrThrow({ where: { externalMessageId: reply } })).content).toMatchObject({ storyReply: story });
    });

    it("hands over to a person on request, and the agent's reply goes out on Instagram", async () => {
      const user = igsid();
      await says(user, 'I need a human please');
      await eventually(() => sentTo(user).length === 1, 20_000, 'the handoff notice');
      const conversation = await eventually(
        () => tdb().conversation.findFirst({ where: { externalUserId: user, status: 'handoff_requested' } }).then((c) => c ?? undefined),
        10_000,
        'handoff requested',
      );
      const api = (path: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/conversations/${conversation.id}/${path}`, headers: bearer(agentKey), payload });
      const taken = await api('take', { agentId: 'ann' });
      expect(taken.statusCode, taken.body).toBe(200);
      expect(taken.json()).toMatchObject({ status: 'assigned_human', assignee: 'ann' });

      await says(user, 'Are you there?'); // held by a person: the assistant stays silent
      const sent = await api('messages', { agentId: 'ann', text: 'Hi, Ann here. Your order ships today.' });
      expect(sent.statusCode, sent.body).toBe(200);
      expect(sent.json()).toMatchObject({ status: 'sent' });
      await eventually(() => sentTo(user).length === 2, 10_000, "the agent's reply");
      expect(sentTo(user)[1]).toMatchObject({ channel: 'instagram', from: rig.instagramPageId, text: 'Hi, Ann here. Your order ships today.' });

      // A file: uploaded to the page's message_attachments, then sent by its attachment_id.
      const detail = await app.inject({ url: `/api/v1/conversations/${conversation.id}`, headers: bearer(agentKey) });
      expect(detail.json().attachmentLimits).toMatchObject({ imageMaxBytes: 8 * 1024 * 1024, documentMaxBytes: 25 * 1024 * 1024, documentTypes: expect.arrayContaining(['application/pdf', 'video/mp4']) });
      const pdf = Buffer.from('%PDF-1.4\n% the invoice\n');
      const file = await api('messages', { agentId: 'ann', attachment: { filename: 'invoice.pdf', mimeType: 'application/pdf', data: pdf.toString('base64') } });
      expect(file.statusCode, file.body).toBe(200);
      expect(file.json()).toMatchObject({ status: 'sent' });
      const media = rig.graph.deliveredMedia.filter((m) => m.to === user);
      expect(media.map((m) => [m.channel, m.type, m.filename, m.mimeType, m.bytes.equals(pdf)])).toEqual([['instagram', 'file', 'invoice.pdf', 'application/pdf', true]]);
      const row = await tdb().message.findFirstOrThrow({ where: { id: file.json().messageId } });
      expect(row).toMatchObject({ status: 'sent', externalMessageId: media[0]!.messageId, content: expect.objectContaining({ attachment: expect.objectContaining({ filename: 'invoice.pdf', kind: 'document' }) }) });
      // Instagram takes images, video, audio and PDF files only.
      const text = await api('messages', { agentId: 'ann', attachment: { filename: 'notes.txt', mimeType: 'text/plain', data: Buffer.from('notes').toString('base64') } });
      expect(text.statusCode, text.body).toBe(400);
      expect(text.json().error).toMatchObject({ code: 'invalid_attachment', message: expect.stringContaining('text/plain') });
    });
  });
});
