// Cross-origin requests (@fastify/cors): denied by default. Allowed origins are CORS_ORIGINS plus
// every tenant's web chat origins (tenant setting webchat.allowedOrigins and the allowedOrigins
// of web chat channels), loaded from the database and cached for a minute. Browsers send the
// API key as a bearer header, never cookies, so credentials stay off.
import cors from '@fastify/cors';
import fp from 'fastify-plugin';

const CACHE_MS = 60_000;

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

    await app.register(cors, {
      credentials: false,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'if-match', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'etag', 'retry-after'],
      maxAge: 600,
      origin: (origin, callback) => {
        if (!origin) return callback(null, false);
        allowed().then(
          (set) => callback(null, set.has(origin)),
          () => callback(null, false),
        );
      },
    });
  },
  { name: 'cors' },
);
