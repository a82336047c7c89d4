// The tenant's live conversation events (GET /api/v1/conversations/events, server-sent events,
// with the session cookie). The browser's EventSource reconnects by itself; the server sends
// `ready` on every (re)connect, after which the page refetches what it shows, so nothing that
// happened while the stream was down is missed.
import { useEffect, useRef } from 'react';

export interface ConversationEvent {
  kind: 'ready' | 'message' | 'conversation';
  conversationId?: string;
}

export function useConversationEvents(onEvent: (event: ConversationEvent) => void): void {
  // The latest handler, without reopening the stream whenever it changes.
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const source = new EventSource('/api/v1/conversations/events', { withCredentials: true });
    const listen = (kind: ConversationEvent['kind']) =>
      source.addEventListener(kind, (e) => {
        const data = JSON.parse((e as MessageEvent<string>).data) as { conversationId?: string };
        handler.current({ kind, ...(data.conversationId && { conversationId: data.conversationId }) });
      });
    listen('ready');
    listen('message');
    listen('conversation');
    return () => source.close();
  }, []);
}

/**
 * `run`, at most once per `intervalMs`: calls while it waits (or runs) fold into one more run at
 * the end. A busy tenant sends many events a second; the page refetches once for all of them,
 * within the API's per-caller rate limit.
 */
export function useCoalesced(run: () => Promise<void>, intervalMs = 1_000): () => void {
  const latest = useRef(run);
  latest.current = run;
  const state = useRef<{ timer?: ReturnType<typeof setTimeout>; last: number; pending: boolean }>({ last: 0, pending: false });
  useEffect(() => () => clearTimeout(state.current.timer), []);
  const fire = useRef(() => {
    const s = state.current;
    if (s.timer) {
      s.pending = true;
      return;
    }
    const wait = Math.max(0, s.last + intervalMs - Date.now());
    s.timer = setTimeout(() => {
      s.last = Date.now();
      s.pending = false;
      void latest.current().finally(() => {
        s.timer = undefined;
        if (s.pending) fire.current();
      });
    }, wait);
  });
  return fire.current;
}
