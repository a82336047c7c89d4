// Prometheus metrics at GET /metrics: the process's own (CPU, memory, event loop lag, GC),
// request latency by route and status, and the handoffs the tenants' systems ask for through the
// API (app.platformMetrics; the worker counts the others, lib/metrics/handoffs.ts). One registry
// per app, so that several apps in one process (tests) do not collide. METRICS_ACCESS decides who reads it: `admin` (the default: Bearer
// ADMIN_API_KEY, which Prometheus sends with `authorization: { credentials: … }`), `public` (for
// a scraper on an internal network that cannot send a header) or `off` (404).
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { BoundedLabel } from '../../../lib/metrics/bounded-label.ts';
import { handoffsCounter, type HandoffTrigger } from '../../../lib/metrics/handoffs.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Business metrics the API itself knows of. */
    platformMetrics: { handoff(tenantId: string, channel: string, trigger: HandoffTrigger): void };
  }
}

export default fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'metachat_' });
    const duration = new Histogram({
      name: 'metachat_http_request_duration_seconds',
      help: 'HTTP request duration by route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      // Webhook acks are meant to take milliseconds; API calls tens of milliseconds.
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const handoffs = handoffsCounter(registry);
    const tenants = new BoundedLabel(app.config.METRICS_TENANT_LABELS);
    app.decorate('platformMetrics', {
      handoff: (tenantId: string, channel: string, trigger: HandoffTrigger) => handoffs.inc({ tenant: tenants.of(tenantId), channel, trigger }),
    });

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, never the raw URL: ids in paths would explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      if (route === '/metrics') return;
      duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    const access = app.config.METRICS_ACCESS;
    if (access === 'off') return;
    const onRequest = access === 'admin' ? [(request: FastifyRequest, reply: FastifyReply) => app.authenticateAdmin(request, reply)] : [];
    app.get('/metrics', { schema: { hide: true }, onRequest }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics' },
);
