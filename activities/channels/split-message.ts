// Splits an assistant reply into parts a channel accepts. Meta rejects a text longer than the
// channel's limit (error 100), so a long reply is sent as several messages, cut where a reader
// would expect a break: a paragraph, then a line, then a sentence, then a word, and only for a
// single token longer than the limit, between two graphemes (never inside an emoji or a
// surrogate pair).
//
// The split is a pure function of (text, limit): a retried send recomputes exactly the same parts,
// which is what lets a sender resume at part k without resending parts < k (see sendInParts).
import { ApplicationFailure } from '@temporalio/common';

/** WhatsApp Cloud API: `text.body` is at most 4096 characters. */
export const WHATSAPP_TEXT_LIMIT = 4096;
/** Messenger Send API: `message.text` is at most 2000 characters. */
export const MESSENGER_TEXT_LIMIT = 2000;
/** The Messenger Platform's Instagram API: `message.text` is at most 1000 bytes of UTF-8. */
export const INSTAGRAM_TEXT_LIMIT_BYTES = 1000;

/**
 * A preferred break is taken only if it leaves the part at least this full; otherwise the next,
 * finer kind of break is tried. Without it, a paragraph break 20 characters in would produce a
 * 20-character message followed by a full one.
 */
const MIN_FILL = 0.5;

// Where each kind of break falls, as the index the part ends at (exclusive). Each function sees a
// window of the text that is one character longer than the limit, so that a break right at the
// limit (whitespace at index `limit`) is visible.
type BreakFinder = (window: string) => number[];

const matchStarts = (pattern: RegExp): BreakFinder => (window) => [...window.matchAll(pattern)].map((m) => m.index);

const breakFinders: BreakFinder[] = [
  // Paragraph: before a blank line.
  matchStarts(/\n[^\S\n]*\n/g),
  // Line.
  matchStarts(/\n/g),
  // Sentence: after terminal punctuation (and any closing quote or bracket) followed by whitespace.
  (window) => [...window.matchAll(/[.!?…]+["'”’»)\]]*(?=\s)/g)].map((m) => m.index + m[0].length),
  // Word: before any whitespace.
  matchStarts(/\s/g),
];

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Splits `text` into parts of at most `limit` UTF-16 code units (what Meta counts), in order.
 * Whitespace at the split points and at both ends is trimmed; nothing else is dropped or moved.
 * Whitespace-only text gives no parts.
 */
export function splitMessage(text: string, limit: number): string[] {
  // Two code units is the least that can hold any code point (a surrogate pair).
  if (!Number.isInteger(limit) || limit < 2) throw new RangeError(`limit must be an integer >= 2, got ${limit}`);
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    const end = cutPoint(rest, limit);
    parts.push(rest.slice(0, end).trimEnd());
    rest = rest.slice(end).trimStart();
  }
  if (rest) parts.push(rest);
  return parts;
}

/**
 * Splits `text` into parts of at most `maxBytes` bytes of UTF-8, at the same kinds of breaks as
 * splitMessage: a part of `maxBytes` code units that encodes longer (accents, emoji, CJK take 2–4
 * bytes) is split again with a limit scaled by how much it overshot, so a plain-ASCII reply
 * still goes in parts as long as the channel allows. Deterministic, like splitMessage.
 */
export function splitMessageUtf8(text: string, maxBytes: number): string[] {
  // splitMessage's least limit is 2 code units, which take at most 6 bytes: from 6 every part fits.
  if (!Number.isInteger(maxBytes) || maxBytes < 6) throw new RangeError(`maxBytes must be an integer >= 6, got ${maxBytes}`);
  const fit = (part: string): string[] => {
    const bytes = Buffer.byteLength(part, 'utf8');
    if (bytes <= maxBytes) return [part];
    // Fewer code units than the part has (bytes > maxBytes), so each round shortens the parts.
    return splitMessage(part, Math.max(2, Math.floor((part.length * maxBytes) / bytes))).flatMap(fit);
  };
  return splitMessage(text, maxBytes).flatMap(fit);
}

/**
 * Where to end the next part of `rest` (which starts with non-whitespace and is longer than
 * `limit`): a number in [1, limit], so every part is non-empty and the loop always advances.
 */
function cutPoint(rest: string, limit: number): number {
  const window = rest.slice(0, limit + 1);
  const minEnd = Math.ceil(limit * MIN_FILL);
  for (const find of breakFinders) {
    const best = find(window).reduce((max, end) => (end <= limit && end > max ? end : max), 0);
    if (best >= minEnd) return best;
  }
  return hardCut(rest, limit);
}

/** The last grapheme boundary at or before `limit`; a code-point boundary if one grapheme is longer. */
function hardCut(rest: string, limit: number): number {
  // Segmenting a little past the limit is enough: whether there is a grapheme boundary at an index
  // depends only on the characters around it, and we only look at boundaries up to `limit`.
  let end = 0;
  for (const { index } of graphemes.segment(rest.slice(0, limit + 8))) {
    if (index > limit) break;
    end = index;
  }
  if (end > 0) return end;
  // A single grapheme longer than the limit (e.g. a letter with hundreds of combining marks):
  // cut it, but never between the two halves of a surrogate pair.
  const code = rest.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
}

/** Failure type for a send that can never succeed as asked (empty text, a resume point past the end). */
export const INVALID_SEND_REQUEST = 'InvalidSendRequest';

export interface SendTextOptions {
  /**
   * Parts 0..startAtPart-1 were delivered by an earlier attempt: send only the rest. Pass the
   * `failedPartIndex` of the previous failure (or the count of parts already reported sent).
   */
  startAtPart?: number;
  /** Called after each part is accepted, before the next is sent: e.g. to heartbeat progress. */
  onPartSent?: (sent: PartSent) => void | Promise<void>;
  /** Aborts the current call from outside, e.g. the activity's cancellation signal. */
  signal?: AbortSignal;
}

export interface PartSent {
  partIndex: number;
  partCount: number;
  messageId: string;
}

export interface SendTextResult {
  /** Provider ids of the parts sent by this call (parts startAtPart..partCount-1), in order. */
  messageIds: string[];
  partCount: number;
}

/**
 * Merged into `details[0]` of a failure thrown while sending a split message, next to the Graph
 * error (code, subcode, message, fbtraceId): what this call had already delivered.
 */
export interface PartialSendDetails {
  /** Ids of parts startAtPart..failedPartIndex-1, delivered by this call before the failure. */
  sentMessageIds: string[];
  /** The part that failed: pass it as `startAtPart` to resume. */
  failedPartIndex: number;
  partCount: number;
}

/**
 * Sends `parts` in order from `startAtPart`, one request each, waiting for each to be accepted
 * before the next (Meta keeps the order of accepted messages, not of concurrent requests).
 *
 * Why a retried send never delivers a part twice: the Graph API has no idempotency key, so the
 * only way to not resend a part is to know it was accepted. Each part's id is known the moment
 * its request succeeds; a failure on part k carries `failedPartIndex: k` and the ids of the parts
 * before it, and `onPartSent` reports each accepted part as it happens. The caller turns either
 * into `startAtPart` for the next attempt:
 * - within Temporal's retries of one activity: the activity heartbeats `{ nextPart }` from
 *   `onPartSent` and starts each attempt at `Context.current().info.heartbeatDetails?.nextPart`
 *   (the SDK flushes the last heartbeat when an attempt fails, so the next attempt sees it);
 * - across activities (after a non-retryable failure or exhausted retries): the workflow passes
 *   the failure's `failedPartIndex`.
 * Because splitting is deterministic, part k of the retry is the same text as part k of the first
 * attempt, so resuming at k sends exactly the parts that were not accepted. What is left is a
 * request whose response never arrived (timeout, reset, worker crash before the heartbeat was
 * recorded) after Meta accepted it: that one part may arrive twice, which no client of an API
 * without idempotency keys can rule out.
 */
export async function sendInParts(
  parts: string[],
  options: SendTextOptions,
  sendPart: (text: string, progress: PartialSendDetails) => Promise<string>,
): Promise<SendTextResult> {
  const partCount = parts.length;
  const startAtPart = options.startAtPart ?? 0;
  if (partCount === 0) throw ApplicationFailure.nonRetryable('refusing to send an empty message', INVALID_SEND_REQUEST);
  if (!Number.isInteger(startAtPart) || startAtPart < 0 || startAtPart > partCount) {
    // Past the end means the text changed between attempts: resuming would skip the wrong parts.
    throw ApplicationFailure.nonRetryable(`startAtPart ${startAtPart} is outside 0..${partCount}`, INVALID_SEND_REQUEST);
  }
  const messageIds: string[] = [];
  for (let partIndex = startAtPart; partIndex < partCount; partIndex++) {
    const messageId = await sendPart(parts[partIndex]!, { sentMessageIds: [...messageIds], failedPartIndex: partIndex, partCount });
    messageIds.push(messageId);
    await options.onPartSent?.({ partIndex, partCount, messageId });
  }
  return { messageIds, partCount };
}
