// Normalisation of Meta's webhook payloads, on payloads shaped as Meta's docs show them.
import { describe, expect, it } from 'vitest';
import { messengerEnvelopeSchema, whatsappEnvelopeSchema } from './envelopes.ts';
import { groupByUser, locationText, normalizeMessenger, normalizeWhatsApp } from './normalize.ts';

const PHONE_ID = '106540352242922';

function whatsapp(messages: unknown[], extra: Record<string, unknown> = {}) {
  return whatsappEnvelopeSchema.parse({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_ID },
              contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
              messages,
              ...extra,
            },
          },
        ],
      },
    ],
  });
}

const waBase = { from: '16505551234', id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=', timestamp: '1749416383' };

function oneWhatsApp(message: Record<string, unknown>) {
  const out = normalizeWhatsApp(whatsapp([{ ...waBase, ...message }]));
  expect(out.inbound).toHaveLength(1);
  return out.inbound[0]!;
}

describe('normalizeWhatsApp', () => {
  it('text: body as text, seconds to ms, the sender and profile name', () => {
    const item = oneWhatsApp({ type: 'text', text: { body: 'Does it come in another color?' } });
    expect(item).toEqual({
      publicId: PHONE_ID,
      userId: '16505551234',
      message: {
        externalMessageId: waBase.id,
        sentAt: 1749416383000,
        kind: 'text',
        text: 'Does it come in another color?',
        content: { type: 'text', profileName: 'Sheena Nelson' },
      },
    });
  });

  it('text replying to a message keeps the context id', () => {
    const item = oneWhatsApp({ type: 'text', text: { body: 'this one' }, context: { from: '15550783881', id: 'wamid.ORIGINAL' } });
    expect(item.message.content).toMatchObject({ replyTo: 'wamid.ORIGINAL' });
  });

  it('interactive button_reply and list_reply: their title as text', () => {
    const button = oneWhatsApp({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'yes-btn', title: 'Yes, please' } } });
    expect(button.message).toMatchObject({ kind: 'interactive', text: 'Yes, please', content: { interactiveType: 'button_reply', replyId: 'yes-btn' } });
    const list = oneWhatsApp({
      type: 'interactive',
      interactive: { type: 'list_reply', list_reply: { id: 'priority_express', title: 'Express', description: 'Next day' } },
    });
    expect(list.message).toMatchObject({ kind: 'interactive', text: 'Express', content: { interactiveType: 'list_reply', replyId: 'priority_express', description: 'Next day' } });
  });

  it('template quick-reply button: its text as text, payload kept', () => {
    const item = oneWhatsApp({ type: 'button', button: { payload: 'STOP_PROMOS', text: 'Stop promotions' }, context: { from: '15550783881', id: 'wamid.TEMPLATE' } });
    expect(item.message).toMatchObject({ kind: 'interactive', text: 'Stop promotions', content: { interactiveType: 'button', payload: 'STOP_PROMOS', replyTo: 'wamid.TEMPLATE' } });
  });

  it.each(['image', 'video', 'document'] as const)('%s: media id, mime type, caption as text', (type) => {
    const item = oneWhatsApp({ type, [type]: { caption: 'Look at this', mime_type: 'image/jpeg', sha256: 'abc=', id: '1003383421387256', ...(type === 'document' ? { filename: 'a.pdf' } : {}) } });
    expect(item.message).toMatchObject({ kind: type, text: 'Look at this', content: { mediaId: '1003383421387256', mimeType: 'image/jpeg', caption: 'Look at this' } });
  });

  it('audio and sticker without caption: text null', () => {
    expect(oneWhatsApp({ type: 'audio', audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'x', id: '2001', voice: true } }).message).toMatchObject({
      kind: 'audio',
      text: null,
      content: { mediaId: '2001', mimeType: 'audio/ogg; codecs=opus' },
    });
    expect(oneWhatsApp({ type: 'sticker', sticker: { mime_type: 'image/webp', sha256: 'y', id: '3001', animated: false } }).message).toMatchObject({
      kind: 'sticker',
      text: null,
      content: { mediaId: '3001', mimeType: 'image/webp' },
    });
  });

  it('location: readable text plus the coordinates', () => {
    const item = oneWhatsApp({
      type: 'location',
      location: { address: '1 Hacker Way, Menlo Park, CA 94025', latitude: 37.483307, longitude: -122.148981, name: 'Meta Headquarters', url: 'https://meta.com' },
    });
    expect(item.message).toMatchObject({
      kind: 'location',
      text: '📍 Meta Headquarters, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)',
      content: { latitude: 37.483307, longitude: -122.148981, name: 'Meta Headquarters', url: 'https://meta.com' },
    });
    expect(locationText(1.5, 2.5)).toBe('📍 (1.5, 2.5)');
  });

  it('reaction: emoji and the reacted message; a removed reaction has emoji null', () => {
    const item = oneWhatsApp({ type: 'reaction', reaction: { message_id: 'wamid.OURS', emoji: '\uD83D\uDE00' } });
    expect(item.message).toMatchObject({ kind: 'reaction', text: null, content: { emoji: '😀', messageId: 'wamid.OURS' } });
    const removed = oneWhatsApp({ type: 'reaction', reaction: { message_id: 'wamid.OURS' } });
    expect(removed.message.content).toMatchObject({ emoji: null, messageId: 'wamid.OURS' });
  });

  it('contacts: kind contacts with the cards', () => {
    const contacts = [{ name: { formatted_name: 'Barbara Johnson', first_name: 'Barbara' }, phones: [{ phone: '+1 (940) 555-1234', wa_id: '19405551234', type: 'MOBILE' }] }];
    expect(oneWhatsApp({ type: 'contacts', contacts }).message).toMatchObject({ kind: 'contacts', text: null, content: { contacts } });
  });

  it('unsupported, unknown types and unknown interactive replies: unsupported, with Meta\'s errors', () => {
    expect(oneWhatsApp({ type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] }).message).toMatchObject({
      kind: 'unsupported', text: null, content: { type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] },
    });
    expect(oneWhatsApp({ type: 'poll' }).message).toMatchObject({ kind: 'unsupported' });
    expect(oneWhatsApp({ type: 'interactive', interactive: { type: 'product_reply' } }).message).toMatchObject({ kind: 'unsupported' });
  });

  it('value-level errors are the channel\'s, not a message: codes and titles kept for the log', () => {
    const out = normalizeWhatsApp(whatsapp([], { errors: [{ code: 131000, title: 'Something went wrong', message: 'Something went wrong', error_data: { details: 'x' } }] }));
    expect(out.inbound).toEqual([]);
    expect(out.errors).toEqual([{ publicId: PHONE_ID, errors: [{ code: 131000, title: 'Something went wrong' }] }]);
  });

  it('an order without items and a Flow answering nothing are still an order and a Flow', () => {
    expect(oneWhatsApp({ type: 'order', order: { catalog_id: '1' } }).message).toMatchObject({ kind: 'order', content: { catalogId: '1', items: [] } });
    expect(oneWhatsApp({ type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { response_json: '{}' } } }).message).toMatchObject({
      kind: 'interactive', text: '📋 Form completed:\n(no answers)', content: { interactiveType: 'nfm_reply', response: {} },
    });
  });

  it('statuses: sent/delivered/read/failed with errors; unknown statuses ignored', () => {
    const out = normalizeWhatsApp(
      whatsapp([], {
        statuses: [
          { id: 'wamid.A', status: 'delivered', timestamp: '1750263773', recipient_id: '16505551234', pricing: { billable: true, category: 'utility' } },
          {
            id: 'wamid.B',
            status: 'failed',
            timestamp: '1750263774',
            recipient_id: '16505551234',
            errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed' } }],
          },
          { id: 'wamid.C', status: 'deleted', timestamp: '1750263775', recipient_id: '16505551234' },
        ],
      }),
    );
    expect(out.inbound).toEqual([]);
    expect(out.publicIds).toEqual([PHONE_ID]);
    expect(out.statuses).toEqual([
      { kind: 'message', publicId: PHONE_ID, externalMessageId: 'wamid.A', status: 'delivered', at: 1750263773000 },
      {
        kind: 'message',
        publicId: PHONE_ID,
        externalMessageId: 'wamid.B',
        status: 'failed',
        at: 1750263774000,
        error: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed' } }],
      },
    ]);
  });

  it('visits every entry and change; other fields and objects are ignored', () => {
    const envelope = whatsappEnvelopeSchema.parse({
      object: 'whatsapp_business_account',
      entry: [
        { id: '1', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 1 } }] },
        {
          id: '2',
          changes: [
            { field: 'messages', value: { metadata: { phone_number_id: '111' }, messages: [{ ...waBase, id: 'wamid.1', type: 'text', text: { body: 'a' } }] } },
            { field: 'messages', value: { metadata: { phone_number_id: '222' }, messages: [{ ...waBase, id: 'wamid.2', from: '99', type: 'text', text: { body: 'b' } }] } },
          ],
        },
      ],
    });
    const out = normalizeWhatsApp(envelope);
    expect(out.publicIds).toEqual(['111', '222']);
    expect(out.inbound.map((i) => [i.publicId, i.userId, i.message.text])).toEqual([
      ['111', '16505551234', 'a'],
      ['222', '99', 'b'],
    ]);
    expect(normalizeWhatsApp(whatsappEnvelopeSchema.parse({ object: 'instagram', entry: [] }))).toEqual({ publicIds: [], inbound: [], statuses: [], echoes: [] });
  });

  it('rejects malformed messages changes but not unknown fields', () => {
    const bad = whatsappEnvelopeSchema.safeParse({
      object: 'whatsapp_business_account',
      entry: [{ changes: [{ field: 'messages', value: { metadata: { phone_number_id: PHONE_ID }, messages: [{ id: 'x', type: 'text' }] } }] }],
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toContain('entry.0.changes.0.value.messages.0.from');
    // Ids become workflow ids and database keys: a control character in one is refused.
    const nul = whatsappEnvelopeSchema.safeParse({
      object: 'whatsapp_business_account',
      entry: [{ changes: [{ field: 'messages', value: { metadata: { phone_number_id: PHONE_ID }, messages: [{ ...waBase, from: '1555\u0000', type: 'text', text: { body: 'hi' } }] } }] }],
    });
    expect(nul.error?.issues.map((i) => i.path.join('.'))).toContain('entry.0.changes.0.value.messages.0.from');
    const loose = whatsapp([{ ...waBase, type: 'text', text: { body: 'hi', brand_new: 1 }, new_top_level: { x: 1 } }], { brand_new_value_field: [] });
    expect(normalizeWhatsApp(loose).inbound[0]!.message.text).toBe('hi');
  });
});

const PAGE_ID = '1234567890';
const PSID = '9876543210';

function messenger(messaging: unknown[]) {
  return messengerEnvelopeSchema.parse({ object: 'page', entry: [{ id: PAGE_ID, time: 1458692752478, messaging }] });
}

const mBase = { sender: { id: PSID }, recipient: { id: PAGE_ID }, timestamp: 1458692752478 };

function oneMessenger(event: Record<string, unknown>) {
  const out = normalizeMessenger(messenger([{ ...mBase, ...event }]));
  expect(out.inbound).toHaveLength(1);
  return out.inbound[0]!;
}

describe('normalizeMessenger', () => {
  it('text: mid, ms timestamp, sender', () => {
    expect(oneMessenger({ message: { mid: 'm_1', text: 'hello, world!' } })).toEqual({
      publicId: PAGE_ID,
      userId: PSID,
      message: { externalMessageId: 'm_1', sentAt: 1458692752478, kind: 'text', text: 'hello, world!', content: {} },
    });
  });

  it('quick_reply: the message text, payload in content', () => {
    const item = oneMessenger({ message: { mid: 'm_2', text: 'Red', quick_reply: { payload: 'DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED' } } });
    expect(item.message).toMatchObject({ kind: 'interactive', text: 'Red', content: { interactiveType: 'quick_reply', payload: 'DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED' } });
  });

  it('postback: its title as text, mid or a stable derived id', () => {
    const withMid = oneMessenger({ postback: { title: 'Get Started', payload: 'GET_STARTED', mid: 'm_pb' } });
    expect(withMid.message).toMatchObject({ externalMessageId: 'm_pb', kind: 'interactive', text: 'Get Started', content: { interactiveType: 'postback', payload: 'GET_STARTED' } });
    const without = oneMessenger({ postback: { title: 'Menu', payload: 'MENU' } });
    expect(without.message.externalMessageId).toBe(`postback:${PSID}:1458692752478`);
  });

  it('attachments: image, sticker, audio, video, file; text null without text', () => {
    const kinds = [
      [{ type: 'image', payload: { url: 'https://cdn.example/i.jpg' } }, 'image'],
      [{ type: 'image', payload: { url: 'https://cdn.example/s.png', sticker_id: 369239263222822 } }, 'sticker'],
      [{ type: 'audio', payload: { url: 'https://cdn.example/a.mp4' } }, 'audio'],
      [{ type: 'video', payload: { url: 'https://cdn.example/v.mp4' } }, 'video'],
      [{ type: 'file', payload: { url: 'https://cdn.example/f.pdf' } }, 'document'],
      [{ type: 'fallback', payload: { url: 'https://example.com', title: 'A link' } }, 'unsupported'],
    ] as const;
    for (const [attachment, kind] of kinds) {
      const item = oneMessenger({ message: { mid: `m_${kind}`, attachments: [attachment] } });
      expect(item.message).toMatchObject({ kind, text: null, content: { url: attachment.payload.url, attachments: [expect.objectContaining({ type: attachment.type })] } });
    }
  });

  it('location attachment: readable text and coordinates', () => {
    const item = oneMessenger({ message: { mid: 'm_loc', attachments: [{ type: 'location', payload: { coordinates: { lat: 52.52, long: 13.405 } }, title: 'Pin' }] } });
    expect(item.message).toMatchObject({ kind: 'location', text: '📍 (52.52, 13.405)', content: { latitude: 52.52, longitude: 13.405 } });
  });

  it('reaction: emoji and reacted mid, derived id; unreact has emoji null', () => {
    const item = oneMessenger({ reaction: { reaction: 'love', emoji: '\u{2764}\u{FE0F}', action: 'react', mid: 'm_ours' } });
    expect(item.message).toMatchObject({ externalMessageId: `reaction:${PSID}:1458692752478`, kind: 'reaction', text: null, content: { emoji: '❤️', messageId: 'm_ours' } });
    expect(oneMessenger({ reaction: { reaction: 'love', action: 'unreact', mid: 'm_ours' } }).message.content).toMatchObject({ emoji: null, action: 'unreact' });
  });

  it('our own echoes and user_ref optins are not inbound; a referral is a notice; delivery and read are statuses', () => {
    const out = normalizeMessenger(
      messenger([
        { sender: { id: PAGE_ID }, recipient: { id: PSID }, timestamp: 1, message: { mid: 'm_echo', is_echo: true, app_id: 1517776481860111, metadata: 'metachat', text: 'our reply' } },
        { recipient: { id: PAGE_ID }, timestamp: 2, optin: { ref: 'x', user_ref: 'UNIQUE_REF_PARAM' } },
        { ...mBase, timestamp: 3, referral: { ref: 'ad', source: 'ADS', type: 'OPEN_THREAD' } },
        { ...mBase, timestamp: 4, delivery: { mids: ['m_a', 'm_b'], watermark: 1458668856253 } },
        { ...mBase, timestamp: 5, delivery: { watermark: 1458668856300 } },
        { ...mBase, timestamp: 6, read: { watermark: 1458668856400 } },
      ]),
    );
    expect(out.echoes).toEqual([]);
    expect(out.inbound.map((i) => i.message)).toEqual([
      { externalMessageId: `referral:${PSID}:3`, sentAt: 3, kind: 'system', text: null, content: { systemType: 'referral', ref: 'ad', source: 'ADS', type: 'OPEN_THREAD' } },
    ]);
    expect(out.publicIds).toEqual([PAGE_ID]);
    expect(out.statuses).toEqual([
      { kind: 'message', publicId: PAGE_ID, externalMessageId: 'm_a', status: 'delivered', at: 1458668856253 },
      { kind: 'message', publicId: PAGE_ID, externalMessageId: 'm_b', status: 'delivered', at: 1458668856253 },
      { kind: 'watermark', publicId: PAGE_ID, userId: PSID, status: 'delivered', watermark: 1458668856300 },
      { kind: 'watermark', publicId: PAGE_ID, userId: PSID, status: 'read', watermark: 1458668856400 },
    ]);
  });

  it('only object "page" is read', () => {
    const ig = messengerEnvelopeSchema.parse({ object: 'instagram', entry: [{ id: '1', messaging: [{ ...mBase, message: { mid: 'x', text: 'y' } }] }] });
    expect(normalizeMessenger(ig).inbound).toEqual([]);
  });
});

describe('groupByUser', () => {
  it('groups by (channel, user) in first-seen order, keeping each user\'s order', () => {
    const msg = (id: string) => ({ externalMessageId: id, sentAt: 0, kind: 'text' as const, text: id, content: {} });
    const groups = groupByUser([
      { publicId: 'p', userId: 'a', message: msg('1') },
      { publicId: 'p', userId: 'b', message: msg('2') },
      { publicId: 'p', userId: 'a', message: msg('3') },
      { publicId: 'q', userId: 'a', message: msg('4') },
    ]);
    expect(groups.map((g) => [g.publicId, g.userId, g.messages.map((m) => m.externalMessageId)])).toEqual([
      ['p', 'a', ['1', '3']],
      ['p', 'b', ['2']],
      ['q', 'a', ['4']],
    ]);
  });
});
