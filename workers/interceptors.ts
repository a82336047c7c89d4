// What a worker runs its workflows and activities with: the request id always (a header the
// workflow passes on, workers/workflow-interceptors/request-id.ts), and with tracing on Temporal's
// OpenTelemetry interceptors, whose workflow spans leave the sandbox through the `exporter` sink.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import type { ActivityInterceptors, ActivityInterceptorsFactory, InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import { requestIdOf } from '../lib/request-id.ts';
import { runForRequest } from '../lib/request-scope.ts';
import type { Tracing } from '../lib/tracing.ts';

/**
 * `.ts` from the sources, `.js` from the build (dist/): the workflow bundler reads the modules
 * beside this one, so it bundles what is there, without a TypeScript loader in production.
 */
export const MODULE_EXTENSION = extname(fileURLToPath(import.meta.url));
const sibling = (path: string) => fileURLToPath(new URL(`${path}${MODULE_EXTENSION}`, import.meta.url));

/** The sandbox's interceptor modules, in the bundle (workers/create-workers.ts bundleWorkflows). */
export function workflowInterceptorModules(tracing: boolean): string[] {
  return [sibling('./workflow-interceptors/request-id'), ...(tracing ? [sibling('./workflow-interceptors/tracing')] : [])];
}

/**
 * Runs each activity in its request's scope, so that its log lines and the workflows it starts
 * carry the id; and puts the id and the activity's trace ids on the SDK's own lines about it
 * ("Activity completed", "Activity failed"), which it writes after the activity's span has ended.
 * Inside Temporal's tracing interceptor, whose span is then the active one.
 */
function messageScope(): ActivityInterceptors {
  let requestId: string | undefined;
  let span: SpanContext | undefined;
  return {
    inbound: {
      execute(input, next) {
        requestId = requestIdOf(input.headers);
        span = trace.getSpan(context.active())?.spanContext();
        return requestId ? runForRequest(requestId, () => next(input)) : next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) =>
        next({
          ...(requestId && { requestId }),
          ...(span && isSpanContextValid(span) && { trace_id: span.traceId, span_id: span.spanId }),
          ...input,
        }),
    },
  };
}

export function workerInterceptors(tracing?: Tracing): { interceptors: WorkerInterceptors; sinks?: InjectedSinks<OpenTelemetrySinks> } {
  if (!tracing) return { interceptors: { activity: [messageScope] } };
  const traced: ActivityInterceptorsFactory = (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  });
  return {
    interceptors: { activity: [traced, messageScope] },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
