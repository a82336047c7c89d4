// WhatsApp Cloud API webhooks (`object: whatsapp_business_account`): the channel is named by
// `entry[].changes[].value.metadata.phone_number_id`, the end user by the message's `from` (wa_id).
// Meta only needs a 200; the body is ignored.
import { whatsappEnvelopeSchema } from './envelopes.ts';
import type { WebhookProvider } from './meta-webhook.ts';
import { normalizeWhatsApp } from './normalize.ts';

const delivery = whatsappEnvelopeSchema.transform(normalizeWhatsApp);

export const whatsappProvider: WebhookProvider = {
  type: 'whatsapp',
  read: (json) => delivery.safeParse(json),
  ack: '',
};
