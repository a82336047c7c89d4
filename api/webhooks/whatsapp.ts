// WhatsApp Cloud API webhooks (`object: whatsapp_business_account`): the channel is named by
// `entry[].changes[].value.metadata.phone_number_id`, the end user by the message's `from` (wa_id).
// Meta only needs a 200; the body is ignored. Template status changes name the business account
// instead (template-status.ts).
import { whatsappEnvelopeSchema } from './envelopes.ts';
import type { WebhookProvider } from './meta-webhook.ts';
import { normalizeWhatsApp } from './normalize.ts';
import { applyTemplateStatusChanges, templateStatusChanges } from './template-status.ts';

const delivery = whatsappEnvelopeSchema.transform(normalizeWhatsApp);

export const whatsappProvider: WebhookProvider = {
  type: 'whatsapp',
  read: (json) => delivery.safeParse(json),
  ack: '',
  accountChanges: async (app, { json, raw, digest }) => {
    await applyTemplateStatusChanges(app, raw, digest, templateStatusChanges(json, new Date()));
  },
};
