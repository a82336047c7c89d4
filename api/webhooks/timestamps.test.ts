// The window of provider timestamps the webhooks believe, at its edges.
import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../workflows/types.ts';
import { SENT_AT_MAX_AGE_MS, SENT_AT_MAX_AHEAD_MS, withAcceptedSentAt, withAcceptedTimestamps } from './timestamps.ts';

const NOW = Date.UTC(2027, 0, 31, 23, 59);
const message = (sentAt: number): InboundMessage => ({ externalMessageId: 'wamid.1', sentAt, kind: 'text', text: 'hi', content: { type: 'text' } });

describe('withAcceptedSentAt', () => {
  it('keeps a timestamp from 8 days ago up to 5 minutes ahead, as given', () => {
    for (const sentAt of [NOW - SENT_AT_MAX_AGE_MS, NOW - 7 * 86_400_000, NOW, NOW + SENT_AT_MAX_AHEAD_MS]) {
      expect(withAcceptedSentAt(message(sentAt), NOW)).toEqual(message(sentAt));
    }
  });

  it('replaces one outside the window by the receive time, keeping the given one in content', () => {
    for (const sentAt of [NOW - SENT_AT_MAX_AGE_MS - 1, NOW + SENT_AT_MAX_AHEAD_MS + 1, Date.UTC(2090, 0, 1), Date.UTC(1990, 0, 1), 0]) {
      expect(withAcceptedSentAt(message(sentAt), NOW)).toEqual({ ...message(NOW), content: { type: 'text', providerSentAt: sentAt } });
    }
    expect(withAcceptedSentAt(message(Number.POSITIVE_INFINITY), NOW)).toEqual({ ...message(NOW), content: { type: 'text', providerSentAt: null } });
  });

  it('applies to every inbound message of a delivery and leaves statuses alone', () => {
    const status = { kind: 'message' as const, publicId: 'p', externalMessageId: 'wamid.0', status: 'read' as const, at: 0 };
    const out = withAcceptedTimestamps({ publicIds: ['p'], inbound: [{ publicId: 'p', userId: 'u', message: message(0) }], statuses: [status], echoes: [] }, NOW);
    expect(out.inbound[0]?.message.sentAt).toBe(NOW);
    expect(out.statuses).toEqual([status]);
  });
});
