// Evaluation runs in the database: starting one (at most one running per tenant, enforced by the
// partial unique index evaluation_runs_one_running), storing a case's scored answer, and finishing
// a run with its aggregates and its comparison with the previous finished run. The API and the
// evaluation activities (activities/evaluations.ts) share these; workflows/evaluation.ts runs them.
import type { Client } from '@temporalio/client';
import type { EvaluationRun, EvaluationTrigger } from '../generated/prisma/client.ts';
import { regressed, scoreCase, type CaseAnswer } from './evaluation-scoring.ts';
import type { TenantDb } from './tenant-db.ts';

/** Cases a tenant may keep: every run asks each of them through a paid model turn. */
export const MAX_EVALUATION_CASES = 200;

/** The evaluationRun workflow of one run (workflows/evaluation.ts). */
export const evaluationRunWorkflowId = (tenantId: string, runId: string) => `evaluation-run:${tenantId}:${runId}`;

export type StartRunResult = { state: 'started'; run: EvaluationRun } | { state: 'busy'; runningId: string } | { state: 'no_cases' };

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

/**
 * Records a new running run, unless the tenant has no cases or one is running. A run whose
 * workflow has ended without finishing it (terminated, timed out) is marked failed first, so
 * that it cannot block evaluations for good. Repeating a start with the same id returns the run.
 */
export async function startEvaluationRun(
  tdb: TenantDb,
  temporal: Client,
  input: { tenantId: string; runId: string; trigger: EvaluationTrigger },
): Promise<StartRunResult> {
  const existing = await tdb.evaluationRun.findFirst({ where: { id: input.runId } });
  if (existing) return { state: 'started', run: existing };
  if ((await tdb.evaluationCase.count()) === 0) return { state: 'no_cases' };
  const { settingsVersion } = await tdb.tenant.findUniqueOrThrow({ where: { id: input.tenantId }, select: { settingsVersion: true } });
  for (let attempt = 0; ; attempt++) {
    try {
      const run = await tdb.evaluationRun.create({ data: { id: input.runId, tenantId: input.tenantId, trigger: input.trigger, settingsVersion } });
      return { state: 'started', run };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const running = await tdb.evaluationRun.findFirst({ where: { status: 'running' }, select: { id: true } });
      if (!running) continue;
      if (attempt > 0 || (await workflowRunning(temporal, evaluationRunWorkflowId(input.tenantId, running.id)))) return { state: 'busy', runningId: running.id };
      await tdb.evaluationRun.updateMany({ where: { id: running.id, status: 'running' }, data: { status: 'failed', error: 'The run ended without finishing', finishedAt: new Date() } });
    }
  }
}

async function workflowRunning(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    return (await temporal.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    // Not found: the run's workflow was never started (the start failed after the row was written).
    if ((err as Error).name === 'WorkflowNotFoundError') return false;
    throw err;
  }
}

export interface CaseOutcome {
  tenantId: string;
  runId: string;
  caseId: string;
  /** null when the case could not be asked (`error` says why). */
  answer: null | {
    outcome: 'reply' | 'handoff' | 'budget_exhausted' | 'no_answer';
    text: string;
    sources: { chunkId: string; documentId: string; title: string; cited: boolean }[];
    promptTokens: number;
    completionTokens: number;
    costUsd: number;
  };
  error?: string;
  latencyMs: number;
}

/** Scores a case's answer against the case and stores it (again, identically, on a retry). */
export async function recordCaseResult(tdb: TenantDb, handoffKeyword: string, input: CaseOutcome): Promise<void> {
  const testCase = await tdb.evaluationCase.findFirst({ where: { id: input.caseId } });
  // Deleted while the run asked it: the run reports the cases that still exist.
  if (!testCase) return;
  const cited = (input.answer?.sources ?? []).filter((s) => s.cited);
  // The answer's sources carry excerpts; a fact counts in the full passage the customer was pointed at.
  const chunks = await tdb.chunk.findMany({ where: { id: { in: cited.map((s) => s.chunkId) } }, select: { id: true, content: true } });
  const content = new Map(chunks.map((c) => [c.id, c.content]));
  const citedPassages = cited.map((s) => ({ chunkId: s.chunkId, documentId: s.documentId, title: s.title, content: content.get(s.chunkId) ?? '' }));
  const answer: CaseAnswer = {
    outcome: input.answer?.outcome ?? 'error',
    text: input.answer?.text ?? input.error ?? '',
    citedPassages: citedPassages.map((p) => p.content),
    handoffKeyword,
  };
  const score = scoreCase(testCase, answer);
  const data = {
    question: testCase.question,
    expectedFacts: testCase.expectedFacts,
    expectRefusal: testCase.expectRefusal,
    outcome: answer.outcome,
    answer: answer.text,
    citedPassages,
    ...score,
    latencyMs: Math.max(0, Math.round(input.latencyMs)),
    promptTokens: input.answer?.promptTokens ?? 0,
    completionTokens: input.answer?.completionTokens ?? 0,
    costUsd: input.answer?.costUsd ?? 0,
  };
  await tdb.evaluationResult.upsert({
    where: { runId_caseId: { runId: input.runId, caseId: input.caseId } },
    create: { runId: input.runId, caseId: input.caseId, tenantId: input.tenantId, ...data },
    update: data,
  });
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** The aggregates, the previous finished run, and the cases that passed there and fail now. */
export async function finishEvaluationRun(tdb: TenantDb, runId: string): Promise<void> {
  const run = await tdb.evaluationRun.findFirst({ where: { id: runId } });
  if (!run || run.status !== 'running') return;
  const results = await tdb.evaluationResult.findMany({ where: { runId } });
  const previous = await tdb.evaluationRun.findFirst({
    where: { status: 'finished', id: { not: runId }, startedAt: { lte: run.startedAt } },
    orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
    select: { id: true },
  });
  const before = previous ? await tdb.evaluationResult.findMany({ where: { runId: previous.id }, select: { caseId: true, passed: true } }) : [];
  const passedBefore = new Map(before.map((r) => [r.caseId, r]));
  const regressions = results.filter((r) => regressed(passedBefore.get(r.caseId), r)).map((r) => r.caseId);
  const factCases = results.filter((r) => !r.expectRefusal);
  await tdb.$transaction([
    tdb.evaluationResult.updateMany({ where: { runId, caseId: { in: regressions } }, data: { regressed: true } }),
    tdb.evaluationRun.update({
      where: { id: runId },
      data: {
        status: 'finished',
        finishedAt: new Date(),
        previousRunId: previous?.id ?? null,
        casesTotal: results.length,
        casesPassed: results.filter((r) => r.passed).length,
        groundedness: mean(factCases.map((r) => r.groundedness ?? 0)),
        citationCorrectness: mean(factCases.map((r) => r.citationCorrectness ?? 0)),
        refusalAccuracy: mean(results.map((r) => (r.refusalCorrect ? 1 : 0))),
        latencyMsAvg: results.length ? Math.round(mean(results.map((r) => r.latencyMs))!) : null,
        promptTokens: results.reduce((n, r) => n + r.promptTokens, 0),
        completionTokens: results.reduce((n, r) => n + r.completionTokens, 0),
        costUsd: Math.round(results.reduce((n, r) => n + r.costUsd, 0) * 1e6) / 1e6,
        regressions: regressions.length,
      },
    }),
  ]);
}

export async function failEvaluationRun(tdb: TenantDb, runId: string, error: string): Promise<void> {
  await tdb.evaluationRun.updateMany({ where: { id: runId, status: 'running' }, data: { status: 'failed', error: error.slice(0, 500), finishedAt: new Date() } });
}
