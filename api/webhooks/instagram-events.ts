// Instagram messaging webhooks (the Messenger Platform's Instagram API, `object: instagram`): the
// envelope as a zod schema and its normalisation into what the platform acts on. The shape is
// Messenger's (`entry[].messaging[]` events) with Instagram's own parts: a read receipt names the
// message read (`read.mid`, no watermark), a reply to a story carries the story
// (`reply_to.story`), a mention in a story arrives as a `story_mention` attachment, and an
// unsent message comes back flagged `is_deleted`. Objects are loose, as in envelopes.ts: only
// what is read is checked. Entries of other fields (`changes[]`: comments, mentions in posts)
// carry no `messaging` and are ignored.
//
// What becomes of each event:
//   message (text, quick_reply, image/video/audio/file)     → stored, answered
//   message replying to a story                             → stored with the story, answered
//   story_mention, share, reel, ig_post, is_unsupported     → stored, not answered (nothing to read;
//                                                             the CDN URL only: Meta's terms forbid
//                                                             keeping a story's media)
//   postback (icebreakers, buttons)                         → stored, answered
//   reaction                                                → stored, not answered
//   read                                                    → our messages to the user marked read
//   is_echo (the account's own message: sent from the       → stored as the business's, pauses
//   Instagram app or inbox, or by the platform)               the assistant; the platform's own
//                                                             sends are dropped when stored
//                                                             (activities/store.ts)
//   is_deleted (the user unsent a message)                  → ignored: nothing to answer
//   referral, optin, handover…                              → ignored
import { z } from 'zod';
import type { InboundKind, InboundMessage } from '../../workflows/types.ts';
import { postbackMessage, reactionMessage, withoutUndefined, type EchoItem, type InboundItem, type NormalizedDelivery, type StatusItem } from './normalize.ts';

/** Ids become workflow ids and database keys: no control characters (as in envelopes.ts). */
const id = z.string().min(1).max(512).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

const attachment = z.looseObject({
  type: z.string(),
  payload: z.looseObject({ url: z.string().optional(), title: z.string().optional(), reel_video_id: z.string().optional() }).nullable().optional(),
});

export const instagramEventSchema = z.looseObject({
  sender: z.looseObject({ id: id.optional() }).optional(),
  recipient: z.looseObject({ id: id.optional() }).optional(),
  /** Milliseconds. */
  timestamp: z.number().int().nonnegative(),
  message: z
    .looseObject({
      mid: id,
      text: z.string().optional(),
      is_echo: z.boolean().optional(),
      is_deleted: z.boolean().optional(),
      is_unsupported: z.boolean().optional(),
      quick_reply: z.looseObject({ payload: z.string() }).optional(),
      reply_to: z.looseObject({ mid: z.string().optional(), story: z.looseObject({ id: z.string().optional(), url: z.string().optional() }).optional() }).optional(),
      attachments: z.array(attachment).optional(),
    })
    .optional(),
  postback: z.looseObject({ mid: z.string().optional(), title: z.string().optional(), payload: z.string().optional() }).optional(),
  reaction: z.looseObject({ mid: z.string(), action: z.string(), emoji: z.string().optional(), reaction: z.string().optional() }).optional(),
  read: z.looseObject({ mid: z.string().optional() }).optional(),
});
export type InstagramEvent = z.infer<typeof instagramEventSchema>;

export const instagramEnvelopeSchema = z.looseObject({
  object: z.string(),
  entry: z.array(z.looseObject({ id, time: z.number().optional(), messaging: z.array(instagramEventSchema).default([]) })),
});
export type InstagramEnvelope = z.infer<typeof instagramEnvelopeSchema>;

type InstagramMessage = NonNullable<InstagramEvent['message']>;

/** Attachment types the assistant can take as media; the rest (story_mention, share, reels, posts) are links to Instagram content. */
const MEDIA_KINDS: Record<string, InboundKind> = { image: 'image', video: 'video', audio: 'audio', file: 'document' };

/** One Instagram `message` event from the user (echoes and unsent messages are filtered before). */
export function normalizeInstagramMessage(message: InstagramMessage, sentAt: number): InboundMessage {
  const base = { externalMessageId: message.mid, sentAt };
  const story = message.reply_to?.story;
  const common = withoutUndefined({
    replyTo: message.reply_to?.mid,
    ...(story && { storyReply: withoutUndefined({ id: story.id, url: story.url }) }),
  });

  if (message.is_unsupported) return { ...base, kind: 'unsupported', text: message.text ?? null, content: { ...common, type: 'unsupported' } };

  if (message.quick_reply) {
    return { ...base, kind: 'interactive', text: message.text ?? null, content: { ...common, interactiveType: 'quick_reply', payload: message.quick_reply.payload } };
  }

  const attachments = message.attachments ?? [];
  const first = attachments[0];
  if (first) {
    const all = attachments.map((a) => withoutUndefined({ type: a.type, url: a.payload?.url, title: a.payload?.title, reelVideoId: a.payload?.reel_video_id }));
    return {
      ...base,
      kind: MEDIA_KINDS[first.type] ?? 'unsupported',
      text: message.text ?? null,
      content: withoutUndefined({ ...common, type: first.type, url: first.payload?.url, attachments: all }),
    };
  }

  if (message.text !== undefined) return { ...base, kind: 'text', text: message.text, content: common };
  return { ...base, kind: 'unsupported', text: null, content: common };
}

export function normalizeInstagram(envelope: InstagramEnvelope): NormalizedDelivery {
  const out = { publicIds: [] as string[], inbound: [] as InboundItem[], statuses: [] as StatusItem[], echoes: [] as EchoItem[] };
  if (envelope.object !== 'instagram') return out;
  const ids = new Set<string>();
  for (const entry of envelope.entry) {
    const publicId = entry.id;
    for (const event of entry.messaging) {
      if (event.message?.is_echo) {
        // The account's own message, to the user in `recipient`. Instagram's echoes carry no
        // metadata to tell the platform's sends by: the store drops those by their message id.
        const userId = event.recipient?.id;
        if (userId && !event.message.is_deleted) {
          ids.add(publicId);
          out.echoes.push({ publicId, userId, echo: normalizeInstagramMessage(event.message, event.timestamp) });
        }
        continue;
      }
      const userId = event.sender?.id;
      if (!userId) continue;
      const push = (message: InboundMessage) => {
        ids.add(publicId);
        out.inbound.push({ publicId, userId, message });
      };
      if (event.message) {
        // An unsent message leaves nothing to answer.
        if (!event.message.is_deleted) push(normalizeInstagramMessage(event.message, event.timestamp));
      } else if (event.postback) {
        push(postbackMessage(userId, event.timestamp, event.postback));
      } else if (event.reaction) {
        push(reactionMessage(userId, event.timestamp, event.reaction));
      } else if (event.read) {
        // The user saw the thread up to `mid` at `timestamp`: that message (by id, whatever the
        // clocks say) and every earlier one to them (by time, as a Messenger watermark) are read.
        ids.add(publicId);
        if (event.read.mid) out.statuses.push({ kind: 'message', publicId, externalMessageId: event.read.mid, status: 'read', at: event.timestamp });
        out.statuses.push({ kind: 'watermark', publicId, userId, status: 'read', watermark: event.timestamp });
      }
    }
  }
  out.publicIds = [...ids];
  return out;
}
