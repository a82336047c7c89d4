// Messenger Platform webhooks (`object: page`): the channel is named by `entry[].id` (the page
// id), the end user by `messaging[].sender.id` (page-scoped id). Meta's docs answer
// `EVENT_RECEIVED`, so we do too.
import { messengerEnvelopeSchema } from './envelopes.ts';
import type { WebhookProvider } from './meta-webhook.ts';
import { normalizeMessenger } from './normalize.ts';

const delivery = messengerEnvelopeSchema.transform(normalizeMessenger);

export const messengerProvider: WebhookProvider = {
  type: 'messenger',
  read: (json) => delivery.safeParse(json),
  ack: 'EVENT_RECEIVED',
};
