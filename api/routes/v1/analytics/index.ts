// Conversation analytics over a bounded range: messages per day, tokens and cost, handoff rate,
// response latency (lib/analytics.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tenantAnalytics } from '../../../../lib/analytics.ts';
import { dateRange, errorResponses } from '../../../schemas/common.ts';
import { MAX_RANGE_DAYS } from '../usage/index.ts';

const nullableMs = z.number().nullable();

const analyticsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['analytics'],
        summary: `Analytics in [from, to) (at most ${MAX_RANGE_DAYS} days)`,
        querystring: dateRange(MAX_RANGE_DAYS),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            messagesPerDay: z.array(z.object({ day: z.string(), inbound: z.number(), outbound: z.number() })),
            totals: z.object({ inbound: z.number(), outbound: z.number(), conversations: z.number() }),
            tokens: z.object({ prompt: z.number(), completion: z.number() }),
            costUsd: z.number(),
            handoff: z.object({ conversations: z.number(), rate: z.number() }),
            responseLatencyMs: z.object({ count: z.number(), avg: nullableMs, p50: nullableMs, p95: nullableMs }),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      // The one raw-SQL read of tenant data; the tenant id comes from the authenticated key.
      const result = await tenantAnalytics(app.db, request.tenantId, { from, to });
      return { from: from.toISOString(), to: to.toISOString(), ...result };
    },
  );
};

export default analyticsRoutes;
