// Meta redelivers a webhook it could not hand over for up to 7 days, each time with the message's
// original id and timestamp. The platform allows a day more (queues, clocks) for both things that
// depend on it: the oldest provider timestamp the webhooks believe (api/webhooks/timestamps.ts)
// and how long the dedupe key of an inbound message is kept (activities/maintenance.ts).
export const REDELIVERY_HORIZON_DAYS = 8;
export const REDELIVERY_HORIZON_MS = REDELIVERY_HORIZON_DAYS * 86_400_000;
