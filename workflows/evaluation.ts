// Evaluations: `evaluationRun` asks each of a tenant's evaluation cases through the playground
// workflow (workflows/playground.ts: the customer's own assistant turn, retrieval, model and
// citations, nothing sent or stored as a message), a few at a time, scores each answer and
// finishes the run with its aggregates and its comparison with the previous run (lib/evaluations.ts).
//
// `evaluationScheduler` (one per tenant, id from lib/evaluation-requests.ts) starts the automatic
// runs: settings and document changes signal it (signal-with-start); it waits until no request
// has come for the request's quiet period, then runs once, and again afterwards if more requests
// came meanwhile. A run already going (a manual one) is waited out the same way.
//
// Both run on the ingestion queue: evaluations are background work and must not take the
// conversation workers' slots from customers.
import { CancellationScope, condition, defineSignal, executeChild, log, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { EvaluationRequest } from '../lib/evaluation-requests.ts';
import type { CaseOutcome } from '../lib/evaluations.ts';
import { playground, type PlaygroundResult } from './playground.ts';

export const evaluationRequested = defineSignal<[EvaluationRequest]>('evaluationRequested');

/** Cases asked at once: enough to finish a large set quickly, few enough to leave the model's rate limits to customers. */
export const EVALUATION_CONCURRENCY = 3;
/** A run still going after this is stuck: it times out, and the next start marks it failed (lib/evaluations.ts). */
export const EVALUATION_RUN_TIMEOUT = '2 hours';
/** One case's answer, at most (the turn's own budget is shorter). */
const CASE_TIMEOUT = '3 minutes';

const db = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

export interface EvaluationRunInput {
  tenantId: string;
  runId: string;
  /** The run's own workflow id: each case's playground run is named after it. */
  workflowId: string;
}

export async function evaluationRun(input: EvaluationRunInput): Promise<void> {
  const { tenantId, runId } = input;
  try {
    const cases = await db.listEvaluationCases({ tenantId });
    let next = 0;
    const askNext = async (): Promise<void> => {
      for (let c = cases[next++]; c; c = cases[next++]) await ask(c);
    };
    await Promise.all(Array.from({ length: Math.min(EVALUATION_CONCURRENCY, cases.length) }, askNext));
    await db.finishEvaluation({ tenantId, runId });
  } catch (err) {
    // Cancelled or failed: the run is marked failed, or it would block every later run.
    await CancellationScope.nonCancellable(() => db.failEvaluation({ tenantId, runId, error: err instanceof Error ? err.message : String(err) }));
    throw err;
  }

  async function ask(c: { id: string; question: string }): Promise<void> {
    const started = Date.now();
    let answer: PlaygroundResult | null = null;
    let error: string | undefined;
    try {
      answer = await executeChild(playground, {
        workflowId: `${input.workflowId}:${c.id}`,
        args: [{ tenantId, message: c.question, previous: [] }],
        workflowExecutionTimeout: CASE_TIMEOUT,
      });
    } catch (err) {
      // One case that could not be asked fails that case, not the run.
      error = 'The assistant could not answer';
      log.warn('evaluation case failed', { caseId: c.id, failure: err instanceof Error ? err.message : String(err) });
    }
    const outcome: CaseOutcome = { tenantId, runId, caseId: c.id, answer, latencyMs: Date.now() - started, ...(error && { error }) };
    await db.recordEvaluationResult(outcome);
  }
}

export interface EvaluationSchedulerInput {
  tenantId: string;
}

export async function evaluationScheduler({ tenantId }: EvaluationSchedulerInput): Promise<void> {
  const state = { pending: null as EvaluationRequest | null, received: 0 };
  setHandler(evaluationRequested, (request) => {
    state.pending = request;
    state.received++;
  });
  for (;;) {
    await condition(() => state.pending !== null);
    // The quiet period: every new request starts it again.
    for (;;) {
      const seen = state.received;
      if (!(await condition(() => state.received !== seen, state.pending!.quietMs))) break;
    }
    const request = state.pending!;
    state.pending = null;
    const started = await db.startEvaluation({ tenantId, runId: uuid4(), trigger: request.trigger });
    if (started.state === 'busy') {
      // Asked again after the quiet period, once the running one has had time to end.
      state.pending ??= request;
      continue;
    }
    if (started.state === 'started') {
      try {
        await executeChild(evaluationRun, { workflowId: started.workflowId, workflowExecutionTimeout: EVALUATION_RUN_TIMEOUT, args: [{ tenantId, runId: started.runId, workflowId: started.workflowId }] });
      } catch (err) {
        log.warn('automatic evaluation run failed', { runId: started.runId, failure: err instanceof Error ? err.message : String(err) });
      }
    }
    if (state.pending === null) return;
  }
}
