// `app.mailer`: the account emails' SMTP transport (lib/mailer.ts), or null without SMTP_URL.
import fp from 'fastify-plugin';
import { createMailer, type Mailer } from '../../../lib/mailer.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer | null;
  }
}

export default fp(
  async (app) => {
    const mailer = createMailer(app.config);
    app.decorate('mailer', mailer);
    app.addHook('onClose', async () => mailer?.close());
  },
  { name: 'mailer' },
);
