// Bundled into the workflow sandbox (workers/create-workers.ts), always: passes the request id of
// the message being handled from the signal (or update) that brought it to the activities the
// workflow schedules for it, and writes it on the workflow's log lines. Headers only: the commands
// a workflow emits are the same with or without it, so recorded histories replay unchanged.
//
// Which request: the latest signal's or update's. A conversation answers a message after its
// signal handler returned, so handler scopes would not reach that work anyway; and no
// AsyncLocalStorage here: the interceptors are made once per workflow run, and every enabled
// AsyncLocalStorage of the process is visited at each promise the process creates (Node 20), so
// one per cached workflow made every promise cost O(cached workflows). An update's own work (an
// agent's message) is scheduled within a workflow task of its arrival, so it carries its id too
// unless a signal lands in the same task.
import {
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { requestIdOf, withRequestId } from '../../lib/request-id.ts';

export const interceptors = (): WorkflowInterceptors => {
  let latest: string | undefined;
  const noting = (headers: Parameters<typeof requestIdOf>[0]) => {
    latest = requestIdOf(headers) ?? latest;
  };

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input, next) {
      noting(input.headers);
      return next(input);
    },
    handleSignal(input, next) {
      noting(input.headers);
      return next(input);
    },
    handleUpdate(input, next) {
      noting(input.headers);
      return next(input);
    },
  };
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) =>
      next({ ...input, headers: withRequestId(input.headers, latest) }),
    scheduleLocalActivity: (input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) =>
      next({ ...input, headers: withRequestId(input.headers, latest) }),
    getLogAttributes(input, next) {
      return next(latest ? { requestId: latest, ...input } : input);
    },
  };
  return { inbound: [inbound], outbound: [outbound] };
};
