// The agent console: one static page (GET /console) and its script and stylesheet
// (GET /console/assets/*). An agent signs in with an API key (scope `agent` or `tenant`, kept in
// the tab's sessionStorage only) and the page uses the REST routes under /api/v1/conversations
// with a bearer header; the server side here only serves files.
//
// The files are read once at start-up and served from a fixed list, so no request path ever
// reaches the file system. The API's Content-Security-Policy forbids everything (it answers
// JSON); these routes get their own policy: scripts, styles and fetches from this origin only,
// no inline code, no form submission (forms are handled by the script, so a key can never end
// up in a URL).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../plugins/app/errors.ts';
import { pageCsp, readPageFiles } from '../static-pages.ts';

export const CONSOLE_CSP = pageCsp({ connectSrc: ["'self'"], frameAncestors: ["'none'"] });

const ASSETS = ['console.js', 'console.css'];

const consolePlugin: FastifyPluginAsyncZod = async (app) => {
  const files = readPageFiles(join(dirname(fileURLToPath(import.meta.url)), 'static'), ['console.html', ...ASSETS]);
  const page = files.get('console.html')!;

  // Runs after the global security headers hook (root hooks first), so this policy wins here.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    // Always revalidated: a new deployment's script must not meet an old cached page.
    reply.header('cache-control', 'no-cache');
    return payload;
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type(page.type).send(page.body));

  app.get(
    '/assets/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(100) }) } },
    async (request, reply) => {
      const asset = ASSETS.includes(request.params.file) ? files.get(request.params.file) : undefined;
      if (!asset) throw new HttpError(404, 'not_found', 'No such console asset');
      return reply.type(asset.type).send(asset.body);
    },
  );
};

export default consolePlugin;
