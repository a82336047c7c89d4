// Bundled into the workflow sandbox (workers/create-workers.ts), always: passes the request id of
// the message being handled from the signal (or update) that brought it to the activities the
// workflow schedules for it, and writes it on the workflow's log lines. Headers only: the commands
// a workflow emits are the same with or without it, so recorded histories replay unchanged.
//
// Which request: a signal or update handler's own work (an agent's reply scheduled by its update)
// runs in that message's scope. The conversation's main loop, which answers inbound messages after
// their signal handler returned, has no scope of its own: it works for the latest signal's request.
import {
  AsyncLocalStorage,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { requestIdOf, withRequestId } from '../../lib/request-id.ts';

export const interceptors = (): WorkflowInterceptors => {
  const handling = new AsyncLocalStorage<string>();
  let started: string | undefined;
  let latestSignal: string | undefined;
  const current = () => handling.getStore() ?? latestSignal ?? started;

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input, next) {
      started = requestIdOf(input.headers);
      return next(input);
    },
    handleSignal(input, next) {
      const requestId = requestIdOf(input.headers);
      if (!requestId) return next(input);
      latestSignal = requestId;
      return handling.run(requestId, () => next(input));
    },
    handleUpdate(input, next) {
      const requestId = requestIdOf(input.headers);
      return requestId ? handling.run(requestId, () => next(input)) : next(input);
    },
  };
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) =>
      next({ ...input, headers: withRequestId(input.headers, current()) }),
    scheduleLocalActivity: (input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) =>
      next({ ...input, headers: withRequestId(input.headers, current()) }),
    getLogAttributes(input, next) {
      const requestId = current();
      return next(requestId ? { requestId, ...input } : input);
    },
  };
  return { inbound: [inbound], outbound: [outbound] };
};
