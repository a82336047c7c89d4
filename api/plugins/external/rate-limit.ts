// Request rate limits (@fastify/rate-limit), applied to every route by default:
// - /api/v1: per API key, RATE_LIMIT_API_PER_MINUTE. The limiter runs at preHandler, after the
//   scope's authentication (onRequest), so the bucket is the authenticated key, not whatever a
//   caller writes in its header; requests that fail authentication never reach it (they cost
//   one indexed lookup and answer 401).
// - everything else, /webhooks/* included: per client IP, RATE_LIMIT_IP_PER_MINUTE.
// A route can choose its own limit with `config: { rateLimit: { max, timeWindow } }`, or opt
// out with `config: { rateLimit: false }` (health checks do: probes must never be limited).
// Counters live in process memory; with several API replicas, pass a Redis store here.
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../app/errors.ts';

function bucket(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind === 'tenant') return `key:${principal.keyId}`;
  if (principal?.kind === 'admin') return 'admin';
  return `ip:${request.ip}`;
}

export default fp(
  async (app) => {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      timeWindow: 60_000,
      keyGenerator: bucket,
      max: (_request, key) => (key.startsWith('ip:') ? app.config.RATE_LIMIT_IP_PER_MINUTE : app.config.RATE_LIMIT_API_PER_MINUTE),
      allowList: (request) => request.url.startsWith('/health/'),
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, 'rate_limited', `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
    });
  },
  { name: 'rate-limit', dependencies: ['errors'] },
);
