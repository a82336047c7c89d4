// The tenant's evaluations: test questions (cases) with the facts a right answer contains, or
// the expectation that the assistant declines; runs that ask every case the way a customer would
// be answered (workflows/evaluation.ts) and score the answers (lib/evaluation-scoring.ts); and a
// run's results beside the previous run's, with the cases that regressed flagged. Runs also start
// by themselves after settings and document changes (lib/evaluation-requests.ts).
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EvaluationCase, EvaluationResult, EvaluationRun } from '../../../../generated/prisma/client.ts';
import { evaluationRunWorkflowId, failEvaluationRun, MAX_EVALUATION_CASES, startEvaluationRun } from '../../../../lib/evaluations.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { EVALUATION_RUN_TIMEOUT, evaluationRun } from '../../../../workflows/evaluation.ts';
import { TenantId } from '../../../../workflows/search-attributes.ts';
import { TypedSearchAttributes } from '@temporalio/common';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';

const MAX_QUESTION = 2000;
const MAX_FACT = 500;
const MAX_FACTS = 20;

const question = z.string().trim().min(1).max(MAX_QUESTION).describe('Asked as a customer would ask it');
const expectedFacts = z
  .array(z.string().trim().min(1).max(MAX_FACT))
  .max(MAX_FACTS)
  .describe('Phrases a right answer contains, each found (case-insensitively) in the answer and in a passage it cites');
const expectRefusal = z.boolean().describe('Nothing in the documents answers it: the assistant must decline and offer a person');
const EXPECTATION_RULE = 'A case has expected facts or expectRefusal true, not both';

const caseSchema = z.object({ id: z.uuid(), question: z.string(), expectedFacts: z.array(z.string()), expectRefusal: z.boolean(), createdAt: z.string(), updatedAt: z.string() });
// The rule "facts or a refusal, not both" is in the schemas' shape (one branch each), so that the
// OpenAPI document calls valid only what is accepted.
const factCase = { expectedFacts: expectedFacts.min(1), expectRefusal: z.literal(false).optional() };
const refusalCase = { expectedFacts: expectedFacts.max(0).optional(), expectRefusal: z.literal(true) };
const caseInput = z.union([z.object({ question, ...factCase }).strict(), z.object({ question, ...refusalCase }).strict()]).describe(EXPECTATION_RULE);
const casePatch = z
  .union([
    z.object({ question: question.optional(), ...factCase }).strict(),
    z.object({ question: question.optional(), ...refusalCase }).strict(),
    z.object({ question }).strict(),
  ])
  .describe(`${EXPECTATION_RULE}: expected facts make it a fact case, expectRefusal true a refusal case; the question alone keeps the expectation`);
const expectationOf = (body: { question?: string; expectedFacts?: string[]; expectRefusal?: boolean }) =>
  body.expectRefusal ? { expectedFacts: [], expectRefusal: true } : body.expectedFacts ? { expectedFacts: body.expectedFacts, expectRefusal: false } : {};

const score = z.number().min(0).max(1).nullable();
const runSchema = z.object({
  id: z.uuid(),
  status: z.enum(['running', 'finished', 'failed']),
  trigger: z.enum(['manual', 'settings_changed', 'documents_changed']),
  settingsVersion: z.number().int().describe('The settings version the run started with'),
  previousRunId: z.uuid().nullable().describe('The finished run it was compared with'),
  error: z.string().nullable(),
  casesTotal: z.number().int(),
  casesPassed: z.number().int(),
  groundedness: score.describe('Mean over the fact cases: the share of expected facts in the answer and in its cited passages'),
  citationCorrectness: score.describe('Mean over the fact cases: the share of cited passages that contain an expected fact'),
  refusalAccuracy: score.describe('The share of cases that declined when expected and answered otherwise'),
  latencyMsAvg: z.number().int().nullable(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  costUsd: z.number(),
  regressions: z.number().int().describe('Cases that passed in the previous run and fail in this one'),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});
const resultSchema = z.object({
  caseId: z.uuid(),
  question: z.string(),
  expectedFacts: z.array(z.string()),
  expectRefusal: z.boolean(),
  outcome: z.enum(['reply', 'handoff', 'budget_exhausted', 'no_answer', 'error']),
  answer: z.string(),
  citedPassages: z.array(z.object({ chunkId: z.string(), documentId: z.string(), title: z.string(), content: z.string() })),
  declined: z.boolean(),
  passed: z.boolean(),
  groundedness: score,
  citationCorrectness: score,
  refusalCorrect: z.boolean(),
  latencyMs: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  costUsd: z.number(),
  regressed: z.boolean(),
  previous: z.object({ passed: z.boolean(), groundedness: score }).nullable().describe("The case's result in the previous run, if it was asked there"),
});
const runDetailSchema = runSchema.extend({
  results: z.array(resultSchema),
  comparison: z
    .object({ previousRunId: z.uuid(), passedBefore: z.number().int(), passedNow: z.number().int(), regressed: z.array(z.uuid()), improved: z.array(z.uuid()) })
    .nullable()
    .describe('Against the previous finished run; null for the first run'),
});

const caseOut = (c: EvaluationCase) => ({ id: c.id, question: c.question, expectedFacts: c.expectedFacts, expectRefusal: c.expectRefusal, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() });
const runOut = (r: EvaluationRun) => ({
  id: r.id, status: r.status, trigger: r.trigger, settingsVersion: r.settingsVersion, previousRunId: r.previousRunId, error: r.error,
  casesTotal: r.casesTotal, casesPassed: r.casesPassed, groundedness: r.groundedness, citationCorrectness: r.citationCorrectness, refusalAccuracy: r.refusalAccuracy,
  latencyMsAvg: r.latencyMsAvg, promptTokens: r.promptTokens, completionTokens: r.completionTokens, costUsd: r.costUsd, regressions: r.regressions,
  startedAt: r.startedAt.toISOString(), finishedAt: iso(r.finishedAt),
});
const resultOut = (r: EvaluationResult, previous: EvaluationResult | undefined) => ({
  caseId: r.caseId, question: r.question, expectedFacts: r.expectedFacts, expectRefusal: r.expectRefusal,
  outcome: r.outcome as z.infer<typeof resultSchema>['outcome'], answer: r.answer,
  citedPassages: r.citedPassages as z.infer<typeof resultSchema>['citedPassages'],
  declined: r.declined, passed: r.passed, groundedness: r.groundedness, citationCorrectness: r.citationCorrectness, refusalCorrect: r.refusalCorrect,
  latencyMs: r.latencyMs, promptTokens: r.promptTokens, completionTokens: r.completionTokens, costUsd: r.costUsd, regressed: r.regressed,
  previous: previous ? { passed: previous.passed, groundedness: previous.groundedness } : null,
});

const evaluationRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['evaluations'];
  const caseNotFound = () => new HttpError(404, 'not_found', 'Evaluation case not found');

  app.get(
    '/cases',
    { schema: { tags, summary: 'List evaluation cases, oldest first', response: { 200: z.object({ items: z.array(caseSchema) }), ...errorResponses } } },
    async (request) => ({ items: (await request.tenantDb.evaluationCase.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map(caseOut) }),
  );

  app.post(
    '/cases',
    {
      schema: {
        tags,
        summary: 'Add an evaluation case',
        description: `${EXPECTATION_RULE}. At most ${MAX_EVALUATION_CASES} cases per tenant (409 quota_exceeded).`,
        body: caseInput,
        response: { 201: caseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      if ((await request.tenantDb.evaluationCase.count()) >= MAX_EVALUATION_CASES) {
        throw new HttpError(409, 'quota_exceeded', `At most ${MAX_EVALUATION_CASES} evaluation cases per tenant`);
      }
      const created = await request.tenantDb.evaluationCase.create({ data: { tenantId: request.tenantId, question: request.body.question, ...expectationOf(request.body) } });
      request.log.info({ evaluationCaseId: created.id }, 'evaluation case added');
      return reply.status(201).send(caseOut(created));
    },
  );

  app.get(
    '/cases/:id',
    { schema: { tags, summary: 'Get an evaluation case', params: idParams, response: { 200: caseSchema, ...errorResponses } } },
    async (request) => {
      const found = await request.tenantDb.evaluationCase.findFirst({ where: { id: request.params.id } });
      if (!found) throw caseNotFound();
      return caseOut(found);
    },
  );

  app.patch(
    '/cases/:id',
    {
      schema: {
        tags,
        summary: 'Change an evaluation case',
        description: "Expected facts make it a fact case, expectRefusal true a refusal case; the question alone keeps the expectation. Past runs keep the case as it was asked.",
        params: idParams,
        body: casePatch,
        response: { 200: caseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const found = await request.tenantDb.evaluationCase.findFirst({ where: { id: request.params.id } });
      if (!found) throw caseNotFound();
      const body = request.body;
      const updated = await request.tenantDb.evaluationCase.update({ where: { id: found.id }, data: { ...(body.question !== undefined && { question: body.question }), ...expectationOf(body) } });
      return caseOut(updated);
    },
  );

  app.delete(
    '/cases/:id',
    { schema: { tags, summary: 'Delete an evaluation case (past runs keep its results)', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { count } = await request.tenantDb.evaluationCase.deleteMany({ where: { id: request.params.id } });
      if (count === 0) throw caseNotFound();
      return reply.status(204).send();
    },
  );

  app.post(
    '/runs',
    {
      schema: {
        tags,
        summary: 'Start an evaluation run',
        description:
          "Asks every case through the assistant as a customer would be answered (the tenant's settings, retrieval, model and citations; nothing is sent or stored as a message) " +
          "and scores the answers. Model spend counts in usage like a conversation's. 202 with the run; 409 evaluation_running while another run goes, 409 no_cases without cases; " +
          '502 when the run could not be started.',
        response: { 202: runSchema, ...errorResponses, 502: errorBody },
      },
    },
    async (request, reply) => {
      const started = await startEvaluationRun(request.tenantDb, app.temporal, { tenantId: request.tenantId, runId: randomUUID(), trigger: 'manual' });
      if (started.state === 'no_cases') throw new HttpError(409, 'no_cases', 'Add an evaluation case first');
      if (started.state === 'busy') throw new HttpError(409, 'evaluation_running', `Run ${started.runningId} is still going`, { runId: started.runningId });
      const { run } = started;
      const workflowId = evaluationRunWorkflowId(request.tenantId, run.id);
      try {
        await app.temporal.workflow.start(evaluationRun, {
          workflowId,
          taskQueue: taskQueueName(app.config, 'ingestion'),
          args: [{ tenantId: request.tenantId, runId: run.id, workflowId }],
          workflowExecutionTimeout: EVALUATION_RUN_TIMEOUT,
          typedSearchAttributes: new TypedSearchAttributes([{ key: TenantId, value: request.tenantId }]),
        });
      } catch (err) {
        request.log.warn({ err, runId: run.id }, 'evaluation run not started');
        await failEvaluationRun(request.tenantDb, run.id, 'The run could not be started');
        throw new HttpError(502, 'evaluation_not_started', 'The run could not be started; retry later');
      }
      request.log.info({ runId: run.id, workflowId }, 'evaluation run started');
      return reply.status(202).send(runOut(run));
    },
  );

  app.get(
    '/runs',
    { schema: { tags, summary: 'List evaluation runs, newest first', querystring: paginationQuery, response: { 200: page(runSchema), ...errorResponses } } },
    async (request) => {
      const { limit, cursor } = request.query;
      const rows = await request.tenantDb.evaluationRun.findMany({ where: afterCursor('startedAt', cursor, { date: true }), orderBy: [{ startedAt: 'desc' }, { id: 'desc' }], take: limit + 1 });
      const p = toPage(rows, limit, (r) => r.startedAt);
      return { items: p.items.map(runOut), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/runs/:id',
    { schema: { tags, summary: "Get an evaluation run with each case's result and the comparison with the previous run", params: idParams, response: { 200: runDetailSchema, ...errorResponses } } },
    async (request) => {
      const run = await request.tenantDb.evaluationRun.findFirst({ where: { id: request.params.id } });
      if (!run) throw new HttpError(404, 'not_found', 'Evaluation run not found');
      const results = await request.tenantDb.evaluationResult.findMany({ where: { runId: run.id }, orderBy: [{ createdAt: 'asc' }, { caseId: 'asc' }] });
      const before = run.previousRunId ? await request.tenantDb.evaluationResult.findMany({ where: { runId: run.previousRunId } }) : [];
      const previous = new Map(before.map((r) => [r.caseId, r]));
      const comparison = run.previousRunId
        ? {
            previousRunId: run.previousRunId,
            passedBefore: before.filter((r) => r.passed).length,
            passedNow: results.filter((r) => r.passed).length,
            regressed: results.filter((r) => r.regressed).map((r) => r.caseId),
            improved: results.filter((r) => r.passed && previous.get(r.caseId)?.passed === false).map((r) => r.caseId),
          }
        : null;
      return { ...runOut(run), results: results.map((r) => resultOut(r, previous.get(r.caseId))), comparison };
    },
  );
};

export default evaluationRoutes;
