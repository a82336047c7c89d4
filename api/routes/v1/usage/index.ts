// LLM and embedding usage (tokens, requests, cost) per day, provider and model, with totals; the
// range's messages; the tenant's documents and chunks now (as their quotas count them); and the
// limits that apply: the daily budget, the document size and the plan's document and chunk limits
// (GET /api/v1/billing has every limit of the plan with its usage).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { documentUsage } from '../../../../lib/documents.ts';
import { planDefaultsOf, planOfTenant } from '../../../../lib/plans.ts';
import { parseTenantSettings } from '../../../../lib/tenant-settings.ts';
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
            messages: z.object({ inbound: z.number(), outbound: z.number() }).describe('Messages stored in the range'),
            documents: z
              .object({
                documents: z.number().describe('Documents (not versions) as the document quota counts them'),
                chunks: z.number().describe('Chunks of the ready versions, as the chunk quota counts them'),
                versions: z.object({ ready: z.number(), processing: z.number(), failed: z.number() }).describe('Versions not deleted, by status (pending counts as processing)'),
                bytes: z.number().describe('Size of the versions not deleted'),
              })
              .describe('Now, whatever the range'),
            limits: z.object({
              dailyBudgetUsd: z.number().describe("llm.dailyBudgetUsd: the tenant's own, else the platform's default"),
              spentTodayUsd: z.number().describe('Model and embedding cost of the current UTC day, counted against dailyBudgetUsd'),
              documentMaxBytes: z.number().describe('The largest document an upload may be (DOCUMENT_MAX_BYTES)'),
              documents: z.number().nullable().describe("The plan's document limit (DOCUMENT_QUOTA_PER_TENANT on the default plan); null: none"),
              chunks: z.number().nullable().describe("The plan's chunk limit (CHUNK_QUOTA_PER_TENANT on the default plan); null: none"),
              plan: z.object({ id: z.string(), name: z.string() }).describe("The tenant's plan (GET /api/v1/billing: all its limits and their usage)"),
            }),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      const tdb = request.tenantDb;
      const today = new Date(new Date().toISOString().slice(0, 10));
      const [rows, directions, documents, quotaUsage, tenant, spentToday, plan] = await Promise.all([
        tdb.usage.findMany({ where: { day: { gte: from, lt: to } }, orderBy: [{ day: 'asc' }, { provider: 'asc' }, { model: 'asc' }] }),
        tdb.message.groupBy({ by: ['direction'], where: { createdAt: { gte: from, lt: to } }, _count: { _all: true } }),
        tdb.document.groupBy({ by: ['status'], where: { deletedAt: null }, _count: { _all: true }, _sum: { sizeBytes: true } }),
        documentUsage(app.db, request.tenantId),
        tdb.tenant.findUniqueOrThrow({ where: { id: request.tenantId }, select: { settings: true } }),
        tdb.usage.aggregate({ where: { day: today }, _sum: { costUsd: true } }),
        planOfTenant(app.db, request.tenantId, planDefaultsOf(app.config)),
      ]);
      const settings = parseTenantSettings(tenant.settings, { dailyBudgetUsd: app.config.DEFAULT_DAILY_BUDGET_USD });
      const messages = (direction: string) => directions.find((d) => d.direction === direction)?._count._all ?? 0;
      const docs = (status: string) => documents.filter((d) => d.status === status).reduce((n, d) => n + d._count._all, 0);
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
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        days,
        totals: { ...totals, costUsd: Math.round(totals.costUsd * 1e6) / 1e6 },
        messages: { inbound: messages('inbound'), outbound: messages('outbound') },
        documents: {
          documents: quotaUsage.documents,
          chunks: quotaUsage.chunks,
          versions: { ready: docs('ready'), processing: docs('pending') + docs('processing'), failed: docs('failed') },
          bytes: documents.reduce((n, d) => n + (d._sum.sizeBytes ?? 0), 0),
        },
        limits: {
          dailyBudgetUsd: settings.llm.dailyBudgetUsd!,
          spentTodayUsd: Number(spentToday._sum.costUsd ?? 0),
          documentMaxBytes: app.config.DOCUMENT_MAX_BYTES,
          documents: plan.limits.documents,
          chunks: plan.limits.chunks,
          plan: { id: plan.id, name: plan.name },
        },
      };
    },
  );
};

export default usageRoutes;
