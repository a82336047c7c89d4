// Request rate limits (@fastify/rate-limit), applied to every route by default:
// - /api/v1: per API key (or signed-in user), RATE_LIMIT_API_PER_MINUTE. The limiter runs at preHandler, after the
//   scope's authentication (onRequest), so the bucket is the authenticated key, not whatever a
//   caller writes in its header. A tenant holds at most API_KEYS_PER_TENANT live keys, so keys
//   cannot multiply its budget without bound.
// - everything else, /webhooks/* included: per client IP, RATE_LIMIT_IP_PER_MINUTE. "Client IP"
//   is an IPv4 address or an IPv6 /56 network (clientOf).
// - failed authentication: per client IP, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE failed Bearer
//   attempts (unknown, wrong, revoked, expired keys, on any route that checks one). Once an IP
//   reaches it, every Bearer attempt from it answers 429 with Retry-After until the window ends,
//   without its key being looked at — so guessing stops, and a valid key from that IP waits too
//   (a deliberate trade-off: an IP that guesses keys is not served meanwhile).
// The client IP is the socket's peer unless TRUST_PROXY says which proxies to believe
// (X-Forwarded-For); behind a load balancer, set it or every client shares the balancer's bucket.
// Counters live in process memory (RATE_LIMIT_STORE=memory) or in Postgres, shared by every API
// process (RATE_LIMIT_STORE=postgres, rate-limit-store.ts).
// A route can choose its own limit with `config: { rateLimit: { max, timeWindow } }`, or opt
// out with `config: { rateLimit: false }` (health checks do: probes must never be limited).
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../app/errors.ts';
import { postgresRateLimitStore } from './rate-limit-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Failed-authentication limits per client IP (used by the auth plugin). */
    authFailures: {
      /** Throws 429 (with Retry-After) when the caller's IP has used up its failed attempts. */
      assertAllowed(request: FastifyRequest, reply: FastifyReply): Promise<void>;
      /** Counts one failed attempt of the caller's IP. */
      record(request: FastifyRequest): Promise<void>;
    };
  }
}

/** One subscriber's IPv6 prefix: commonly a /56 (the library's default is the narrower /64). */
const IPV6_CLIENT_PREFIX = 56;

/**
 * The client for per-IP limits: its IPv4 address, or its IPv6 address's /56 network, since one
 * subscriber holds a whole IPv6 prefix and could otherwise take a fresh address for every attempt.
 */
export function clientOf(request: FastifyRequest): string {
  return normalizeIP(request.ip, IPV6_CLIENT_PREFIX);
}

function bucket(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind === 'tenant') return `key:${principal.keyId}`;
  if (principal?.kind === 'user') return `user:${principal.userId}`;
  if (principal?.kind === 'admin') return 'admin';
  return `ip:${clientOf(request)}`;
}

const WINDOW_MS = 60_000;

/**
 * The route option of a costly /api/v1 route: a share of RATE_LIMIT_API_PER_MINUTE per key or
 * user (at least one a minute), in the same window as the API's own limit.
 */
export function costlyRouteLimit(apiPerMinute: number, divisor: number): { rateLimit: { max: number; timeWindow: number } } {
  return { rateLimit: { max: Math.max(1, Math.floor(apiPerMinute / divisor)), timeWindow: WINDOW_MS } };
}

export default fp(
  async (app) => {
    const { config } = app;
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      timeWindow: WINDOW_MS,
      keyGenerator: bucket,
      ...(config.RATE_LIMIT_STORE === 'postgres' && { store: postgresRateLimitStore(app.db) }),
      // A store that cannot answer (Postgres down) lets requests through rather than failing them
      // all: webhooks then still answer as they would (503 from their own steps), and health
      // checks were never limited.
      skipOnError: true,
      max: (_request, key) => (key.startsWith('ip:') ? config.RATE_LIMIT_IP_PER_MINUTE : config.RATE_LIMIT_API_PER_MINUTE),
      allowList: (request) => request.url.startsWith('/health/'),
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, 'rate_limited', `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
    });

    const max = config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE;
    const failures = app.createRateLimit({ max, timeWindow: WINDOW_MS, keyGenerator: (request) => `auth-failures:${clientOf(request)}` });
    app.decorate('authFailures', {
      async assertAllowed(request: FastifyRequest, reply: FastifyReply) {
        const state = await failures(request, { increment: false });
        if (state.isAllowed || state.remaining > 0) return;
        reply.header('retry-after', String(Math.max(1, state.ttlInSeconds)));
        throw new HttpError(429, 'rate_limited', `Too many failed authentication attempts from this address; retry in ${Math.max(1, state.ttlInSeconds)} s`);
      },
      async record(request: FastifyRequest) {
        await failures(request);
      },
    });
  },
  { name: 'rate-limit', dependencies: ['errors'] },
);
