// The web chat's draft of an assistant reply while the model generates it (README "Web chat",
// "Streamed answers"): the pieces a streaming provider hands over are coalesced — the first at
// once, then at most one event per DRAFT_FLUSH_MS, or sooner once DRAFT_FLUSH_CHARS are waiting
// — and published on the web chat bus one after the other, so NOTIFY traffic stays bounded and
// the pieces arrive in order. A best-effort side channel: a piece that cannot be published ends
// the draft (the stored reply still comes, through the normal path), and nothing here ever fails
// the model call.
import { DRAFT_PIECE_MAX_CHARS, type WebchatEvent } from '../../lib/webchat-bus.ts';

export const DRAFT_FLUSH_MS = 100;
/** Waiting text this long goes out without waiting for the interval. */
export const DRAFT_FLUSH_CHARS = 400;

export interface DraftTarget {
  tenantId: string;
  channelId: string;
  visitorId: string;
  /** The id the reply will be stored and sent under. */
  messageId: string;
  /** The model call's attempt: a retry's draft starts afresh. */
  attempt: number;
}

export interface WebchatDraft {
  /** A piece of the answer's text (leading whitespace of the answer is dropped, as the reply's is). */
  text(piece: string): void;
  /** What was shown is void (a tool round began, or the attempt failed): the visitor's draft is removed. */
  clear(): void;
  /** Stops, dropping text not yet published, and waits for what was: the reply itself goes after it. */
  close(): Promise<void>;
}

export function createWebchatDraft(
  target: DraftTarget,
  publish: (event: WebchatEvent) => Promise<void>,
  onError: (err: unknown) => void,
): WebchatDraft {
  const { tenantId, channelId, visitorId, messageId, attempt } = target;
  let pending = '';
  let seq = 0;
  let started = false;
  let closed = false;
  let lastFlush = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const enqueue = (event: WebchatEvent) => {
    chain = chain.then(() => (closed && event.kind === 'draft' ? undefined : publish(event))).catch((err: unknown) => {
      closed = true;
      onError(err);
    });
  };

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (closed || !pending) return;
    lastFlush = Date.now();
    for (const piece of pieces(pending)) enqueue({ kind: 'draft', tenantId, channelId, visitorId, messageId, attempt, seq: seq++, text: piece });
    pending = '';
  }

  return {
    text(piece) {
      if (closed) return;
      if (!started) {
        piece = piece.trimStart();
        if (!piece) return;
        started = true;
      }
      pending += piece;
      const since = Date.now() - lastFlush;
      if (pending.length >= DRAFT_FLUSH_CHARS || since >= DRAFT_FLUSH_MS) flush();
      else timer ??= setTimeout(flush, DRAFT_FLUSH_MS - since);
    },
    clear() {
      if (closed) return;
      clearTimeout(timer);
      pending = '';
      const shown = seq > 0;
      closed = true;
      if (shown) chain = chain.then(() => publish({ kind: 'draft_cleared', tenantId, channelId, visitorId, messageId })).catch(onError);
    },
    async close() {
      clearTimeout(timer);
      closed = true;
      pending = '';
      await chain;
    },
  };
}

/** The text in pieces of at most DRAFT_PIECE_MAX_CHARS, never splitting a surrogate pair. */
function pieces(text: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + DRAFT_PIECE_MAX_CHARS);
    if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}
