// The tenant web app (web/, built by Vite into web/dist by scripts/setup.ts and the Dockerfile):
// GET /app/assets/<file> serves the built scripts and styles, and every other GET under /app
// answers index.html, whose script picks the page from the path (accept-invitation, team, …).
//
// The built files are read once at start-up into a fixed list, so no request path ever reaches
// the file system; an asset name not in it is a 404. Hashed asset names change with their content,
// so they are cached for good, and index.html is always revalidated. The policy is the console's:
// scripts, styles and fetches from this origin only, no inline code, framed by nobody; it may
// frame pages of this origin only (the Channels page previews the web chat widget, whose own
// policy lets this origin frame it).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../plugins/app/errors.ts';
import { PROJECT_ROOT } from '../../lib/project-root.ts';
import { pageCsp, readPageFiles } from '../static-pages.ts';

export const WEB_APP_DIST = join(PROJECT_ROOT, 'web', 'dist');
export const WEB_APP_CSP = pageCsp({ connectSrc: ["'self'"], frameSrc: ["'self'"], frameAncestors: ["'none'"] });

const notBuilt = () => new HttpError(503, 'web_app_not_built', 'The web app is not built: run `npm run setup` (or `npm run web:build`)');

const webAppPlugin: FastifyPluginAsyncZod<{ dist?: string }> = async (app, options) => {
  const dist = options.dist ?? WEB_APP_DIST;
  const built = existsSync(join(dist, 'index.html'));
  if (!built) app.log.warn({ dir: dist }, 'the web app is not built: /app answers 503');
  const assets = built ? readPageFiles(join(dist, 'assets'), readdirSync(join(dist, 'assets'))) : new Map();
  const page = built ? readPageFiles(dist, ['index.html']).get('index.html')! : undefined;

  // Runs after the global security headers hook (root hooks first), so this policy wins here.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', WEB_APP_CSP);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-cache');
    return payload;
  });

  const index = async (_request: unknown, reply: FastifyReply) => {
    if (!page) throw notBuilt();
    return reply.type(page.type).send(page.body);
  };
  app.get('/', { schema: { hide: true } }, index);
  app.get('/*', { schema: { hide: true } }, index);

  app.get(
    '/assets/:file',
    { schema: { hide: true, params: z.object({ file: z.string().max(200) }) } },
    async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) throw new HttpError(404, 'not_found', 'No such web app asset');
      return reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
    },
  );
};

export default webAppPlugin;
