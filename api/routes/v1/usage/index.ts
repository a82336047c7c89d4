// LLM and embedding usage (tokens, requests, cost) per day, provider and model, with totals.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { dateRange, errorResponses } from '../../../schemas/common.ts';

export const MAX_RANGE_DAYS = 366;

const usageRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['usage'],
        summary: `Usage per day, provider and model in [from, to) (at most ${MAX_RANGE_DAYS} days)`,
        querystring: dateRange(MAX_RANGE_DAYS),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            days: z.array(
              z.object({ day: z.string(), provider: z.string(), model: z.string(), requests: z.number(), promptTokens: z.number(), completionTokens: z.number(), costUsd: z.number() }),
            ),
            totals: z.object({ requests: z.number(), promptTokens: z.number(), completionTokens: z.number(), costUsd: z.number() }),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      const rows = await request.tenantDb.usage.findMany({
        where: { day: { gte: from, lt: to } },
        orderBy: [{ day: 'asc' }, { provider: 'asc' }, { model: 'asc' }],
      });
      const days = rows.map((r) => ({
        day: r.day.toISOString().slice(0, 10),
        provider: r.provider,
        model: r.model,
        requests: r.requests,
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        costUsd: Number(r.costUsd),
      }));
      const totals = days.reduce(
        (t, d) => ({ requests: t.requests + d.requests, promptTokens: t.promptTokens + d.promptTokens, completionTokens: t.completionTokens + d.completionTokens, costUsd: t.costUsd + d.costUsd }),
        { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 },
      );
      return { from: from.toISOString(), to: to.toISOString(), days, totals: { ...totals, costUsd: Math.round(totals.costUsd * 1e6) / 1e6 } };
    },
  );
};

export default usageRoutes;
