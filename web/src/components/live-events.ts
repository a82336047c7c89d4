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
