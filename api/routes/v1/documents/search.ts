// "What would the assistant retrieve?": the passages retrieval gives the assistant for a question,
// with their scores. The question goes to the retrievalPreview workflow (workflows/retrieval-
// preview.ts), which runs the conversation's own retrieval activity on the conversations queue:
// the same embedder, tenant settings (top-k, thresholds, weights, language) and filters as a
// reply, not a second implementation in the API that could drift from it. A paid question
// embedding is metered like a reply's. Limited per key or user to a tenth of
// RATE_LIMIT_API_PER_MINUTE: each call embeds a question and runs a hybrid search.
import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, WorkflowFailedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { retrievalPreview, retrievalPreviewWorkflowId } from '../../../../workflows/retrieval-preview.ts';
import { TenantId } from '../../../../workflows/search-attributes.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses } from '../../../schemas/common.ts';
import { costlyRouteLimit } from '../../../plugins/external/rate-limit.ts';

/** The preview's share of the per-key API limit. */
export const RETRIEVAL_PREVIEW_RATE_LIMIT_DIVISOR = 10;

const passageSchema = z.object({
  chunkId: z.uuid(),
  documentId: z.uuid(),
  title: z.string().describe("The document's title"),
  page: z.number().int().nullable(),
  section: z.string().nullable(),
  content: z.string(),
  score: z.number().describe('Fused score, 0..1 (1: first in every list that has a weight)'),
});

const documentSearchRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/search',
    {
      config: costlyRouteLimit(app.config.RATE_LIMIT_API_PER_MINUTE, RETRIEVAL_PREVIEW_RATE_LIMIT_DIVISOR),
      schema: {
        tags: ['documents'],
        summary: 'What the assistant would retrieve for a question',
        description:
          "The passages the assistant's retrieval returns for `question`, best first, with their scores: the conversation's own retrieval " +
          "(the tenant's embedding model and `rag` settings), run by a worker. 503 when no worker answered within 20 s.",
        body: z.object({ question: z.string().trim().min(1).max(2000) }).strict(),
        response: { 200: z.object({ passages: z.array(passageSchema) }), ...errorResponses, 503: errorBody },
      },
    },
    async (request) => {
      const { question } = request.body;
      // Nothing ready to search: retrieval would answer no passages without a look (activities/rag.ts).
      const ready = await request.tenantDb.document.aggregate({ where: { status: 'ready', deletedAt: null }, _sum: { chunkCount: true } });
      if (!ready._sum.chunkCount) return { passages: [] };
      const workflowId = retrievalPreviewWorkflowId(request.tenantId, randomUUID());
      try {
        const passages = await app.temporal.workflow.execute(retrievalPreview, {
          workflowId,
          taskQueue: taskQueueName(app.config, 'conversations'),
          args: [{ tenantId: request.tenantId, question }],
          workflowExecutionTimeout: '20 seconds',
          typedSearchAttributes: new TypedSearchAttributes([{ key: TenantId, value: request.tenantId }]),
        });
        return { passages };
      } catch (err) {
        if (err instanceof WorkflowFailedError || err instanceof ServiceError || isGrpcServiceError(err)) {
          request.log.warn({ err, workflowId }, 'retrieval preview failed');
          throw new HttpError(503, 'retrieval_unavailable', 'The retrieval preview is unavailable right now; retry later');
        }
        throw err;
      }
    },
  );
};

export default documentSearchRoutes;
