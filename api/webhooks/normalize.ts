// A validated delivery (envelopes.ts) turned into what the platform acts on: end-user messages
// as InboundMessage (workflows/types.ts), and delivery statuses of our outbound messages. Every
// entry, change and message is visited, in delivery order. Pure functions: no I/O.
//
// What becomes of each inbound type (the conversation workflow answers what has text; see the
// comments at each branch for what is deliberately left unanswered, and why):
//   WhatsApp  text, interactive (button/list reply), button (template quick reply), image, audio,
//             video, document, sticker, location, contacts → stored, answered
//             order, interactive nfm_reply (a completed Flow) → stored, routed by the tenant's
//             `commerce` setting (workflows/commerce-routing.ts)
//             reaction, system, request_welcome, unsupported (with `errors`) → stored, not answered
//             value-level `errors`, statuses → not messages (logged / applied to our messages)
//   Messenger message, postback (and quick_reply) → stored, answered; reaction, referral, optin →
//             stored, not answered; delivery, read → applied to our messages; echoes → below
// Echoes (WhatsApp `smb_message_echoes`, Messenger `is_echo`) of messages the business sent from
// its own app become BusinessEcho items: stored as the business's messages, they pause the assistant.
import { PLATFORM_SEND_METADATA } from '../../lib/graph-api.ts';
import type { BusinessEcho, InboundMessage } from '../../workflows/types.ts';
import type { MessengerEnvelope, MessengerEvent, WhatsAppEnvelope, WhatsAppMessage, WhatsAppMessagesValue, WhatsAppStatus } from './envelopes.ts';


/** A message the business sent from its own app, and to whom. */
export interface EchoItem {
  publicId: string;
  /** The customer it went to. */
  userId: string;
  echo: BusinessEcho;
}

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
  echoes: EchoItem[];
  /** Meta's value-level `errors` per channel (codes and titles): no conversation's, the API logs them. */
  errors?: { publicId: string; errors: { code?: number | undefined; title?: string | undefined }[] }[];
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

export function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** One WhatsApp message as the assistant and the store see it. */
export function normalizeWhatsAppMessage(m: WhatsAppMessage, profileName?: string): InboundMessage {
  const base = { externalMessageId: m.id, sentAt: m.timestamp * 1000 };
  const common = withoutUndefined({ type: m.type, replyTo: m.context?.id, profileName });
  const unsupported = (): InboundMessage => ({ ...base, kind: 'unsupported', text: null, content: common });

  if (m.type === 'text' && m.text) return { ...base, kind: 'text', text: m.text.body, content: m.referral ? { ...common, referral: m.referral } : common };

  if (m.type === 'order' && m.order) {
    const items = m.order.product_items.map((i) => ({ retailerId: i.product_retailer_id, quantity: i.quantity, price: i.item_price, currency: i.currency }));
    return { ...base, kind: 'order', text: orderText(items, m.order.text), content: withoutUndefined({ ...common, catalogId: m.order.catalog_id, items, note: m.order.text }) };
  }

  if (m.type === 'interactive' && m.interactive?.type === 'nfm_reply' && m.interactive.nfm_reply) {
    const { response_json: responseJson, body, name } = m.interactive.nfm_reply;
    const response = parseObject(responseJson);
    return {
      ...base,
      kind: 'interactive',
      text: flowText(response, name),
      content: withoutUndefined({ ...common, interactiveType: 'nfm_reply', flowName: name, body, response: response ?? responseJson }),
    };
  }

  // Meta's notices, not the customer speaking: a changed number or identity (kept for the
  // inbox), and request_welcome, the first opening of a chat, which carries nothing to answer
  // (the customer's first message is answered like any other).
  if (m.type === 'system' || m.type === 'request_welcome') {
    return {
      ...base,
      kind: 'system',
      text: null,
      content: withoutUndefined({ ...common, systemType: m.type === 'system' ? (m.system?.type ?? 'system') : 'request_welcome', body: m.system?.body, newWaId: m.system?.new_wa_id }),
    };
  }

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

  // `unsupported` (a type the Cloud API cannot hand over, e.g. a poll, with `errors` saying so)
  // and types this code does not know yet: stored with what Meta said, not answered (there is
  // nothing to read; the customer usually follows up in words).
  return m.errors ? { ...unsupported(), content: { ...common, errors: m.errors } } : unsupported();
}

/** One line per item and the total per currency: what the assistant and the inbox read of an order. */
export function orderText(items: { retailerId: string; quantity: number; price: number; currency: string }[], note?: string): string {
  const lines = items.map((i) => `- ${i.quantity} × ${i.retailerId} at ${i.price} ${i.currency}`);
  const totals = new Map<string, number>();
  for (const i of items) totals.set(i.currency, (totals.get(i.currency) ?? 0) + i.quantity * i.price);
  const total = [...totals].map(([currency, sum]) => `${Math.round(sum * 100) / 100} ${currency}`).join(' + ');
  return [`🛒 Order of ${items.length} item${items.length === 1 ? '' : 's'}:`, ...lines, `Total: ${total || '0'}`, ...(note ? [`Note: ${note}`] : [])].join('\n');
}

/** A completed Flow's answers as "field: value" lines (Meta's flow_token left out: it is not the customer's). */
export function flowText(response: Record<string, unknown> | undefined, name?: string): string {
  const fields = Object.entries(response ?? {}).filter(([k]) => k !== 'flow_token');
  const lines = fields.map(([k, v]) => `- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [`📋 Form completed${name && name !== 'flow' ? ` (${name})` : ''}:`, ...(lines.length ? lines : ['(no answers)'])].join('\n');
}

function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
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
  const out: NormalizedDelivery = { publicIds: [], inbound: [], statuses: [], echoes: [] };
  if (envelope.object !== 'whatsapp_business_account') return out;
  const ids = new Set<string>();
  for (const entry of envelope.entry) {
    for (const change of entry.changes) {
      if (change.field === 'smb_message_echoes' && change.value) {
        // Sent from the WhatsApp Business app (coexistence): Cloud API sends are never echoed.
        const publicId = change.value.metadata.phone_number_id;
        for (const e of change.value.message_echoes) {
          ids.add(publicId);
          out.echoes.push({ publicId, userId: e.to, echo: normalizeWhatsAppMessage({ ...e, from: e.from ?? '' }) });
        }
        continue;
      }
      if (change.field !== 'messages' || !change.value) continue;
      const value = change.value as WhatsAppMessagesValue; // `field` names which value it is
      const publicId = value.metadata.phone_number_id;
      const names = new Map((value.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
      for (const m of value.messages ?? []) {
        ids.add(publicId);
        out.inbound.push({ publicId, userId: m.from, message: normalizeWhatsAppMessage(m, names.get(m.from)) });
      }
      if (value.errors?.length) {
        ids.add(publicId);
        (out.errors ??= []).push({ publicId, errors: value.errors.map(({ code, title }) => ({ code, title })) });
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

/** A tapped button or icebreaker (Messenger and Instagram): its title is what the user said. */
export function postbackMessage(userId: string, timestamp: number, postback: { mid?: string | undefined; title?: string | undefined; payload?: string | undefined }): InboundMessage {
  const { mid, title, payload } = postback;
  return {
    externalMessageId: mid ?? `postback:${userId}:${timestamp}`,
    sentAt: timestamp,
    kind: 'interactive',
    text: title ?? null,
    content: withoutUndefined({ interactiveType: 'postback', payload, title }),
  };
}

/** A reaction to one of our messages (Messenger and Instagram): kept, never answered. */
export function reactionMessage(userId: string, timestamp: number, reaction: { mid: string; action: string; emoji?: string | undefined; reaction?: string | undefined }): InboundMessage {
  const { mid, action, emoji } = reaction;
  return {
    externalMessageId: `reaction:${userId}:${timestamp}`,
    sentAt: timestamp,
    kind: 'reaction',
    text: null,
    content: withoutUndefined({ emoji: action === 'unreact' ? null : (emoji ?? null), messageId: mid, action, reaction: reaction.reaction }),
  };
}

export function normalizeMessenger(envelope: MessengerEnvelope): NormalizedDelivery {
  const out: NormalizedDelivery = { publicIds: [], inbound: [], statuses: [], echoes: [] };
  if (envelope.object !== 'page') return out;
  const ids = new Set<string>();
  for (const entry of envelope.entry) {
    const publicId = entry.id;
    for (const event of entry.messaging) {
      if (event.message?.is_echo) {
        // The page's own messages come back as echoes, to the user in `recipient`. The
        // platform's carry its metadata mark; any other was sent by a person from the Page
        // inbox (or another app on the page): the business speaking.
        const userId = event.recipient?.id;
        if (userId && event.message.metadata !== PLATFORM_SEND_METADATA) {
          ids.add(publicId);
          const echo = normalizeMessengerMessage(event.message, event.timestamp);
          const appId = event.message.app_id === undefined ? undefined : String(event.message.app_id);
          out.echoes.push({ publicId, userId, echo: { ...echo, content: withoutUndefined({ ...echo.content, appId }) } });
        }
        continue;
      }
      const userId = event.sender?.id;
      if (!userId) continue; // e.g. a checkbox-plugin optin, known only by user_ref
      const push = (message: InboundMessage) => {
        ids.add(publicId);
        out.inbound.push({ publicId, userId, message });
      };
      if (event.message) {
        push(normalizeMessengerMessage(event.message, event.timestamp));
      } else if (event.postback) {
        push(postbackMessage(userId, event.timestamp, event.postback));
      } else if (event.reaction) {
        push(reactionMessage(userId, event.timestamp, event.reaction));
      } else if (event.referral || event.optin) {
        // The user opened the thread from a link, an ad or a plugin, or opted in: kept for the
        // inbox (the ref says where from), not answered (the user has not said anything yet).
        const event_ = event.referral ? 'referral' : 'optin';
        const detail = event.referral ?? event.optin!;
        push({
          externalMessageId: `${event_}:${userId}:${event.timestamp}`,
          sentAt: event.timestamp,
          kind: 'system',
          text: null,
          content: withoutUndefined({ systemType: event_, ref: detail.ref, source: 'source' in detail ? detail.source : undefined, type: detail.type }),
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
      // Anything else (handover protocol's pass/take_thread_control, policy enforcement, account
      // linking…) is about the page, not a message of the conversation: acknowledged, not stored.
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
