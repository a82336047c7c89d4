// Tokens and estimated cost per tenant, UTC day, provider and model (table `usage`), and the
// tenant's daily budget. Embedding requests are metered in the same rows (their tokens as prompt
// tokens), so they count against the same budget. Prices are list prices in USD per million
// tokens; a model not in the table is priced by its longest known prefix, else at its provider's
// default (deliberately on the expensive side, so an unknown model cannot spend a budget unnoticed).
// Every call is metered for billing too (meter_events, lib/metering.ts), once per call by its key.
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Db } from '../../lib/db.ts';
import { EMBEDDING_MODELS, isEmbeddingModel } from '../../lib/embedding-models.ts';
import { recordMeterEvent } from '../../lib/metering.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { ProviderName } from './provider.ts';

/** [input, output] USD per 1M tokens. */
export const PRICES: Record<string, readonly [number, number]> = {
  'gpt-4o-mini': [0.15, 0.6],
  'gpt-4o': [2.5, 10],
  'gpt-4.1-nano': [0.1, 0.4],
  'gpt-4.1-mini': [0.4, 1.6],
  'gpt-4.1': [2, 8],
  'gpt-5-nano': [0.05, 0.4],
  'gpt-5-mini': [0.25, 2],
  'gpt-5': [1.25, 10],
  'o4-mini': [1.1, 4.4],
  'claude-3-5-haiku': [0.8, 4],
  'claude-haiku-4-5': [1, 5],
  'claude-3-5-sonnet': [3, 15],
  'claude-3-7-sonnet': [3, 15],
  'claude-sonnet-4': [3, 15],
  'claude-opus-4-5': [5, 25],
  'claude-opus-4': [15, 75],
  'text-embedding-3-small': [0.02, 0],
};
const PROVIDER_DEFAULT_PRICE: Record<ProviderName, readonly [number, number]> = { openai: [2.5, 10], anthropic: [3, 15] };

export const DEFAULT_MODELS: Record<ProviderName, string> = { openai: 'gpt-4o-mini', anthropic: 'claude-haiku-4-5' };

export function priceOf(provider: ProviderName, model: string): readonly [number, number] {
  const key = Object.keys(PRICES)
    .filter((k) => model === k || model.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return key ? PRICES[key]! : PROVIDER_DEFAULT_PRICE[provider];
}

/**
 * Rounded up to the micro-dollar (the column's precision, after dropping float noise below it):
 * a question's embedding costs well under one, and rounding each to nearest would let any number
 * of them add up to nothing.
 */
export function costUsd(provider: ProviderName, model: string, promptTokens: number, completionTokens: number): number {
  const [input, output] = priceOf(provider, model);
  const nanoUsd = Math.round((promptTokens * input + completionTokens * output) * 1e3);
  return Math.ceil(nanoUsd / 1e3) / 1e6;
}

/** The UTC day as the `usage.day` date column holds it. */
export function usageDay(now = new Date()): Date {
  return new Date(`${now.toISOString().slice(0, 10)}T00:00:00.000Z`);
}

export const BUDGET_EXHAUSTED_EVENT = 'llm.budget_exhausted';

/** Provider calls made so far by each activity attempt (keyed by its Context, so a retry starts at 0). */
const callsOfAttempt = new WeakMap<object, number>();

/**
 * The meter key of a provider call: the activity (workflow run and activity id) and the call's
 * place in it. A retried attempt makes the same calls in the same order, so its calls get the keys
 * of the first attempt's and are metered once; outside an activity every call is its own event.
 */
function providerCallKey(): string {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return `call:${randomUUID()}`;
  }
  const n = callsOfAttempt.get(ctx) ?? 0;
  callsOfAttempt.set(ctx, n + 1);
  const { workflowExecution, activityId } = ctx.info;
  return `call:${workflowExecution?.workflowId}/${workflowExecution?.runId}/${activityId}/${n}`;
}

export function createUsageLedger(db: Db) {
  const ledger = {
    async record(tenantId: string, provider: ProviderName, model: string, promptTokens: number, completionTokens: number, meter: 'model_tokens' | 'embedding_tokens' = 'model_tokens'): Promise<void> {
      const tdb = forTenant(db, tenantId);
      const day = usageDay();
      const cost = costUsd(provider, model, promptTokens, completionTokens);
      // The billing meter first: it is written once per call whatever happens to the report row below.
      await recordMeterEvent(db, { tenantId, key: providerCallKey(), meter, provider, model, quantity: promptTokens + completionTokens, costUsd: cost });
      const upsert = () =>
        tdb.usage.upsert({
          where: { tenantId_day_provider_model: { tenantId, day, provider, model } },
          create: { tenantId, day, provider, model, requests: 1, promptTokens, completionTokens, costUsd: cost },
          update: { requests: { increment: 1 }, promptTokens: { increment: promptTokens }, completionTokens: { increment: completionTokens }, costUsd: { increment: cost } },
        });
      try {
        await upsert();
      } catch (err) {
        // Two first calls of the day racing to create the row: the loser updates it.
        if ((err as { code?: string }).code !== 'P2002') throw err;
        await upsert();
      }
    },

    /**
     * One embedding request (a question at retrieval): a paid provider's tokens are recorded like
     * a model call's; the offline local model costs nothing and is not recorded. One write per
     * provider request: a retried activity that asks the provider again is billed again.
     */
    async recordEmbedding(tenantId: string, model: string, tokens: number): Promise<void> {
      const provider = isEmbeddingModel(model) ? EMBEDDING_MODELS[model].provider : 'openai';
      if (provider === 'local') return;
      await ledger.record(tenantId, provider, model, tokens, 0, 'embedding_tokens');
    },

    async spentToday(tenantId: string): Promise<number> {
      const sum = await forTenant(db, tenantId).usage.aggregate({ where: { day: usageDay() }, _sum: { costUsd: true } });
      return Number(sum._sum.costUsd ?? 0);
    },

    /** Records that the day's budget is spent, once per tenant and day. */
    async noteBudgetExhausted(tenantId: string, budgetUsd: number, spentUsd: number): Promise<void> {
      const tdb = forTenant(db, tenantId);
      const day = usageDay();
      const already = await tdb.event.findFirst({ where: { type: BUDGET_EXHAUSTED_EVENT, createdAt: { gte: day } }, select: { id: true } });
      if (already) return;
      await tdb.event.create({
        data: { tenantId, type: BUDGET_EXHAUSTED_EVENT, subjectType: 'tenant', subjectId: tenantId, payload: { day: day.toISOString().slice(0, 10), budgetUsd, spentUsd } },
      });
    },
  };
  return ledger;
}

export type UsageLedger = ReturnType<typeof createUsageLedger>;
