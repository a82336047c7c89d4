// Cross-origin requests (@fastify/cors): denied by default. The REST API and every other route
// answer only the operator's CORS_ORIGINS (the tenant web app, a dashboard): a tenant's web chat
// origins are the sites that embed its widget, and they need the web chat routes (/webchat…)
// only, so they are allowed there and nowhere else (a tenant could otherwise make any site it
// names a trusted caller of the whole API for every tenant). Web chat origins are the tenant
// setting webchat.allowedOrigins and the allowedOrigins of web chat channels, loaded from the
// database and cached for a minute. Browsers send the API key as a bearer header, never
// cookies, so credentials stay off.
import cors from '@fastify/cors';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

const CACHE_MS = 60_000;

/** The routes a tenant's web chat origins may call from a browser. */
export function isWebchatRoute(url: string): boolean {
  return url === '/webchat' || url.startsWith('/webchat/') || url.startsWith('/webchat?');
}

export default fp(
  async (app) => {
    let cached: { origins: Set<string>; at: number } | undefined;
    let loading: Promise<Set<string>> | undefined;

    async function load(): Promise<Set<string>> {
      const origins = new Set(app.config.CORS_ORIGINS);
      const [tenants, channels] = await Promise.all([
        app.db.tenant.findMany({ select: { settings: true } }),
        app.db.channel.findMany({ where: { type: 'webchat', status: 'active' }, select: { config: true } }),
      ]);
      for (const { settings } of tenants) {
        const list = (settings as { webchat?: { allowedOrigins?: unknown } } | null)?.webchat?.allowedOrigins;
        if (Array.isArray(list)) for (const o of list) if (typeof o === 'string') origins.add(o);
      }
      for (const { config } of channels) {
        const list = (config as { allowedOrigins?: unknown } | null)?.allowedOrigins;
        if (Array.isArray(list)) for (const o of list) if (typeof o === 'string') origins.add(o);
      }
      cached = { origins, at: Date.now() };
      return origins;
    }

    async function allowed(): Promise<Set<string>> {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.origins;
      loading ??= load().finally(() => {
        loading = undefined;
      });
      return loading;
    }

    const configured = new Set(app.config.CORS_ORIGINS);
    const options = {
      credentials: false,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'if-match', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'etag', 'retry-after'],
      maxAge: 600,
    };
    await app.register(cors, {
      delegator: async (request: FastifyRequest) => {
        const origin = request.headers.origin;
        if (!origin) return { ...options, origin: false };
        if (configured.has(origin)) return { ...options, origin: true };
        if (!isWebchatRoute(request.url)) return { ...options, origin: false };
        const set = await allowed().catch(() => new Set<string>());
        return { ...options, origin: set.has(origin) };
      },
    });
  },
  { name: 'cors' },
);
