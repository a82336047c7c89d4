// Instagram messaging webhooks (`object: instagram`): the channel is named by `entry[].id` (the
// Instagram professional account id), the end user by `messaging[].sender.id` (the
// Instagram-scoped id). Verified and signed like Messenger's (the app secret of the Meta app the
// account's page is subscribed with), and acknowledged the same way.
import { instagramEnvelopeSchema, normalizeInstagram } from './instagram-events.ts';
import type { WebhookProvider } from './meta-webhook.ts';

const delivery = instagramEnvelopeSchema.transform(normalizeInstagram);

export const instagramProvider: WebhookProvider = {
  type: 'instagram',
  read: (json) => delivery.safeParse(json),
  ack: 'EVENT_RECEIVED',
};
