// The request a piece of work is done for, across awaits: the API opens a scope around each
// route handler, a worker around each activity (from the Temporal header, lib/request-id.ts).
// The Temporal client interceptor reads it to pass the id on, the loggers to write it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { withRequestId } from './request-id.ts';

const scope = new AsyncLocalStorage<string>();

export function runForRequest<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

export function currentRequestId(): string | undefined {
  return scope.getStore();
}

/**
 * Puts the current request id on what a client sends a workflow: starts, signals and updates.
 * Header-only, so it works with tracing off; the workflow interceptor passes it to activities.
 */
export class RequestIdClientInterceptor implements WorkflowClientInterceptor {
  start: NonNullable<WorkflowClientInterceptor['start']> = (input, next) => next({ ...input, headers: withRequestId(input.headers, currentRequestId()) });
  startWithDetails: NonNullable<WorkflowClientInterceptor['startWithDetails']> = (input, next) =>
    next({ ...input, headers: withRequestId(input.headers, currentRequestId()) });
  signal: NonNullable<WorkflowClientInterceptor['signal']> = (input, next) => next({ ...input, headers: withRequestId(input.headers, currentRequestId()) });
  signalWithStart: NonNullable<WorkflowClientInterceptor['signalWithStart']> = (input, next) =>
    next({ ...input, headers: withRequestId(input.headers, currentRequestId()) });
  startUpdate: NonNullable<WorkflowClientInterceptor['startUpdate']> = (input, next) =>
    next({ ...input, headers: withRequestId(input.headers, currentRequestId()) });
  startUpdateWithStart: NonNullable<WorkflowClientInterceptor['startUpdateWithStart']> = (input, next) => {
    const requestId = currentRequestId();
    return next({ ...input, workflowStartHeaders: withRequestId(input.workflowStartHeaders, requestId), updateHeaders: withRequestId(input.updateHeaders, requestId) });
  };
}
