// Conversation analytics over a bounded range: messages per day (in all and per channel), tokens
// and cost per day against the daily budget, handoff rate, response latency and unanswered replies
// (lib/analytics.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tenantAnalytics, unansweredMarkers } from '../../../../lib/analytics.ts';
import { parseTenantSettings } from '../../../../lib/tenant-settings.ts';
import { dateRange, errorResponses } from '../../../schemas/common.ts';
import { MAX_RANGE_DAYS } from '../usage/index.ts';

const nullableMs = z.number().nullable();
const day = z.string().describe('A UTC day, YYYY-MM-DD');

const analyticsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['analytics'],
        summary: `Analytics in [from, to) (at most ${MAX_RANGE_DAYS} days)`,
        description: 'Per-day lists hold the days that have figures; days without any are left out. Unanswered replies are assistant replies that offer a person by quoting the first handoff keyword (the "I don\'t know" answer), or that are the budget-exhausted or unavailable message, as the tenant\'s settings word them now.',
        querystring: dateRange(MAX_RANGE_DAYS),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            messagesPerDay: z.array(z.object({ day, inbound: z.number(), outbound: z.number() })),
            messagesPerDayByChannel: z.array(z.object({ day, channelId: z.string(), inbound: z.number(), outbound: z.number() })),
            channels: z.array(z.object({ id: z.string(), name: z.string(), type: z.string() })).describe('The channels named by messagesPerDayByChannel'),
            totals: z.object({ inbound: z.number(), outbound: z.number(), conversations: z.number() }),
            tokens: z.object({ prompt: z.number(), completion: z.number() }),
            costUsd: z.number(),
            costPerDay: z.array(z.object({ day, costUsd: z.number() })),
            budget: z.object({ dailyBudgetUsd: z.number().describe("Today's llm.dailyBudgetUsd (the tenant's own, else the platform's default): past days are shown against it too") }),
            handoff: z.object({ conversations: z.number(), rate: z.number() }),
            handoffPerDay: z.array(z.object({ day, conversations: z.number(), handedOff: z.number(), rate: z.number() })),
            responseLatencyMs: z.object({ count: z.number(), avg: nullableMs, p50: nullableMs, p95: nullableMs }),
            responseLatencyPerDay: z.array(z.object({ day, count: z.number(), p50: nullableMs, p95: nullableMs })),
            unanswered: z.object({ replies: z.number(), unanswered: z.number(), rate: z.number() }),
            unansweredPerDay: z.array(z.object({ day, replies: z.number(), unanswered: z.number() })),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      const tenant = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId }, select: { settings: true } });
      const settings = parseTenantSettings(tenant.settings, { dailyBudgetUsd: app.config.DEFAULT_DAILY_BUDGET_USD });
      // The one raw-SQL read of tenant data; the tenant id comes from the authenticated key.
      const result = await tenantAnalytics(app.db, request.tenantId, { from, to }, unansweredMarkers(settings));
      return { from: from.toISOString(), to: to.toISOString(), ...result, budget: { dailyBudgetUsd: settings.llm.dailyBudgetUsd! } };
    },
  );
};

export default analyticsRoutes;
