// Meta's inbound types, the business's own messages (echoes), Messenger's HUMAN_AGENT tag, agents'
// choices and orders/Flows, end to end: signed webhooks into the API, the real conversation
// workflow on the real Temporal server and Postgres, Meta's Graph API faked at the edge.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { createApiKey } from '../lib/tenants.ts';
import { stateQuery } from '../workflows/conversation.ts';
import { bearer } from './support/api.ts';
import { createConversationRig, eventually, text, WA_APP_SECRET, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const PAGE_APP_SECRET = 'page-app-secret';
const DAY = 24 * 60 * 60 * 1000;
const FLOW_SECRET = 'flow-fn-secret-0123456789abcdef';
let seq = 0;
const waUser = () => `1555${String(Date.now() % 1e6).padStart(6, '0')}${seq++}`;
const psid = () => `7${String(Date.now() % 1e9)}${seq++}`;
const nowSeconds = () => String(Math.floor(Date.now() / 1000));

/** A tenant function that records its calls and answers the Flow. */
async function startFunctionServer() {
  const calls: { function: string; callId: string; arguments: Record<string, any> }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      calls.push(JSON.parse(raw));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ reply: 'Thanks, your table is booked.' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/flows`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Meta messaging', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let key: string;
  let fn: Awaited<ReturnType<typeof startFunctionServer>>;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    fn = await startFunctionServer();
    rig = await createConversationRig(temporal.client, { llm: { allowInsecureFunctionEndpoints: true } });
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    key = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'agents', scope: 'agent' })).key;
    await createTenantFunction(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, {
      name: 'book_table', description: 'Takes table bookings made with the booking Flow', parameters: { type: 'object' }, endpoint: fn.url, secret: FLOW_SECRET, timeoutMs: 5000,
    }, { allowHttp: true });
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await fn?.close();
    await temporal?.close();
  });

  async function post(type: 'whatsapp' | 'messenger', body: unknown): Promise<void> {
    const payload = JSON.stringify(body);
    const secret = type === 'whatsapp' ? WA_APP_SECRET : PAGE_APP_SECRET;
    const res = await app.inject({ method: 'POST', url: `/webhooks/${type}`, payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) } });
    expect(res.statusCode, res.body).toBe(200);
  }
  const whatsappValue = (value: Record<string, unknown>, field = 'messages') => ({
    object: 'whatsapp_business_account',
    entry: [{ id: '555000111', changes: [{ field, value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001111', phone_number_id: rig.phoneNumberId }, ...value } }] }],
  });
  const whatsappMessage = (from: string, message: Record<string, unknown>) =>
    whatsappValue({ contacts: [{ profile: { name: 'Pat' }, wa_id: from }], messages: [{ from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: nowSeconds(), ...message }] });
  const messengerEvent = (event: Record<string, unknown>) => ({ object: 'page', entry: [{ id: rig.pageId, time: Date.now(), messaging: [{ timestamp: Date.now(), ...event }] }] });

  const tdb = () => forTenant(rig.db, rig.tenantId);
  const conversationOf = (externalUserId: string) => tdb().conversation.findFirst({ where: { externalUserId } });
  const messagesOf = async (externalUserId: string) => {
    const c = await conversationOf(externalUserId);
    return c ? tdb().message.findMany({ where: { conversationId: c.id }, orderBy: { createdAt: 'asc' } }) : [];
  };
  /** The workflow has stored and handled everything it was sent (nothing pending, nothing unanswered). */
  const settled = (channel: 'whatsapp' | 'messenger', user: string) =>
    eventually(async () => {
      const s = await temporal.client.workflow.getHandle(rig.workflowId(channel, user)).query(stateQuery).catch(() => undefined);
      return s && s.conversationId !== null && s.pending === 0;
    }, 20_000, `the conversation of ${user} settled`);
  const api = (path: string, payload: unknown) => app.inject({ method: 'POST', url: `/api/v1/conversations/${path}`, headers: bearer(key), payload: payload as object });

  // Meta's payload shapes (Cloud API "Webhooks → messages", Messenger "Webhook events"): each is
  // acknowledged, stored with the type given, and answered or not.
  const whatsappCases: { name: string; message: Record<string, unknown>; stored: string; answered: boolean }[] = [
    { name: 'text', message: { type: 'text', text: { body: 'Hello!' } }, stored: 'text', answered: true },
    { name: 'image', message: { type: 'image', image: { id: '1001', mime_type: 'image/jpeg', sha256: 'abc=' } }, stored: 'image', answered: true },
    { name: 'audio', message: { type: 'audio', audio: { id: '1002', mime_type: 'audio/ogg; codecs=opus', voice: true } }, stored: 'audio', answered: true },
    { name: 'video', message: { type: 'video', video: { id: '1003', mime_type: 'video/mp4', caption: 'Look at this' } }, stored: 'video', answered: true },
    { name: 'document', message: { type: 'document', document: { id: '1004', mime_type: 'application/pdf', filename: 'invoice.pdf', caption: 'My invoice' } }, stored: 'document', answered: true },
    { name: 'sticker', message: { type: 'sticker', sticker: { id: '1005', mime_type: 'image/webp', animated: false } }, stored: 'sticker', answered: true },
    { name: 'location', message: { type: 'location', location: { latitude: 38.72, longitude: -9.14, name: 'Shop', address: 'Rua A 1' } }, stored: 'location', answered: true },
    { name: 'contacts', message: { type: 'contacts', contacts: [{ name: { formatted_name: 'Ana Lima', first_name: 'Ana' }, phones: [{ phone: '+351 900 000 000', wa_id: '351900000000', type: 'CELL' }] }] }, stored: 'contacts', answered: true },
    { name: 'interactive button_reply', message: { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'size_m', title: 'Medium' } } }, stored: 'interactive', answered: true },
    { name: 'interactive list_reply', message: { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'store_2', title: 'Lisbon', description: 'Downtown' } } }, stored: 'interactive', answered: true },
    { name: 'button (template quick reply)', message: { type: 'button', context: { from: '15550001111', id: 'wamid.tpl' }, button: { payload: 'STOP', text: 'Stop promotions' } }, stored: 'interactive', answered: true },
    {
      name: 'order', stored: 'order', answered: true,
      message: { type: 'order', order: { catalog_id: '1234', text: 'Gift wrap please', product_items: [{ product_retailer_id: 'SKU-1', quantity: 2, item_price: 10.5, currency: 'EUR' }] } },
    },
    {
      name: 'interactive nfm_reply (Flow)', stored: 'interactive', answered: true,
      message: { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"flow_token":"t1","guests":"2","date":"2026-12-24"}' } } },
    },
    { name: 'reaction', message: { type: 'reaction', reaction: { message_id: 'wamid.ours', emoji: '👍' } }, stored: 'reaction', answered: false },
    { name: 'system', message: { type: 'system', system: { body: 'Pat changed from 1555 to 1556', new_wa_id: '1556', type: 'user_changed_number' } }, stored: 'system', answered: false },
    { name: 'request_welcome', message: { type: 'request_welcome' }, stored: 'system', answered: false },
    {
      name: 'unsupported (errors)', stored: 'unsupported', answered: false,
      message: { type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown', message: 'Message type unknown', error_data: { details: 'Message type is currently not supported.' } }] },
    },
  ];
  const messengerCases: { name: string; event: (user: string) => Record<string, unknown>; stored: string; answered: boolean }[] = [
    { name: 'message', event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, message: { mid: `m_${randomBytes(6).toString('hex')}`, text: 'Hello!' } }), stored: 'text', answered: true },
    {
      name: 'message with an image', stored: 'image', answered: true,
      event: (u) => ({
        sender: { id: u }, recipient: { id: rig.pageId },
        message: { mid: `m_${randomBytes(6).toString('hex')}`, attachments: [{ type: 'image', payload: { url: rig.graph.addAttachment({ bytes: randomBytes(64), mimeType: 'image/jpeg' }) } }] },
      }),
    },
    {
      name: 'quick_reply', stored: 'interactive', answered: true,
      event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, message: { mid: `m_${randomBytes(6).toString('hex')}`, text: 'Medium', quick_reply: { payload: 'size_m' } } }),
    },
    { name: 'postback', event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, postback: { mid: `m_${randomBytes(6).toString('hex')}`, title: 'Medium', payload: 'size_m' } }), stored: 'interactive', answered: true },
    { name: 'reaction', event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, reaction: { mid: 'm_ours', action: 'react', emoji: '❤', reaction: 'love' } }), stored: 'reaction', answered: false },
    { name: 'referral', event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, referral: { ref: 'spring-sale', source: 'SHORTLINK', type: 'OPEN_THREAD' } }), stored: 'system', answered: false },
    { name: 'optin', event: (u) => ({ sender: { id: u }, recipient: { id: rig.pageId }, optin: { type: 'notification_messages', payload: 'offers', notification_messages_token: 'tok' } }), stored: 'system', answered: false },
  ];

  it('every inbound type is acknowledged, stored, and answered or deliberately not', async () => {
    // Media Meta can hand over (the platform fetches it before answering).
    const withMedia = (message: Record<string, any>) => {
      const media = message[message.type as string];
      if (!media?.mime_type || !media.id) return message;
      const { sha256: _sha256, ...rest } = media;
      return { ...message, [message.type]: { ...rest, id: rig.graph.addMedia({ bytes: randomBytes(64), mimeType: media.mime_type }) } };
    };
    const wa = whatsappCases.map((c) => ({ ...c, message: withMedia(c.message), user: waUser() }));
    const fb = messengerCases.map((c) => ({ ...c, user: psid() }));
    await Promise.all([...wa.map((c) => post('whatsapp', whatsappMessage(c.user, c.message))), ...fb.map((c) => post('messenger', messengerEvent(c.event(c.user))))]);
    // Not messages of any conversation: acknowledged, nothing stored.
    await post('whatsapp', whatsappValue({ errors: [{ code: 131000, title: 'Something went wrong', message: 'Something went wrong' }] }));
    await post('messenger', messengerEvent({ sender: { id: fb[0]!.user }, recipient: { id: rig.pageId }, delivery: { watermark: Date.now() } }));
    await post('messenger', messengerEvent({ sender: { id: fb[0]!.user }, recipient: { id: rig.pageId }, read: { watermark: Date.now() } }));

    const all = [...wa.map((c) => ({ ...c, channel: 'whatsapp' as const })), ...fb.map((c) => ({ ...c, channel: 'messenger' as const }))];
    await Promise.all(all.map((c) => settled(c.channel, c.user)));
    for (const c of all) {
      const rows = await eventually(async () => {
        const r = await messagesOf(c.user);
        const replied = r.some((m) => m.direction === 'outbound' && m.status !== 'pending');
        return r.length > 0 && (!c.answered || replied) && r;
      }, 20_000, `${c.channel} ${c.name} stored${c.answered ? ' and answered' : ''}`);
      const inbound = rows.filter((m) => m.direction === 'inbound');
      expect(inbound.map((m) => m.type), `${c.channel} ${c.name}`).toEqual([c.stored]);
      const replies = rows.filter((m) => m.direction === 'outbound');
      expect(replies.length > 0, `${c.channel} ${c.name} answered`).toBe(c.answered);
    }
    const order = (await messagesOf(wa.find((c) => c.name === 'order')!.user)).find((m) => m.direction === 'inbound')!;
    expect(order.content).toMatchObject({
      catalogId: '1234', note: 'Gift wrap please', items: [{ retailerId: 'SKU-1', quantity: 2, price: 10.5, currency: 'EUR' }],
      text: '🛒 Order of 1 item:\n- 2 × SKU-1 at 10.5 EUR\nTotal: 21 EUR\nNote: Gift wrap please',
    });
    const flow = (await messagesOf(wa.find((c) => c.name.startsWith('interactive nfm_reply'))!.user)).find((m) => m.direction === 'inbound')!;
    expect(flow.content).toMatchObject({ interactiveType: 'nfm_reply', response: { guests: '2', date: '2026-12-24' }, text: '📋 Form completed:\n- guests: 2\n- date: 2026-12-24' });
  });

  it('a message the business sends from its WhatsApp Business app is stored as its own and pauses the assistant', async () => {
    const u = waUser();
    await post('whatsapp', whatsappMessage(u, { type: 'text', text: { body: 'Do you deliver on Sundays?' } }));
    await eventually(async () => (await messagesOf(u)).some((m) => m.direction === 'outbound' && m.status === 'sent'), 20_000, 'the assistant answers');
    const echo = { from: '15550001111', to: u, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: nowSeconds(), type: 'text', text: { body: 'Yes, we do! – Maria' } };
    await post('whatsapp', whatsappValue({ message_echoes: [echo] }, 'smb_message_echoes'));
    await post('whatsapp', whatsappValue({ message_echoes: [echo] }, 'smb_message_echoes')); // a redelivery changes nothing

    const c = await eventually(async () => ((await conversationOf(u))?.status === 'assigned_human' ? conversationOf(u) : undefined), 10_000, 'held by the business app');
    expect(c).toMatchObject({ status: 'assigned_human', assignee: 'business_app' });
    const stored = (await messagesOf(u)).filter((m) => m.externalMessageId === echo.id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ direction: 'outbound', status: 'sent', type: 'text', content: { text: 'Yes, we do! – Maria', author: 'agent', agentId: 'business_app' } });

    const repliesBefore = (await messagesOf(u)).filter((m) => m.direction === 'outbound').length;
    await post('whatsapp', whatsappMessage(u, { type: 'text', text: { body: 'Great, thanks!' } }));
    await settled('whatsapp', u);
    expect((await messagesOf(u)).filter((m) => m.direction === 'outbound')).toHaveLength(repliesBefore); // the assistant stays silent

    // A person in the inbox may take it over from the business app, and give it back.
    const taken = await api(`${c!.id}/take`, { agentId: 'ann' });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({ status: 'assigned_human', assignee: 'ann' });
    expect((await api(`${c!.id}/release`, { agentId: 'ann' })).json()).toMatchObject({ status: 'active' });
  });

  it('a Messenger echo from the Page inbox pauses the assistant; the echo of our own send does not', async () => {
    const u = psid();
    await post('messenger', messengerEvent({ sender: { id: u }, recipient: { id: rig.pageId }, message: { mid: `m_${randomBytes(6).toString('hex')}`, text: 'Hello!' } }));
    await eventually(async () => (await messagesOf(u)).some((m) => m.direction === 'outbound' && m.status === 'sent'), 20_000, 'the assistant answers');
    const ours = (await messagesOf(u)).find((m) => m.direction === 'outbound')!;
    // Meta echoes our own send with the metadata we attached (and our app's id).
    const sent = rig.graph.requests.find((r) => r.kind === 'messenger.message' && (r.body as { recipient: { id: string } }).recipient.id === u)!;
    expect(sent.body).toMatchObject({ message: { metadata: 'metachat' } });
    await post('messenger', messengerEvent({ sender: { id: rig.pageId }, recipient: { id: u }, message: { mid: ours.externalMessageId, is_echo: true, app_id: 1517776481860111, metadata: 'metachat', text: (ours.content as { text: string }).text } }));
    await post('messenger', messengerEvent({ sender: { id: rig.pageId }, recipient: { id: u }, message: { mid: 'm_inbox_1', is_echo: true, app_id: 263902037430900, text: 'Hi, this is Jo from the shop' } }));

    const c = await eventually(async () => ((await conversationOf(u))?.status === 'assigned_human' ? conversationOf(u) : undefined), 10_000, 'held by the business app');
    expect(c!.assignee).toBe('business_app');
    const outbound = (await messagesOf(u)).filter((m) => m.direction === 'outbound');
    expect(outbound.map((m) => (m.content as { agentId?: string }).agentId ?? 'assistant')).toEqual(['assistant', 'business_app']);
    expect(outbound[1]!.content).toMatchObject({ text: 'Hi, this is Jo from the shop', appId: '263902037430900' });
  });

  it('a Messenger agent answers 1 to 7 days later with the HUMAN_AGENT tag, never the assistant, and not after 7 days', async () => {
    const reply = async (sentDaysAgo: number) => {
      const u = psid();
      await rig.deliver('messenger', u, [text('Is my order coming?', `m_${randomBytes(6).toString('hex')}`, Date.now() - sentDaysAgo * DAY)]);
      await settled('messenger', u);
      const c = (await conversationOf(u))!;
      // The assistant's answer outside the 24-hour window is not sent.
      const assistant = await eventually(async () => {
        const rows = (await messagesOf(u)).filter((m) => m.direction === 'outbound');
        return rows.length > 0 && rows.every((m) => m.status !== 'pending') && rows;
      }, 20_000, "the assistant's answer recorded");
      expect(assistant.map((m) => [m.status, (m.error as { reason?: string } | null)?.reason])).toEqual([['failed', 'outside_customer_service_window']]);
      expect((await api(`${c.id}/take`, { agentId: 'ann' })).statusCode).toBe(200);
      const res = await api(`${c.id}/messages`, { agentId: 'ann', text: 'Sorry for the wait: it ships today.' });
      expect(res.statusCode, res.body).toBe(200);
      return { u, result: res.json() as { status: string; reason?: string } };
    };
    const late = await reply(3);
    expect(late.result.status).toBe('sent');
    const sends = rig.graph.requests.filter((r) => r.kind === 'messenger.message' && (r.body as { recipient: { id: string } }).recipient.id === late.u);
    expect(sends.map((r) => r.body)).toEqual([expect.objectContaining({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: expect.objectContaining({ text: 'Sorry for the wait: it ships today.' }) })]);

    const tooLate = await reply(8);
    expect(tooLate.result).toMatchObject({ status: 'failed', reason: 'outside_human_agent_window' });
    expect(rig.graph.requests.filter((r) => r.kind === 'messenger.message' && (r.body as { recipient: { id: string } }).recipient.id === tooLate.u)).toEqual([]);
  });

  it('an agent offers choices through the API; what breaks Meta\'s limits is a 400', async () => {
    const u = waUser();
    await post('whatsapp', whatsappMessage(u, { type: 'text', text: { body: 'I want a bike' } }));
    await settled('whatsapp', u);
    const c = (await conversationOf(u))!;
    expect((await api(`${c.id}/take`, { agentId: 'ann' })).statusCode).toBe(200);
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `size_${i}`, title: `Size ${i}` }));

    const sent = await api(`${c.id}/messages`, { agentId: 'ann', text: 'Which size?', choices: { items: items(3) } });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'sent' });
    const request = rig.graph.requests.filter((r) => r.kind === 'whatsapp.message' && (r.body as { to: string }).to === u).at(-1)!;
    expect(request.body).toMatchObject({ type: 'interactive', interactive: { type: 'button', body: { text: 'Which size?' }, action: { buttons: [{ reply: { id: 'size_0', title: 'Size 0' } }, {}, {}] } } });
    const row = (await messagesOf(u)).find((m) => m.id === (sent.json() as { messageId: string }).messageId)!;
    expect(row.content).toMatchObject({ text: 'Which size?', choices: { items: items(3) } });

    for (const choices of [{ items: items(11) }, { items: [{ id: 'x', title: 'A title of twenty-five ch' }] }, { items: [] }, { items: [{ id: 'a', title: 'A' }, { id: 'a', title: 'B' }] }]) {
      const refused = await api(`${c.id}/messages`, { agentId: 'ann', text: 'Which size?', choices });
      expect(refused.statusCode, JSON.stringify(choices)).toBe(400);
    }
  });

  it('orders and Flows go where the tenant says: a person, or a tenant function whose reply is sent', async () => {
    await rig.db.tenant.update({
      where: { id: rig.tenantId },
      data: { settings: { conversation: { quietWindowMs: 300 }, commerce: { order: { handledBy: 'human' }, flow: { handledBy: 'function', function: 'book_table' } } } },
    });
    const buyer = waUser();
    await post('whatsapp', whatsappMessage(buyer, { type: 'order', order: { catalog_id: '1234', product_items: [{ product_retailer_id: 'SKU-9', quantity: '1', item_price: '99', currency: 'EUR' }] } }));
    await eventually(async () => (await conversationOf(buyer))?.status === 'handoff_requested', 20_000, 'the order handed to a person');

    const guest = waUser();
    await post('whatsapp', whatsappMessage(guest, { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'booking', response_json: '{"guests":"4"}' } } }));
    await eventually(() => rig.graph.delivered.some((d) => d.to === guest && d.text === 'Thanks, your table is booked.'), 20_000, "the function's reply");
    expect(fn.calls).toHaveLength(1);
    expect(fn.calls[0]).toMatchObject({ function: 'book_table', arguments: { event: 'flow', externalUserId: guest, message: { interactiveType: 'nfm_reply', flowName: 'booking', response: { guests: '4' } } } });
    expect((await conversationOf(guest))?.status).toBe('active');
  });
});
