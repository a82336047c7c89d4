// The web chat channel, under `/webchat` (README "Web chat"): new visitors' tokens (visitors.ts,
// visitor-token.ts), the visitor's socket (socket.ts) and its limits (limits.ts), the sockets this
// instance holds (hub.ts), the bus that brings replies from the workers (lib/webchat-bus.ts: one
// LISTEN connection, started with the app, closed with it), the files sent to visitors
// (file-links.ts), and the widget page (page.ts).
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { WebchatListener } from '../../lib/webchat-bus.ts';
import { MAX_FRAME_BYTES } from './frames.ts';
import { WebchatHub } from './hub.ts';
import { FileLinks, fileRoutes } from './file-links.ts';
import { createWebchatLimits } from './limits.ts';
import { widgetPage } from './page.ts';
import { acceptVisitorSocket } from './socket.ts';
import { VisitorTokens } from './visitor-token.ts';
import { visitorRoutes } from './visitors.ts';
import { WidgetLookup } from './widget-lookup.ts';

/** Every socket is pinged this often; one that has not answered the previous ping is dropped. */
export const KEEPALIVE_MS = 30_000;

const webchat: FastifyPluginAsync = async (app) => {
  // On shutdown every socket hears that the server is going away (1001), so the widget reconnects
  // at once, to another instance. Added before the plugin, so this runs before its own preClose
  // (which closes with no code and stops upgrades).
  app.addHook('preClose', async () => {
    for (const client of app.websocketServer.clients) client.close(1001, 'server shutting down');
  });
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });

  const log = app.log.child({ component: 'webchat' });
  const lookup = new WidgetLookup(app.db);
  const tokens = new VisitorTokens(app.config.SECRETS_KEYS);
  const limits = createWebchatLimits(app);
  app.decorateRequest('webchatVisitor', null);
  const links = new FileLinks(app.config.SECRETS_KEYS);
  const hub = new WebchatHub(app.db, log, links);
  const listener = new WebchatListener({
    connectionString: app.config.DATABASE_URL,
    logger: log,
    connectTimeoutMs: app.config.DATABASE_CONNECT_TIMEOUT_MS,
    onEvent: (event) => hub.dispatch(event),
    // Events published while the connection was down are lost: the sockets replay instead.
    onResubscribed: () => hub.resync(),
  });

  let keepalive: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    // The first attempt is awaited so that a started API is listening; if Postgres is not there
    // yet, the listener keeps retrying in the background and the API starts anyway.
    await listener.start();
    keepalive = setInterval(() => hub.heartbeat(), KEEPALIVE_MS);
    keepalive.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(keepalive);
    await listener.close();
  });

  app.get(
    '/',
    { websocket: true, schema: { tags: ['webchat'], summary: 'The web chat socket: ?widgetId=&token=[&after=cursor] (token from POST /webchat/visitors)' } },
    (socket, request) => acceptVisitorSocket({ db: app.db, temporal: app.temporal, config: app.config, hub, lookup, tokens, limits, links }, socket, request),
  );
  await app.register(fileRoutes, { links });
  await app.register(visitorRoutes, { lookup, tokens, limits });
  await app.register(widgetPage, { lookup });
};

export default webchat;
