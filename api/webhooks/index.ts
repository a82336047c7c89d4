// Meta webhooks: `GET|POST /webhooks/whatsapp`, `/webhooks/messenger` and `/webhooks/instagram`
// (meta-webhook.ts).
// No tenant in the URL and no API key: the tenant is found from the channel the payload names,
// and the delivery is proven by its signature over the raw body. So, in this scope only, JSON
// bodies are kept as the Buffer received (the signature is over those exact bytes) and parsed
// by the route itself. Stripe's deliveries (`POST /webhooks/stripe`, stripe.ts) are signed over
// the raw body too.
import type { FastifyPluginAsync } from 'fastify';
import { ChannelLookup } from './channel-lookup.ts';
import { instagramProvider } from './instagram.ts';
import { messengerProvider } from './messenger.ts';
import { metaWebhookRoutes } from './meta-webhook.ts';
import { stripeWebhookRoutes } from './stripe.ts';
import { whatsappProvider } from './whatsapp.ts';

export { invalidateChannelLookups } from './channel-lookup.ts';

const webhooks: FastifyPluginAsync = async (app) => {
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const lookup = new ChannelLookup(app.db, app.config.SECRETS_KEYS);
  app.addHook('onClose', async () => lookup.dispose());

  await app.register(metaWebhookRoutes, { prefix: '/whatsapp', provider: whatsappProvider, lookup });
  await app.register(metaWebhookRoutes, { prefix: '/messenger', provider: messengerProvider, lookup });
  await app.register(metaWebhookRoutes, { prefix: '/instagram', provider: instagramProvider, lookup });
  await app.register(stripeWebhookRoutes, { prefix: '/stripe' });
};

export default webhooks;
