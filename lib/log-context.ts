// What a worker's log line says about the message it was written for (pino `mixin`): the request
// id of the activity's scope (lib/request-scope.ts) and the active span's ids, which find the
// line's trace in the tracing backend. Empty outside an activity and with tracing off.
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { currentRequestId } from './request-scope.ts';

export function logContext(): { requestId?: string; trace_id?: string; span_id?: string } {
  const requestId = currentRequestId();
  const span = trace.getSpan(context.active())?.spanContext();
  return {
    ...(requestId && { requestId }),
    ...(span && isSpanContextValid(span) && { trace_id: span.traceId, span_id: span.spanId }),
  };
}
