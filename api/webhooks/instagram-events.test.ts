// Normalisation of Instagram messaging webhooks, on payloads shaped as Meta's docs show them.
import { describe, expect, it } from 'vitest';
import { instagramEnvelopeSchema, normalizeInstagram } from './instagram-events.ts';

const IG_ID = '17841405822304914';
const IGSID = '6543210987654321';
const T = 1733130000000;

function delivery(events: Record<string, unknown>[], object = 'instagram') {
  return normalizeInstagram(
    instagramEnvelopeSchema.parse({ object, entry: [{ id: IG_ID, time: T + 500, messaging: events.map((e) => ({ sender: { id: IGSID }, recipient: { id: IG_ID }, timestamp: T, ...e })) }] }),
  );
}

function one(event: Record<string, unknown>) {
  const out = delivery([event]);
  expect(out.inbound).toHaveLength(1);
  return out.inbound[0]!;
}

describe('normalizeInstagram', () => {
  it('text: the account as channel, the Instagram-scoped id as user, the mid as dedupe key', () => {
    expect(delivery([{ message: { mid: 'aWdfZAG1faXRlbToxOklH', text: 'Do you ship to Lisbon?' } }])).toEqual({
      publicIds: [IG_ID],
      inbound: [{ publicId: IG_ID, userId: IGSID, message: { externalMessageId: 'aWdfZAG1faXRlbToxOklH', sentAt: T, kind: 'text', text: 'Do you ship to Lisbon?', content: {} } }],
      statuses: [],
      echoes: [],
    });
  });

  it('media attachments become image, video, audio and document with their CDN url', () => {
    const kinds = (['image', 'video', 'audio', 'file'] as const).map((type) => {
      const item = one({ message: { mid: `m-${type}`, attachments: [{ type, payload: { url: `https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=${type}` } }] } });
      expect(item.message.content).toMatchObject({ type, url: `https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=${type}` });
      return item.message.kind;
    });
    expect(kinds).toEqual(['image', 'video', 'audio', 'document']);
  });

  it('a reply to a story keeps the story and is text to answer; a story mention, a shared reel and an unsupported message are kept unanswered', () => {
    const reply = one({ message: { mid: 'm-story-reply', text: 'Love this!', reply_to: { story: { url: 'https://lookaside.fbsbx.com/story', id: '18000000000000001' } } } });
    expect(reply.message).toMatchObject({ kind: 'text', text: 'Love this!', content: { storyReply: { id: '18000000000000001', url: 'https://lookaside.fbsbx.com/story' } } });

    const mention = one({ message: { mid: 'm-mention', attachments: [{ type: 'story_mention', payload: { url: 'https://lookaside.fbsbx.com/mention' } }] } });
    expect(mention.message).toMatchObject({ kind: 'unsupported', text: null, content: { type: 'story_mention', url: 'https://lookaside.fbsbx.com/mention' } });

    const reel = one({ message: { mid: 'm-reel', attachments: [{ type: 'ig_reel', payload: { reel_video_id: '9001', title: 'New drop', url: 'https://www.instagram.com/reel/x' } }] } });
    expect(reel.message).toMatchObject({ kind: 'unsupported', content: { type: 'ig_reel', attachments: [{ type: 'ig_reel', reelVideoId: '9001', title: 'New drop' }] } });

    expect(one({ message: { mid: 'm-unsupported', is_unsupported: true } }).message).toMatchObject({ kind: 'unsupported', text: null });
  });

  it('quick replies and postbacks are interactive, with their payload', () => {
    expect(one({ message: { mid: 'm-qr', text: 'Sizes', quick_reply: { payload: 'SIZES' } } }).message).toMatchObject({
      kind: 'interactive', text: 'Sizes', content: { interactiveType: 'quick_reply', payload: 'SIZES' },
    });
    expect(one({ postback: { mid: 'm-pb', title: 'Track my order', payload: 'TRACK' } }).message).toEqual({
      externalMessageId: 'm-pb', sentAt: T, kind: 'interactive', text: 'Track my order', content: { interactiveType: 'postback', payload: 'TRACK', title: 'Track my order' },
    });
  });

  it('reactions and their removal name the message reacted to', () => {
    expect(one({ reaction: { mid: 'm-ours', action: 'react', reaction: 'love', emoji: '❤️' } }).message).toMatchObject({
      externalMessageId: `reaction:${IGSID}:${T}`, kind: 'reaction', content: { emoji: '❤️', messageId: 'm-ours', action: 'react', reaction: 'love' },
    });
    expect(one({ reaction: { mid: 'm-ours', action: 'unreact' } }).message.content).toMatchObject({ emoji: null, action: 'unreact' });
  });

  it('a read receipt marks the message read by id and everything earlier by time', () => {
    expect(delivery([{ read: { mid: 'm-ours' } }])).toMatchObject({
      publicIds: [IG_ID],
      inbound: [],
      statuses: [
        { kind: 'message', publicId: IG_ID, externalMessageId: 'm-ours', status: 'read', at: T },
        { kind: 'watermark', publicId: IG_ID, userId: IGSID, status: 'read', watermark: T },
      ],
    });
  });

  it("takes the account's own messages (is_echo) as the business's, to the user in recipient", () => {
    const echo = { sender: { id: IG_ID }, recipient: { id: IGSID }, message: { mid: 'm-echo', text: 'Sent from the Instagram app', is_echo: true } };
    const photo = { sender: { id: IG_ID }, recipient: { id: IGSID }, message: { mid: 'm-echo-2', is_echo: true, attachments: [{ type: 'image', payload: { url: 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1' } }] } };
    const unsent = { sender: { id: IG_ID }, recipient: { id: IGSID }, message: { mid: 'm-echo-3', is_echo: true, is_deleted: true } };
    expect(delivery([echo, photo, unsent])).toEqual({
      publicIds: [IG_ID],
      inbound: [],
      statuses: [],
      echoes: [
        { publicId: IG_ID, userId: IGSID, echo: { externalMessageId: 'm-echo', sentAt: T, kind: 'text', text: 'Sent from the Instagram app', content: {} } },
        {
          publicId: IG_ID, userId: IGSID,
          echo: { externalMessageId: 'm-echo-2', sentAt: T, kind: 'image', text: null, content: { type: 'image', url: 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1', attachments: [{ type: 'image', url: 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1' }] } },
        },
      ],
    });
  });

  it('ignores unsent messages, other objects and entries of other fields', () => {
    expect(delivery([{ message: { mid: 'm-gone', is_deleted: true } }])).toEqual({ publicIds: [], inbound: [], statuses: [], echoes: [] });
    expect(delivery([{ message: { mid: 'm-page', text: 'hi' } }], 'page').inbound).toEqual([]);
    const comments = instagramEnvelopeSchema.parse({ object: 'instagram', entry: [{ id: IG_ID, time: T, changes: [{ field: 'comments', value: { id: '1', text: 'nice' } }] }] });
    expect(normalizeInstagram(comments).inbound).toEqual([]);
  });

  it('refuses what it reads when malformed', () => {
    const bad = (event: unknown) => instagramEnvelopeSchema.safeParse({ object: 'instagram', entry: [{ id: IG_ID, messaging: [event] }] }).success;
    expect(bad({ sender: { id: IGSID }, timestamp: 'yesterday' })).toBe(false);
    expect(bad({ sender: { id: IGSID }, timestamp: T, message: { text: 'no mid' } })).toBe(false);
    expect(bad({ sender: { id: 'a\u0000b' }, timestamp: T, message: { mid: 'm' } })).toBe(false);
    expect(bad({ sender: { id: IGSID }, timestamp: T, message: { mid: 'm', text: 'fine' } })).toBe(true);
  });
});
