// Automatic evaluation runs: a settings write, a document that became ready and a deleted document
// each ask the tenant's evaluation scheduler (workflows/evaluation.ts, one per tenant) for a run,
// by signal-with-start; the scheduler waits until nothing has changed for `quietMs`, so a burst of
// uploads makes one run, and never runs two at once. Tenants without cases are not asked at all.
// Names, not imports: lib/ does not import workflows/ (test/evaluations.test.ts checks they match).
import type { Client } from '@temporalio/client';
import type { Logger } from './logger.ts';
import type { TenantDb } from './tenant-db.ts';

export const EVALUATION_SCHEDULER_WORKFLOW = 'evaluationScheduler';
export const EVALUATION_REQUEST_SIGNAL = 'evaluationRequested';
export const evaluationSchedulerWorkflowId = (tenantId: string) => `evaluation-scheduler:${tenantId}`;

export type AutomaticTrigger = 'settings_changed' | 'documents_changed';

export interface EvaluationRequest {
  trigger: AutomaticTrigger;
  quietMs: number;
}

/**
 * Asks for a run when the tenant has cases. Never throws: the change that asked has happened
 * either way, and the next change (or a manual run) catches up.
 */
export async function requestEvaluation(
  deps: { temporal: Client; tdb: TenantDb; logger: Pick<Logger, 'warn'> },
  input: { tenantId: string; taskQueue: string } & EvaluationRequest,
): Promise<void> {
  try {
    if ((await deps.tdb.evaluationCase.count()) === 0) return;
    await deps.temporal.workflow.signalWithStart(EVALUATION_SCHEDULER_WORKFLOW, {
      workflowId: evaluationSchedulerWorkflowId(input.tenantId),
      taskQueue: input.taskQueue,
      args: [{ tenantId: input.tenantId }],
      signal: EVALUATION_REQUEST_SIGNAL,
      signalArgs: [{ trigger: input.trigger, quietMs: input.quietMs } satisfies EvaluationRequest],
    });
  } catch (err) {
    deps.logger.warn({ err, tenantId: input.tenantId, trigger: input.trigger }, 'evaluation run not requested');
  }
}
