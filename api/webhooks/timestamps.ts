// The provider's timestamp of an inbound message, as far as the platform believes it. A tenant signs
// its own deliveries with its own app secret, so every field of a delivery is the tenant's to
// choose, the timestamp included: the platform accepts one only within a window of its own clock
// and otherwise keeps the message with the receive time instead. The timestamp orders a burst
// and starts Meta's 24-hour service window (workflows/); it never decides where a message is
// stored (created_at is the store step's clock, activities/store.ts).
import { REDELIVERY_HORIZON_MS } from '../../lib/redelivery.ts';
import type { InboundMessage } from '../../workflows/types.ts';
import type { NormalizedDelivery } from './normalize.ts';

/** The oldest timestamp accepted: what a redelivery of Meta's may carry (lib/redelivery.ts). */
export const SENT_AT_MAX_AGE_MS = REDELIVERY_HORIZON_MS;

/** The furthest ahead of the platform's clock a timestamp may be (clock skew). */
export const SENT_AT_MAX_AHEAD_MS = 5 * 60_000;

/**
 * The message with its timestamp kept when it lies within [receivedAt − 8 days, receivedAt + 5
 * minutes], else with the receive time as sentAt and the provider's value, as given, in
 * `content.providerSentAt` (so the tenant can see what was replaced).
 */
export function withAcceptedSentAt<M extends Pick<InboundMessage, 'sentAt' | 'content'>>(message: M, receivedAt: number): M {
  const { sentAt } = message;
  if (Number.isFinite(sentAt) && sentAt >= receivedAt - SENT_AT_MAX_AGE_MS && sentAt <= receivedAt + SENT_AT_MAX_AHEAD_MS) return message;
  return { ...message, sentAt: receivedAt, content: { ...message.content, providerSentAt: Number.isFinite(sentAt) ? sentAt : null } };
}

/** The delivery with every inbound message's and echo's timestamp accepted or replaced (withAcceptedSentAt). */
export function withAcceptedTimestamps(delivery: NormalizedDelivery, receivedAt: number): NormalizedDelivery {
  return {
    ...delivery,
    inbound: delivery.inbound.map((item) => ({ ...item, message: withAcceptedSentAt(item.message, receivedAt) })),
    echoes: delivery.echoes.map((item) => ({ ...item, echo: withAcceptedSentAt(item.echo, receivedAt) })),
  };
}
