// The assistant's playground: POST /messages answers a question exactly as a customer would be
// answered, synchronously. The API does not answer it itself (it never imports activities/): it
// starts the playground workflow (workflows/playground.ts) on the conversations queue, which runs
// the conversation's own assistant turn through the same activities, and waits for its result.
// Nothing is sent on a channel and no conversation is created or changed; model spend counts in
// `usage` like a conversation's, and a spent budget refuses (429 budget_exhausted).
//
// The wait is the tenant's turn budget (llm.turnBudgetSeconds) plus a margin for the settings and
// retrieval: the run's execution timeout, so a run no worker picked up in time never starts later
// and spends nothing (504 playground_timeout). Limited per key or user to a thirtieth of
// RATE_LIMIT_API_PER_MINUTE: each message is a paid model turn.
import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, TimeoutFailure, WorkflowFailedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseTenantSettings } from '../../../../lib/tenant-settings.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { playground, playgroundWorkflowId } from '../../../../workflows/playground.ts';
import { TenantId } from '../../../../workflows/search-attributes.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses } from '../../../schemas/common.ts';
import { costlyRouteLimit } from '../../../plugins/external/rate-limit.ts';

/** The playground's share of the per-key API limit. */
export const PLAYGROUND_RATE_LIMIT_DIVISOR = 30;
/** Beyond the turn's budget: loading the settings and starting the run. */
const WAIT_MARGIN_SECONDS = 5;
/** A message as long as the channels take (WhatsApp's text limit). */
const MAX_TEXT = 4096;

const turn = z.object({ role: z.enum(['user', 'assistant']), text: z.string().trim().min(1).max(MAX_TEXT) }).strict();

const answerSchema = z.object({
  outcome: z
    .enum(['reply', 'handoff', 'budget_exhausted', 'no_answer'])
    .describe('reply: the model answered; handoff: the customer would be handed to a person; no_answer: every provider failed or the tool loop ran out (the tenant\'s polite message)'),
  text: z.string().describe('What the customer would read'),
  handoffReason: z.string().nullable().describe('keyword, or the reason the model gave'),
  sources: z.array(
    z.object({
      documentId: z.string(),
      chunkId: z.string(),
      title: z.string(),
      page: z.number().int().nullable(),
      section: z.string().nullable(),
      score: z.number().describe('Fused retrieval score, 0..1'),
      excerpt: z.string(),
      cited: z.boolean().describe('The reply cites this passage'),
    }),
  ),
  toolCalls: z.array(
    z.object({
      name: z.string(),
      arguments: z.string().describe("The model's arguments, as JSON text"),
      outcome: z.union([
        z.object({ kind: z.literal('result'), content: z.string(), isError: z.boolean() }),
        z.object({ kind: z.literal('handoff') }),
      ]),
    }),
  ),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  modelCalls: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  costUsd: z.number().describe('Estimated from the price table, as recorded in usage'),
  latencyMs: z.number().int().describe('From the request to the answer'),
});

/** Seconds until the next UTC midnight, when the daily budget starts again. */
function secondsUntilTomorrowUtc(now = new Date()): number {
  const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((tomorrow - now.getTime()) / 1000));
}

const playgroundRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/messages',
    {
      config: costlyRouteLimit(app.config.RATE_LIMIT_API_PER_MINUTE, PLAYGROUND_RATE_LIMIT_DIVISOR),
      schema: {
        tags: ['playground'],
        summary: 'Ask the assistant as a customer would, and see how it answered',
        description:
          "The reply a customer would get (the tenant's settings, handoff keywords, retrieval, prompt, model and fallback, tools including the tenant's functions, " +
          'which are called for real), with its sources, tool calls, model, tokens and cost. Nothing is sent on a channel and no conversation is stored; ' +
          "the model's spend counts against the daily budget (429 budget_exhausted once it is spent). 504 when no answer came within the turn's budget " +
          '(llm.turnBudgetSeconds) and a few seconds; 502 when the run failed.',
        body: z
          .object({
            message: z.string().trim().min(1).max(MAX_TEXT).describe('The question'),
            previous: z.array(turn).max(40).default([]).describe('The earlier turns of this playground chat, oldest first'),
          })
          .strict(),
        response: { 200: answerSchema, ...errorResponses, 502: errorBody, 504: errorBody },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const tenant = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId }, select: { settings: true } });
      const waitSeconds = parseTenantSettings(tenant.settings).llm.turnBudgetSeconds + WAIT_MARGIN_SECONDS;
      const workflowId = playgroundWorkflowId(request.tenantId, randomUUID());
      let answer;
      try {
        answer = await app.temporal.workflow.execute(playground, {
          workflowId,
          taskQueue: taskQueueName(app.config, 'conversations'),
          args: [{ tenantId: request.tenantId, message: request.body.message, previous: request.body.previous }],
          workflowExecutionTimeout: waitSeconds * 1000,
          typedSearchAttributes: new TypedSearchAttributes([{ key: TenantId, value: request.tenantId }]),
        });
      } catch (err) {
        if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) {
          request.log.warn({ workflowId, waitSeconds }, 'playground answer timed out');
          throw new HttpError(504, 'playground_timeout', `The assistant did not answer within ${waitSeconds} s; retry later`);
        }
        if (err instanceof WorkflowFailedError || err instanceof ServiceError || isGrpcServiceError(err)) {
          request.log.warn({ err, workflowId }, 'playground answer failed');
          throw new HttpError(502, 'playground_failed', 'The assistant could not answer; retry later');
        }
        throw err;
      }
      if (answer.outcome === 'budget_exhausted') {
        reply.header('retry-after', String(secondsUntilTomorrowUtc()));
        throw new HttpError(429, 'budget_exhausted', `The daily model budget is spent: customers are sent "${answer.text}" until it renews at 00:00 UTC`);
      }
      request.log.info({ workflowId, outcome: answer.outcome, modelCalls: answer.modelCalls, toolCalls: answer.toolCalls.length }, 'playground answered');
      return { ...answer, latencyMs: Math.round(performance.now() - started) };
    },
  );
};

export default playgroundRoutes;
