// A validated delivery (envelopes.ts) turned into what the platform acts on: end-user messages
// as InboundMessage (workflows/types.ts), and delivery statuses of our outbound messages. Every
// entry, change and message is visited, in delivery order. Pure functions: no I/O.
import type { InboundMessage } from '../../workflows/types.ts';
import type { MessengerEnvelope, MessengerEvent, WhatsAppEnvelope, WhatsAppMessage, WhatsAppStatus } from './envelopes.ts';

/** One end-user message and whose it is. */
export interface InboundItem {
  /** The channel it arrived on: phone_number_id (WhatsApp) or page id (Messenger). */
  publicId: string;
  /** wa_id (WhatsApp) or page-scoped id (Messenger). */
  userId: string;
  message: InboundMessage;
}

export type OutboundStatus = 'sent' | 'delivered' | 'read' | 'failed';

export type StatusItem =
  /** One outbound message's status, by the provider's message id. */
  | { kind: 'message'; publicId: string; externalMessageId: string; status: OutboundStatus; at: number; error?: unknown }
  /** Every outbound message to `userId` created at or before `watermark` (Messenger). */
  | { kind: 'watermark'; publicId: string; userId: string; status: 'delivered' | 'read'; watermark: number };

export interface NormalizedDelivery {
  /** Every channel public id the delivery names (each must verify before anything is done). */
  publicIds: string[];
  inbound: InboundItem[];
  statuses: StatusItem[];
}

// ---- WhatsApp -----------------------------------------------------------------------------

const WHATSAPP_MEDIA = ['image', 'audio', 'video', 'document', 'sticker'] as const;
type WhatsAppMediaKind = (typeof WHATSAPP_MEDIA)[number];

function isWhatsAppMedia(type: string): type is WhatsAppMediaKind {
  return (WHATSAPP_MEDIA as readonly string[]).includes(type);
}

/** "📍 name, address (lat, lng)", leaving out what is missing. */
export function locationText(lat: number, lng: number, name?: string, address?: string): string {
  const label = [name, address].filter((p): p is string => !!p && p.trim() !== '').join(', ');
  return `📍 ${label ? `${label} ` : ''}(${lat}, ${lng})`;
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** One WhatsApp message as the assistant and the store see it. */
export function normalizeWhatsAppMessage(m: WhatsAppMessage, profileName?: string): InboundMessage {
  const base = { externalMessageId: m.id, sentAt: m.timestamp * 1000 };
  const common = withoutUndefined({ type: m.type, replyTo: m.context?.id, profileName });
  const unsupported = (): InboundMessage => ({ ...base, kind: 'unsupported', text: null, content: common });

  if (m.type === 'text' && m.text) return { ...base, kind: 'text', text: m.text.body, content: common };

  if (m.type === 'interactive' && m.interactive) {
    const reply = m.interactive.type === 'button_reply' ? m.interactive.button_reply : m.interactive.type === 'list_reply' ? m.interactive.list_reply : undefined;
    if (!reply) return unsupported();
    return {
      ...base,
      kind: 'interactive',
      text: reply.title,
      content: withoutUndefined({ ...common, interactiveType: m.interactive.type, replyId: reply.id, description: 'description' in reply ? reply.description : undefined }),
    };
  }

  if (m.type === 'button' && m.button) {
    return { ...base, kind: 'interactive', text: m.button.text, content: withoutUndefined({ ...common, interactiveType: 'button', payload: m.button.payload }) };
  }

  if (isWhatsAppMedia(m.type)) {
    const media = m[m.type];
    if (!media) return unsupported();
    return {
      ...base,
      kind: m.type,
      text: media.caption ?? null,
      content: withoutUndefined({ ...common, mediaId: media.id, mimeType: media.mime_type, sha256: media.sha256, caption: media.caption, filename: media.filename }),
    };
  }

  if (m.type === 'location' && m.location) {
    const { latitude, longitude, name, address, url } = m.location;
    return {
      ...base,
      kind: 'location',
      text: locationText(latitude, longitude, name, address),
      content: withoutUndefined({ ...common, latitude, longitude, name, address, url }),
    };
  }

  if (m.type === 'reaction' && m.reaction) {
    // An empty or absent emoji means the user removed their reaction.
    return { ...base, kind: 'reaction', text: null, content: { ...common, emoji: m.reaction.emoji || null, messageId: m.reaction.message_id } };
  }

  if (m.type === 'contacts' && m.contacts) return { ...base, kind: 'contacts', text: null, content: { ...common, contacts: m.contacts } };

  return unsupported();
}

const WHATSAPP_STATUSES: readonly string[] = ['sent', 'delivered', 'read', 'failed'] satisfies OutboundStatus[];

function whatsappStatus(publicId: string, s: WhatsAppStatus): StatusItem | undefined {
  if (!WHATSAPP_STATUSES.includes(s.status)) return undefined; // e.g. "deleted", "warning": not ours to track
  const status = s.status as OutboundStatus;
  return {
    kind: 'message',
    publicId,
    externalMessageId: s.id,
    status,
    at: s.timestamp * 1000,
    ...(status === 'failed' ? { error: s.errors ?? [] } : {}),
  };
}

export function normalizeWhatsApp(envelope: WhatsAppEnvelope): NormalizedDelivery {
  const out: NormalizedDelivery = { publicIds: [], inbound: [], statuses: [] };
  if (envelope.object !== 'whatsapp_business_account') return out;
  const ids = new Set<string>();
  for (const entry of envelope.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages' || !change.value) continue;
      const value = change.value;
      const publicId = value.metadata.phone_number_id;
      const names = new Map((value.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
      for (const m of value.messages ?? []) {
        ids.add(publicId);
        out.inbound.push({ publicId, userId: m.from, message: normalizeWhatsAppMessage(m, names.get(m.from)) });
      }
      for (const s of value.statuses ?? []) {
        const item = whatsappStatus(publicId, s);
        if (!item) continue;
        ids.add(publicId);
        out.statuses.push(item);
      }
    }
  }
  out.publicIds = [...ids];
  return out;
}

// ---- Messenger ----------------------------------------------------------------------------

type MessengerMessage = NonNullable<MessengerEvent['message']>;

function messengerAttachmentKind(type: string, payload: { sticker_id?: number | undefined } | null | undefined): InboundMessage['kind'] {
  if (type === 'image') return payload?.sticker_id !== undefined ? 'sticker' : 'image';
  if (type === 'audio' || type === 'video') return type;
  if (type === 'file') return 'document';
  if (type === 'location') return 'location';
  return 'unsupported'; // fallback (shared links), template, product…
}

/** One Messenger `message` event. */
export function normalizeMessengerMessage(message: MessengerMessage, sentAt: number): InboundMessage {
  const base = { externalMessageId: message.mid, sentAt };
  const common = withoutUndefined({ replyTo: message.reply_to?.mid });

  if (message.quick_reply) {
    return { ...base, kind: 'interactive', text: message.text ?? null, content: { ...common, interactiveType: 'quick_reply', payload: message.quick_reply.payload } };
  }

  const attachments = message.attachments ?? [];
  const first = attachments[0];
  if (first) {
    const kind = messengerAttachmentKind(first.type, first.payload);
    const all = attachments.map((a) => withoutUndefined({ type: a.type, url: a.payload?.url, stickerId: a.payload?.sticker_id, title: a.payload?.title }));
    if (kind === 'location' && first.payload?.coordinates) {
      const { lat, long } = first.payload.coordinates;
      return {
        ...base,
        kind,
        text: locationText(lat, long, first.payload.title),
        content: withoutUndefined({ ...common, latitude: lat, longitude: long, name: first.payload.title }),
      };
    }
    return {
      ...base,
      kind: kind === 'location' ? 'unsupported' : kind,
      text: message.text ?? null,
      content: withoutUndefined({ ...common, url: first.payload?.url, stickerId: first.payload?.sticker_id, attachments: all }),
    };
  }

  if (message.text !== undefined) return { ...base, kind: 'text', text: message.text, content: common };
  return { ...base, kind: 'unsupported', text: null, content: common };
}

export function normalizeMessenger(envelope: MessengerEnvelope): NormalizedDelivery {
  const out: NormalizedDelivery = { publicIds: [], inbound: [], statuses: [] };
  if (envelope.object !== 'page') return out;
  const ids = new Set<string>();
  for (const entry of envelope.entry) {
    const publicId = entry.id;
    for (const event of entry.messaging) {
      const userId = event.sender?.id;
      if (!userId) continue; // e.g. a checkbox-plugin optin, known only by user_ref
      const push = (message: InboundMessage) => {
        ids.add(publicId);
        out.inbound.push({ publicId, userId, message });
      };
      if (event.message) {
        // Our own page's messages come back as echoes: not from the end user.
        if (!event.message.is_echo) push(normalizeMessengerMessage(event.message, event.timestamp));
      } else if (event.postback) {
        const { mid, title, payload } = event.postback;
        push({
          externalMessageId: mid ?? `postback:${userId}:${event.timestamp}`,
          sentAt: event.timestamp,
          kind: 'interactive',
          text: title ?? null,
          content: withoutUndefined({ interactiveType: 'postback', payload, title }),
        });
      } else if (event.reaction) {
        const { mid, action, emoji, reaction } = event.reaction;
        push({
          externalMessageId: `reaction:${userId}:${event.timestamp}`,
          sentAt: event.timestamp,
          kind: 'reaction',
          text: null,
          content: withoutUndefined({ emoji: action === 'unreact' ? null : (emoji ?? null), messageId: mid, action, reaction }),
        });
      } else if (event.delivery) {
        ids.add(publicId);
        const { mids, watermark } = event.delivery;
        if (mids && mids.length > 0) {
          for (const externalMessageId of mids) out.statuses.push({ kind: 'message', publicId, externalMessageId, status: 'delivered', at: watermark });
        } else {
          out.statuses.push({ kind: 'watermark', publicId, userId, status: 'delivered', watermark });
        }
      } else if (event.read) {
        ids.add(publicId);
        out.statuses.push({ kind: 'watermark', publicId, userId, status: 'read', watermark: event.read.watermark });
      }
    }
  }
  out.publicIds = [...ids];
  return out;
}

/** Inbound items grouped by (channel, user), groups in first-seen order, messages in delivery order. */
export function groupByUser(items: InboundItem[]): { publicId: string; userId: string; messages: InboundMessage[] }[] {
  const groups = new Map<string, { publicId: string; userId: string; messages: InboundMessage[] }>();
  for (const item of items) {
    const key = JSON.stringify([item.publicId, item.userId]);
    let group = groups.get(key);
    if (!group) {
      group = { publicId: item.publicId, userId: item.userId, messages: [] };
      groups.set(key, group);
    }
    group.messages.push(item.message);
  }
  return [...groups.values()];
}
