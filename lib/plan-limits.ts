// A tenant's usage against its plan's limits, and the checks that enforce them. A limit is reached
// when the count is at the limit (nothing more may be added); at PLAN_WARNING_RATIO of it the
// usage is flagged `warning`, the response that added to it carries an `X-Plan-Warning` header,
// and a `plan.limit_warning` event is recorded once per tenant, limit and billing period.
import { documentUsage } from './documents.ts';
import type { Db } from './db.ts';
import { periodTotals } from './metering.ts';
import { billingPeriod, PLAN_LIMIT_NAMES, planOfTenant, type Plan, type PlanDefaults, type PlanLimitName } from './plans.ts';
import { forTenant } from './tenant-db.ts';

/** The share of a limit at which usage is flagged. */
export const PLAN_WARNING_RATIO = 0.8;
export const PLAN_LIMIT_WARNING_EVENT = 'plan.limit_warning';
export const PLAN_LIMIT_REACHED_CODE = 'plan_limit_reached';
/** Response header naming the limits at or above the warning share: `channels=80%, seats=100%`. */
export const PLAN_WARNING_HEADER = 'x-plan-warning';

export interface LimitUsage {
  used: number;
  /** null: the plan sets none. */
  limit: number | null;
  /** used / limit (0 without a limit). */
  ratio: number;
  warning: boolean;
  reached: boolean;
}

export type PlanUsage = Record<PlanLimitName, LimitUsage>;

export class PlanLimitError extends Error {
  constructor(
    readonly limit: PlanLimitName,
    readonly used: number,
    readonly max: number,
    readonly planId: string,
  ) {
    super(`The ${planId} plan allows ${max} ${LIMIT_NOUNS[limit]}, and ${used} are used: upgrade the plan to add more`);
    this.name = 'PlanLimitError';
  }
}

const LIMIT_NOUNS: Record<PlanLimitName, string> = {
  monthlyMessages: 'messages this month',
  documents: 'documents',
  chunks: 'document chunks',
  seats: 'team seats (members and pending invitations)',
  channels: 'channels',
  monthlyModelSpendUsd: 'USD of model spend this month',
};

function limitUsage(used: number, limit: number | null): LimitUsage {
  if (limit === null) return { used, limit, ratio: 0, warning: false, reached: false };
  const ratio = limit === 0 ? 1 : used / limit;
  return { used, limit, ratio: Math.round(ratio * 1e4) / 1e4, warning: ratio >= PLAN_WARNING_RATIO, reached: used >= limit };
}

/** Seats: team members plus invitations still open (each takes a seat when accepted). */
async function seatsUsed(db: Db, tenantId: string): Promise<number> {
  const tdb = forTenant(db, tenantId);
  const [users, invitations] = await Promise.all([
    tdb.user.count(),
    tdb.userInvitation.count({ where: { acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } } }),
  ]);
  return users + invitations;
}

async function usedOf(db: Db, tenantId: string, limit: PlanLimitName): Promise<number> {
  switch (limit) {
    case 'monthlyMessages':
      return (await periodTotals(db, tenantId, billingPeriod().start)).messages;
    case 'monthlyModelSpendUsd':
      return (await periodTotals(db, tenantId, billingPeriod().start)).modelSpendUsd;
    case 'documents':
      return (await documentUsage(db, tenantId)).documents;
    case 'chunks':
      return (await documentUsage(db, tenantId)).chunks;
    case 'seats':
      return seatsUsed(db, tenantId);
    case 'channels':
      return forTenant(db, tenantId).channel.count();
  }
}

/** Every limit of the tenant's plan with what is used of it now. */
export async function planUsage(db: Db, tenantId: string, defaults: PlanDefaults): Promise<{ plan: Plan; usage: PlanUsage; period: { start: Date; end: Date } }> {
  const period = billingPeriod();
  const [plan, totals, documents, seats, channels] = await Promise.all([
    planOfTenant(db, tenantId, defaults),
    periodTotals(db, tenantId, period.start),
    documentUsage(db, tenantId),
    seatsUsed(db, tenantId),
    forTenant(db, tenantId).channel.count(),
  ]);
  const used: Record<PlanLimitName, number> = {
    monthlyMessages: totals.messages,
    documents: documents.documents,
    chunks: documents.chunks,
    seats,
    channels,
    monthlyModelSpendUsd: Math.round(totals.modelSpendUsd * 1e6) / 1e6,
  };
  const usage = Object.fromEntries(PLAN_LIMIT_NAMES.map((name) => [name, limitUsage(used[name], plan.limits[name])])) as PlanUsage;
  return { plan, usage, period };
}

/** Records that a limit passed the warning share, once per tenant, limit and billing period. */
export async function noteLimitWarning(db: Db, tenantId: string, plan: Plan, limit: PlanLimitName, usage: LimitUsage): Promise<void> {
  const tdb = forTenant(db, tenantId);
  const period = billingPeriod();
  const already = await tdb.event.findFirst({
    where: { type: PLAN_LIMIT_WARNING_EVENT, createdAt: { gte: period.start }, payload: { path: ['limit'], equals: limit } },
    select: { id: true },
  });
  if (already) return;
  await tdb.event.create({
    data: { tenantId, type: PLAN_LIMIT_WARNING_EVENT, subjectType: 'tenant', subjectId: tenantId, payload: { limit, plan: plan.id, used: usage.used, max: usage.limit, period: period.start.toISOString().slice(0, 10) } },
  });
}

/**
 * Before adding `adding` to a limit: throws PlanLimitError when it would pass it; otherwise
 * returns the usage after the addition, with its warning noted when at or above the share.
 */
export async function checkPlanLimit(db: Db, tenantId: string, limit: PlanLimitName, defaults: PlanDefaults, adding = 1): Promise<LimitUsage & { name: PlanLimitName }> {
  const plan = await planOfTenant(db, tenantId, defaults);
  const max = plan.limits[limit];
  if (max === null) return { name: limit, ...limitUsage(0, null) };
  const used = await usedOf(db, tenantId, limit);
  if (used + adding > max) throw new PlanLimitError(limit, used, max, plan.id);
  const after = limitUsage(used + adding, max);
  if (after.warning) await noteLimitWarning(db, tenantId, plan, limit, after);
  return { name: limit, ...after };
}

/** The X-Plan-Warning value for usages at or above the warning share (undefined: none is). */
export function planWarningHeader(usages: (LimitUsage & { name: PlanLimitName })[]): string | undefined {
  const warned = usages.filter((u) => u.warning);
  return warned.length ? warned.map((u) => `${u.name}=${Math.round(u.ratio * 100)}%`).join(', ') : undefined;
}

/**
 * Before an assistant turn calls a model: the period's messages and model spend against the plan.
 * Returns the limit reached (the turn answers the tenant's budget message instead), else null;
 * a limit past the warning share is noted.
 */
export async function turnLimitReached(db: Db, tenantId: string): Promise<PlanLimitError | null> {
  // Documents and chunks are not read here, so their defaults do not matter.
  const plan = await planOfTenant(db, tenantId, { documents: 0, chunks: 0 });
  const { monthlyMessages, monthlyModelSpendUsd } = plan.limits;
  if (monthlyMessages === null && monthlyModelSpendUsd === null) return null;
  const totals = await periodTotals(db, tenantId, billingPeriod().start);
  for (const [limit, used, max] of [['monthlyMessages', totals.messages, monthlyMessages], ['monthlyModelSpendUsd', totals.modelSpendUsd, monthlyModelSpendUsd]] as const) {
    if (max === null) continue;
    const usage = limitUsage(used, max);
    if (usage.reached) return new PlanLimitError(limit, used, max, plan.id);
    if (usage.warning) await noteLimitWarning(db, tenantId, plan, limit, usage);
  }
  return null;
}
