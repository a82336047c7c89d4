// What a worker runs its workflows and activities with: the request id always (a header the
// workflow passes on, workers/workflow-interceptors/request-id.ts), and with tracing on Temporal's
// OpenTelemetry interceptors, whose workflow spans leave the sandbox through the `exporter` sink.
import { createRequire } from 'node:module';
import type { ActivityInboundCallsInterceptor, InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import { requestIdOf } from '../lib/request-id.ts';
import { runForRequest } from '../lib/request-scope.ts';
import type { Tracing } from '../lib/tracing.ts';

const require = createRequire(import.meta.url);

/** The sandbox's interceptor modules, in the bundle (workers/create-workers.ts bundleWorkflows). */
export function workflowInterceptorModules(tracing: boolean): string[] {
  return [
    require.resolve('./workflow-interceptors/request-id.ts'),
    ...(tracing ? [require.resolve('./workflow-interceptors/tracing.ts')] : []),
  ];
}

/** Runs each activity in its request's scope: its log lines and the workflows it starts carry the id. */
class RequestIdActivityInbound implements ActivityInboundCallsInterceptor {
  execute: ActivityInboundCallsInterceptor['execute'] = (input, next) => {
    const requestId = requestIdOf(input.headers);
    return requestId ? runForRequest(requestId, () => next(input)) : next(input);
  };
}

export function workerInterceptors(tracing?: Tracing): { interceptors: WorkerInterceptors; sinks?: InjectedSinks<OpenTelemetrySinks> } {
  const activity: NonNullable<WorkerInterceptors['activity']> = [() => ({ inbound: new RequestIdActivityInbound() })];
  if (!tracing) return { interceptors: { activity } };
  activity.push((ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  }));
  return { interceptors: { activity }, sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } };
}
