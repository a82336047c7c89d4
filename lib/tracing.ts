// OpenTelemetry for one process. With OTEL_EXPORTER_OTLP_ENDPOINT set, startTracing builds the
// tracer provider (OTLP/HTTP protobuf exporter, batched), registers W3C trace context propagation
// and the async-context manager globally, and instruments outgoing HTTP (undici, which Node's
// fetch and so the OpenAI, Anthropic and Graph API clients use). Unset, it returns undefined and
// nothing is installed anywhere: no provider, no interceptors, no wrapped pool, no log fields.
//
// The process then hands the Tracing to what it builds: the Temporal clients and workers
// (lib/temporal.ts, workers/interceptors.ts), the database pool (lib/db.ts), the API
// (api/plugins/external/otel.ts) and the loggers (lib/log-context.ts).
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from './config.ts';

export interface Tracing {
  readonly serviceName: string;
  readonly tracer: Tracer;
  readonly provider: NodeTracerProvider;
  /** Also what the workflow sandbox's spans go through (workers/interceptors.ts). */
  readonly spanProcessor: SpanProcessor;
  readonly resource: Resource;
  /** Exports what is still buffered and uninstalls everything. */
  shutdown(): Promise<void>;
}

export function startTracing(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  defaultServiceName: string,
): Tracing | undefined {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  const serviceName = config.OTEL_SERVICE_NAME ?? defaultServiceName;
  const resource = new Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Trace context only: an incoming `baggage` header would otherwise ride along into Temporal.
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const undici = new UndiciInstrumentation();
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: [undici] });
  return {
    serviceName,
    tracer: provider.getTracer('metachat'),
    provider,
    spanProcessor,
    resource,
    async shutdown() {
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
