// The webhook payloads Meta sends, as zod schemas. Every object is loose: Meta adds fields over
// time and we must not reject a delivery for a field we do not read. Only what we read is
// checked; a delivery whose read parts are malformed is a 400 (Meta's docs are the reference:
// WhatsApp Cloud API "Webhooks → messages", Messenger Platform "Webhook events").
//
// Changes of fields other than WhatsApp's `messages` and `smb_message_echoes` (template status,
// account updates…) and Messenger events other than message/postback/reaction/delivery/read/
// referral/optin (handover, policy enforcement…) are accepted and ignored, so their shapes are not
// checked either.
import { z } from 'zod';

/** Unix time in seconds; Meta sends a string of digits (a number is accepted too). */
const unixSeconds = z.union([z.string().regex(/^\d{1,12}$/, 'must be unix seconds'), z.number().int().nonnegative()]).transform(Number);
/** Ids become workflow ids and database keys: no control characters (Meta's never have any). */
const id = z.string().min(1).max(512).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
/** A quantity or price: Meta sends numbers, and numeric strings in some payloads. */
const numeric = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a number')]).transform(Number);

// ---- WhatsApp Cloud API -------------------------------------------------------------------

const whatsappMedia = z.looseObject({
  id,
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional(),
});

export const whatsappMessageSchema = z.looseObject({
  from: id,
  id,
  timestamp: unixSeconds,
  type: z.string().min(1),
  context: z.looseObject({ id: z.string().optional(), from: z.string().optional() }).optional(),
  text: z.looseObject({ body: z.string() }).optional(),
  interactive: z
    .looseObject({
      type: z.string(),
      button_reply: z.looseObject({ id: z.string(), title: z.string() }).optional(),
      list_reply: z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() }).optional(),
      /** A completed WhatsApp Flow: `response_json` is the flow's answers as a JSON string. */
      nfm_reply: z.looseObject({ response_json: z.string(), body: z.string().optional(), name: z.string().optional() }).optional(),
    })
    .optional(),
  /** A cart sent from the business's catalog. */
  order: z
    .looseObject({
      catalog_id: z.string(),
      text: z.string().optional(),
      product_items: z.array(
        z.looseObject({
          product_retailer_id: z.string(),
          quantity: numeric,
          item_price: numeric,
          currency: z.string(),
        }),
      ).default([]),
    })
    .optional(),
  /** The customer changed their number (or their identity key). */
  system: z.looseObject({ body: z.string().optional(), type: z.string().optional(), new_wa_id: z.string().optional(), wa_id: z.string().optional() }).optional(),
  /** Why Meta could not hand over the message (with `type: "unsupported"`). */
  errors: z.array(z.looseObject({ code: z.number().optional(), title: z.string().optional(), message: z.string().optional() })).optional(),
  /** A click-to-WhatsApp ad the conversation started from. */
  referral: z.looseObject({ source_url: z.string().optional(), source_id: z.string().optional(), source_type: z.string().optional(), headline: z.string().optional() }).optional(),
  button: z.looseObject({ text: z.string(), payload: z.string().optional() }).optional(),
  image: whatsappMedia.optional(),
  audio: whatsappMedia.optional(),
  video: whatsappMedia.optional(),
  document: whatsappMedia.optional(),
  sticker: whatsappMedia.optional(),
  location: z
    .looseObject({
      latitude: z.number(),
      longitude: z.number(),
      name: z.string().optional(),
      address: z.string().optional(),
      url: z.string().optional(),
    })
    .optional(),
  reaction: z.looseObject({ message_id: z.string(), emoji: z.string().optional() }).optional(),
  contacts: z.array(z.looseObject({})).optional(),
});
export type WhatsAppMessage = z.infer<typeof whatsappMessageSchema>;

export const whatsappStatusSchema = z.looseObject({
  id,
  status: z.string().min(1),
  timestamp: unixSeconds,
  recipient_id: z.string().optional(),
  errors: z
    .array(
      z.looseObject({
        code: z.number().optional(),
        title: z.string().optional(),
        message: z.string().optional(),
        error_data: z.looseObject({ details: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});
export type WhatsAppStatus = z.infer<typeof whatsappStatusSchema>;

export const whatsappMessagesValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ phone_number_id: id, display_phone_number: z.string().optional() }),
  contacts: z.array(z.looseObject({ wa_id: z.string().optional(), profile: z.looseObject({ name: z.string().optional() }).optional() })).optional(),
  messages: z.array(whatsappMessageSchema).optional(),
  statuses: z.array(whatsappStatusSchema).optional(),
  /** Problems Meta reports for the number itself (not about a message): logged. */
  errors: z.array(z.looseObject({ code: z.number().optional(), title: z.string().optional() })).optional(),
});
export type WhatsAppMessagesValue = z.infer<typeof whatsappMessagesValueSchema>;

/**
 * `smb_message_echoes` (WhatsApp coexistence): messages the business sent from the WhatsApp
 * Business app on a number also connected to the Cloud API; `to` is the customer.
 */
export const whatsappEchoesValueSchema = z.looseObject({
  metadata: z.looseObject({ phone_number_id: id }),
  message_echoes: z.array(whatsappMessageSchema.omit({ from: true }).extend({ from: z.string().optional(), to: id })).default([]),
});
export type WhatsAppEchoesValue = z.infer<typeof whatsappEchoesValueSchema>;

type WhatsAppChange =
  | { field: 'messages'; value: WhatsAppMessagesValue }
  | { field: 'smb_message_echoes'; value: WhatsAppEchoesValue }
  | { field: string; value: undefined };

/** A change: `messages` and `smb_message_echoes` changes are checked; any other field passes through unread. */
const whatsappChange = z.looseObject({ field: z.string(), value: z.unknown() }).transform((change, ctx): WhatsAppChange => {
  const schema = change.field === 'messages' ? whatsappMessagesValueSchema : change.field === 'smb_message_echoes' ? whatsappEchoesValueSchema : undefined;
  if (!schema) return { field: change.field, value: undefined };
  const parsed = schema.safeParse(change.value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: ['value', ...issue.path] });
    return z.NEVER;
  }
  return { field: change.field, value: parsed.data } as WhatsAppChange;
});

export const whatsappEnvelopeSchema = z.looseObject({
  object: z.string(),
  entry: z.array(z.looseObject({ id: z.string().optional(), changes: z.array(whatsappChange).default([]) })),
});
export type WhatsAppEnvelope = z.infer<typeof whatsappEnvelopeSchema>;

// ---- Messenger Platform -------------------------------------------------------------------

const messengerAttachment = z.looseObject({
  type: z.string(),
  payload: z
    .looseObject({
      url: z.string().optional(),
      sticker_id: z.number().optional(),
      title: z.string().optional(),
      coordinates: z.looseObject({ lat: z.number(), long: z.number() }).optional(),
    })
    .nullable()
    .optional(),
});

export const messengerEventSchema = z.looseObject({
  sender: z.looseObject({ id: id.optional() }).optional(),
  recipient: z.looseObject({ id: z.string().optional() }).optional(),
  /** Milliseconds. */
  timestamp: z.number().int().nonnegative(),
  message: z
    .looseObject({
      mid: id,
      text: z.string().optional(),
      is_echo: z.boolean().optional(),
      /** On echoes: the app that sent the message (absent or Meta's own for the Page inbox). */
      app_id: z.union([z.number(), z.string()]).optional(),
      /** On echoes: the `metadata` the sender attached (the platform marks its own sends). */
      metadata: z.string().optional(),
      quick_reply: z.looseObject({ payload: z.string() }).optional(),
      reply_to: z.looseObject({ mid: z.string().optional() }).optional(),
      attachments: z.array(messengerAttachment).optional(),
    })
    .optional(),
  postback: z.looseObject({ mid: z.string().optional(), title: z.string().optional(), payload: z.string().optional() }).optional(),
  /** The user came through an m.me link, an ad or a QR code (`ref` is the link's parameter). */
  referral: z.looseObject({ ref: z.string().optional(), source: z.string().optional(), type: z.string().optional() }).optional(),
  /** A plugin or a notification-messages opt-in. */
  optin: z.looseObject({ ref: z.string().optional(), type: z.string().optional(), payload: z.string().optional() }).optional(),
  reaction: z.looseObject({ mid: z.string(), action: z.string(), emoji: z.string().optional(), reaction: z.string().optional() }).optional(),
  delivery: z.looseObject({ mids: z.array(z.string()).optional(), watermark: z.number() }).optional(),
  read: z.looseObject({ watermark: z.number() }).optional(),
});
export type MessengerEvent = z.infer<typeof messengerEventSchema>;

export const messengerEnvelopeSchema = z.looseObject({
  object: z.string(),
  entry: z.array(z.looseObject({ id, time: z.number().optional(), messaging: z.array(messengerEventSchema).default([]) })),
});
export type MessengerEnvelope = z.infer<typeof messengerEnvelopeSchema>;
