// Bundled into the workflow sandbox when tracing is on (workers/create-workers.ts): Temporal's
// OpenTelemetry workflow interceptors, plus one rule for long-lived workflows. Their activities
// and log lines join the span that is active where they are scheduled; for the conversation's
// main loop that is the run's own span, whose trace is the first message's (the signalWithStart
// that started the run) and which stays open for the run's whole life. So what the main loop
// does goes under the latest signal's span instead: each message's reply lands in the trace of
// the webhook that brought it. Spans and headers only: commands are unchanged.
import * as otel from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type { WorkflowInboundCallsInterceptor, WorkflowInterceptors, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';

export const interceptors = (): WorkflowInterceptors => {
  let run: otel.Span | undefined;
  let latestSignal: otel.Context | undefined;
  /**
   * Runs `fn` under the latest signal's span when called from the run's own span (the main loop)
   * or from no span at all (the SDK's lines about the run's end).
   */
  const forTheLatestMessage = <T>(fn: () => T): T => {
    const active = otel.trace.getSpan(otel.context.active());
    return latestSignal && (active === undefined || active === run) ? otel.context.with(latestSignal, fn) : fn();
  };

  // Inside Temporal's inbound interceptor: the active span is the one it opened for the call.
  const remember: WorkflowInboundCallsInterceptor = {
    execute(input, next) {
      run = otel.trace.getSpan(otel.context.active());
      return next(input);
    },
    handleSignal(input, next) {
      // No span when Temporal's interceptor leaves the signal untraced (a history from before it traced signals).
      if (otel.trace.getSpan(otel.context.active())) latestSignal = otel.context.active();
      return next(input);
    },
  };
  // Around Temporal's outbound interceptor, so that its spans and headers take the chosen parent.
  const reparent: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next) => forTheLatestMessage(() => next(input)),
    scheduleLocalActivity: (input, next) => forTheLatestMessage(() => next(input)),
    getLogAttributes: (input, next) => forTheLatestMessage(() => next(input)),
  };
  return {
    inbound: [new OpenTelemetryInboundInterceptor(), remember],
    outbound: [reparent, new OpenTelemetryOutboundInterceptor()],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
