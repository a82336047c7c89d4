// The widget page, `GET /webchat/widget/:widgetId`, and its files under `/webchat/assets/*`
// (api/webchat/public/: no framework, no build step). The app's CSP forbids everything; the page
// gets its own, on these routes only: scripts and styles from this origin (no inline ones), a
// socket to this host, and framing by this origin and the origins the widget allows (it is meant
// to sit in an iframe on the tenant's site, so X-Frame-Options is dropped for it).
import { join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { PROJECT_ROOT } from '../../lib/project-root.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { pageCsp, readPageFiles } from '../static-pages.ts';
import { WIDGET_ID, type WidgetLookup } from './widget-lookup.ts';

const ASSETS = ['widget.js', 'widget.css'];

/** Read once: they are part of the release. */
const files = readPageFiles(join(PROJECT_ROOT, 'api', 'webchat', 'public'), ['widget.html', ...ASSETS]);

/** A Host header fit to be written into a CSP source (host[:port]); anything else gets none. */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export function widgetCsp(host: string | undefined, frameAncestors: Iterable<string>): string {
  const sockets = host && HOST.test(host) ? [`ws://${host}`, `wss://${host}`] : [];
  return pageCsp({ connectSrc: ["'self'", ...sockets], frameAncestors: ["'self'", ...frameAncestors] });
}

export const widgetPage: FastifyPluginAsync<{ lookup: WidgetLookup }> = async (app, { lookup }) => {
  app.get<{ Params: { widgetId: string } }>(
    '/widget/:widgetId',
    {
      // A page for browsers, not part of the API: out of the OpenAPI document, like the console's.
      schema: { hide: true },
      // After the app-wide security headers (helmet's hook runs first): this page's own policy.
      onSend: async (request: FastifyRequest<{ Params: { widgetId: string } }>, reply: FastifyReply, payload) => {
        if (reply.statusCode !== 200) return payload;
        const widget = await lookup.find(request.params.widgetId).catch(() => null);
        reply.header('content-security-policy', widgetCsp(request.headers.host, widget?.allowedOrigins ?? []));
        reply.removeHeader('x-frame-options');
        return payload;
      },
    },
    async (request, reply) => {
      // The page itself is the same for every widget (the script reads the id from the URL);
      // whether the widget exists is the socket's answer (4404), shown by the page.
      if (!WIDGET_ID.test(request.params.widgetId)) throw new HttpError(404, 'not_found', 'No such widget');
      const page = files.get('widget.html')!;
      return reply.type(page.type).header('cache-control', 'no-cache').send(page.body);
    },
  );

  app.get<{ Params: { file: string } }>(
    '/assets/:file',
    { schema: { hide: true } },
    async (request, reply) => {
      const asset = ASSETS.includes(request.params.file) ? files.get(request.params.file) : undefined;
      if (!asset) throw new HttpError(404, 'not_found', 'No such asset');
      return reply.type(asset.type).header('cache-control', 'public, max-age=300').send(asset.body);
    },
  );
};
