// Idempotency-Key for the routes that act through a workflow update (agent messages, take,
// release): the key names the Temporal update, and Temporal runs one update per id in a run, so a
// client's retry with the same key joins the first request's update instead of acting twice.
//
//   (conversation id, key) ──▶ update id `<action>:<conversation id>:<key>`
//   update id ──sha256──▶ message id (a UUID, version nibble 5): the agent message's row id,
//                         known to the API before the workflow answers
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';

/** 1–200 visible ASCII characters (no spaces, no control characters). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(IDEMPOTENCY_KEY, 'must be 1 to 200 visible ASCII characters')
    .optional()
    .describe(
      'Your id for this request (1–200 visible ASCII characters, e.g. a UUID). A retry with the same key on the same ' +
        'conversation joins the first request instead of acting again, and answers what it answered.',
    ),
});

export type ConversationAction = 'agent-message' | 'take' | 'release';

/** The update id of an action on a conversation, from the client's key. */
export function conversationUpdateId(action: ConversationAction, conversationId: string, key: string): string {
  return `${action}:${conversationId}:${key}`;
}

/** A key for a request that brought none: random, so such a request is never deduplicated. */
export function freshIdempotencyKey(): string {
  return randomUUID();
}

/** The agent message's id, derived from its update id: a UUID (RFC 9562 layout, version 5 bits) from SHA-256. */
export function messageIdOfUpdate(updateId: string): string {
  const bytes = createHash('sha256').update(`meta-chat:agent-message:${updateId}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
