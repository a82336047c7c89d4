// A server span per request (@fastify/otel, registered before every route so that it wraps their
// handlers), continuing the caller's trace when it sends a W3C `traceparent`. Each request's
// log lines carry the span's trace_id and span_id next to the requestId, so that a line leads to
// its trace. Only with tracing on (lib/tracing.ts); health checks and metric scrapes make no spans.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { isSpanContextValid } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Tracing } from '../../../lib/tracing.ts';

const UNTRACED = (url: string) => url.startsWith('/health/') || url === '/metrics';

export default fp<{ tracing: Tracing }>(
  async (app: FastifyInstance, { tracing }) => {
    // Hook spans would add a dozen spans to every request for little: request and handler are kept.
    const instrumentation = new FastifyOtelInstrumentation({ instrumentHooks: false, ignorePaths: ({ url }) => UNTRACED(url) });
    instrumentation.setTracerProvider(tracing.provider);
    await app.register(instrumentation.plugin());
    app.addHook('onRequest', async (request, reply) => {
      const span = request.opentelemetry().span?.spanContext();
      if (!span || !isSpanContextValid(span)) return;
      // Fastify writes its own lines (request completed, errors) through reply.log.
      request.log = request.log.child({ trace_id: span.traceId, span_id: span.spanId });
      reply.log = request.log;
    });
  },
  { name: 'otel' },
);
