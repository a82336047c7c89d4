// The evaluation workflows' database steps (lib/evaluations.ts), each idempotent by its input:
// a start repeated with the same run id returns that run, a result is upserted by (run, case),
// finishing or failing a run that is no longer running changes nothing.
import type { Client } from '@temporalio/client';
import type { EvaluationTrigger } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';
import { evaluationRunWorkflowId, failEvaluationRun, finishEvaluationRun, recordCaseResult, startEvaluationRun, type CaseOutcome } from '../lib/evaluations.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { parseTenantSettings } from '../lib/tenant-settings.ts';

export function createEvaluationActivities(deps: { db: Db; temporal: Client }) {
  const { db } = deps;
  return {
    async startEvaluation(input: { tenantId: string; runId: string; trigger: EvaluationTrigger }) {
      const started = await startEvaluationRun(forTenant(db, input.tenantId), deps.temporal, input);
      if (started.state !== 'started') return started;
      return { state: 'started' as const, runId: started.run.id, workflowId: evaluationRunWorkflowId(input.tenantId, started.run.id) };
    },

    /** The cases as they are now, oldest first: a run asks the set it started with. */
    async listEvaluationCases(input: { tenantId: string }): Promise<{ id: string; question: string }[]> {
      return forTenant(db, input.tenantId).evaluationCase.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true, question: true } });
    },

    async recordEvaluationResult(input: CaseOutcome): Promise<void> {
      const tdb = forTenant(db, input.tenantId);
      const tenant = await tdb.tenant.findUniqueOrThrow({ where: { id: input.tenantId }, select: { settings: true } });
      const handoffKeyword = parseTenantSettings(tenant.settings).handoff.keywords[0] ?? 'human';
      await recordCaseResult(tdb, handoffKeyword, input);
    },

    async finishEvaluation(input: { tenantId: string; runId: string }): Promise<void> {
      await finishEvaluationRun(forTenant(db, input.tenantId), input.runId);
    },

    async failEvaluation(input: { tenantId: string; runId: string; error: string }): Promise<void> {
      await failEvaluationRun(forTenant(db, input.tenantId), input.runId, input.error);
    },
  };
}
