// Cookies (@fastify/cookie): parses the session cookie of signed-in users and sets it. Nothing is
// signed with a cookie secret: the session cookie holds a random token that is only good while
// its hash is in user_sessions (api/plugins/app/sessions.ts).
import cookie from '@fastify/cookie';
import fp from 'fastify-plugin';

export default fp(
  async (app) => {
    await app.register(cookie);
  },
  { name: 'cookie' },
);
