// The web chat protocol's frames (README "Web chat"): JSON text, at most MAX_FRAME_BYTES each.
// Client frames are validated here; server frames are typed so that the socket code cannot send
// a frame the widget does not know.
import { z } from 'zod';

/** Larger frames close the socket with 1009 (ws enforces it through maxPayload). */
export const MAX_FRAME_BYTES = 4096;
export const MAX_TEXT_CHARS = 2000;

export const clientMessageIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 characters of A-Z, a-z, 0-9, "_" and "-"');

export const clientFrameSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('message'),
      clientMessageId: clientMessageIdSchema,
      text: z
        .string()
        .min(1)
        .max(MAX_TEXT_CHARS)
        .refine((t) => t.trim().length > 0, 'must not be blank'),
      /** A tap on one of the choices a message offered: its id; `text` is its title. */
      choiceId: z.string().min(1).max(200).optional(),
    })
    .strict(),
  z.object({ type: z.literal('typing'), state: z.enum(['on', 'off']) }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;

export type Author = 'visitor' | 'assistant' | 'agent';

export interface MessageFrame {
  type: 'message';
  /** The message's id in this protocol: the row id of an outbound message, the external id (derived from clientMessageId) of a visitor's. */
  id: string;
  author: Author;
  text: string;
  at: string;
  cursor: string;
  /** Visitor messages only: the id the widget sent it with. */
  clientMessageId?: string;
  /** Options offered with the message, shown as buttons; a tap sends a message with the choice's id. */
  choices?: { id: string; title: string; description?: string }[];
  /** A file sent with the message: a signed link to it (file-links.ts), an image shown as one. */
  file?: { kind: 'image' | 'document'; filename: string; mimeType: string; url: string };
}

export type ServerFrame =
  /** `token`: a fresh visitor token for the same visitor, when the socket's was more than a day old (keep it instead). */
  | { type: 'ready'; visitorId: string; conversationId: string | null; token?: string }
  | { type: 'accepted'; clientMessageId: string; id: string }
  | MessageFrame
  | { type: 'typing'; author: 'assistant' | 'agent'; state: 'on' | 'off' }
  /**
   * A piece of the assistant's reply as it is generated: `id` is the message id the reply will
   * come with (which replaces the draft), `attempt` the model call's attempt (a new one starts
   * the draft afresh), `seq` the piece's place in it (0 starts it); `text` is appended.
   */
  | { type: 'draft'; id: string; attempt: number; seq: number; text: string }
  /** The draft of `id` is void: remove it (the reply comes later, or under another id). */
  | { type: 'draft_cleared'; id: string }
  | { type: 'pong' }
  | ErrorFrame;

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  /** A message refused for now (`rate_limited`, `unavailable`): its id, to resend it with later. */
  clientMessageId?: string;
  /** `rate_limited`: when the limit's window ends, and which limit it was. */
  retryAfterMs?: number;
  limit?: 'visitor' | 'ip' | 'widget';
}

/** Close codes besides the standard ones (1000 normal, 1001 going away, 1009 too big, 1011 server error). */
export const CLOSE = {
  policyViolation: 1008,
  /** No visitor token, or not a valid one for this widget (a client-chosen visitorId among them): get a new one. */
  invalidToken: 4401,
  originNotAllowed: 4403,
  unknownWidget: 4404,
} as const;
