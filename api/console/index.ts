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
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../plugins/app/errors.ts';

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');

const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

const consolePlugin: FastifyPluginAsyncZod = async (app) => {
  const page = await readFile(join(DIR, 'console.html'));
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(ASSETS)) assets.set(name, { body: await readFile(join(DIR, name)), type });

  // Runs after the global security headers hook (root hooks first), so this policy wins here.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    // Always revalidated: a new deployment's script must not meet an old cached page.
    reply.header('cache-control', 'no-cache');
    return payload;
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));

  app.get(
    '/assets/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(100) }) } },
    async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) throw new HttpError(404, 'not_found', 'No such console asset');
      return reply.type(asset.type).send(asset.body);
    },
  );
};

export default consolePlugin;
