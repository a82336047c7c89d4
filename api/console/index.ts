// The old agent console's address: the console is now the web app's Inbox (/app/inbox), and
// bookmarks of /console land there. Its files are gone; /console/assets/* answer 404.
import type { FastifyPluginAsync } from 'fastify';

export const INBOX_PATH = '/app/inbox';

const consoleRedirect: FastifyPluginAsync = async (app) => {
  // Under its prefix, '/' answers both /console and /console/.
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(INBOX_PATH, 301));
};

export default consoleRedirect;
