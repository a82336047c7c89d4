// Plans (table `plans`, seeded by a migration) and the plan a tenant is on: its billing account's,
// else the default plan. Read from the database on every check, never cached: an operator's change
// or a Stripe webhook applies to the next request in every process, and the read is one indexed
// row (a cache would need cross-process invalidation to give the same guarantee).
import type { Db } from './db.ts';

/** The limits a plan sets; null: none. Messages and model spend are per billing period. */
export interface PlanLimits {
  monthlyMessages: number | null;
  documents: number | null;
  chunks: number | null;
  seats: number | null;
  channels: number | null;
  monthlyModelSpendUsd: number | null;
}

export type PlanLimitName = keyof PlanLimits;
export const PLAN_LIMIT_NAMES = ['monthlyMessages', 'documents', 'chunks', 'seats', 'channels', 'monthlyModelSpendUsd'] as const satisfies readonly PlanLimitName[];

export interface Plan {
  id: string;
  name: string;
  isDefault: boolean;
  limits: PlanLimits;
  features: string[];
}

/** DOCUMENT_QUOTA_PER_TENANT and CHUNK_QUOTA_PER_TENANT: the default plan's figures where its row has none. */
export interface PlanDefaults {
  documents: number;
  chunks: number;
}

export class UnknownPlanError extends Error {
  constructor(readonly planId: string) {
    super(`No plan "${planId}"`);
    this.name = 'UnknownPlanError';
  }
}

type PlanRow = NonNullable<Awaited<ReturnType<Db['plan']['findUnique']>>>;

function planOfRow(row: PlanRow, defaults: PlanDefaults): Plan {
  const fallback = row.isDefault ? defaults : { documents: null, chunks: null };
  return {
    id: row.id,
    name: row.name,
    isDefault: row.isDefault,
    limits: {
      monthlyMessages: row.monthlyMessages,
      documents: row.maxDocuments ?? fallback.documents,
      chunks: row.maxChunks ?? fallback.chunks,
      seats: row.maxSeats,
      channels: row.maxChannels,
      monthlyModelSpendUsd: row.monthlyModelSpendUsd === null ? null : Number(row.monthlyModelSpendUsd),
    },
    features: row.features,
  };
}

export async function listPlans(db: Db, defaults: PlanDefaults): Promise<Plan[]> {
  const rows = await db.plan.findMany({ orderBy: [{ sortOrder: 'asc' }, { id: 'asc' }] });
  return rows.map((r) => planOfRow(r, defaults));
}

export async function findPlan(db: Db, planId: string, defaults: PlanDefaults): Promise<Plan> {
  const row = await db.plan.findUnique({ where: { id: planId } });
  if (!row) throw new UnknownPlanError(planId);
  return planOfRow(row, defaults);
}

export async function defaultPlan(db: Db, defaults: PlanDefaults): Promise<Plan> {
  const row = await db.plan.findFirst({ where: { isDefault: true } });
  if (!row) throw new Error('No default plan: the plans table has no row with is_default (its seed migration did not run)');
  return planOfRow(row, defaults);
}

/** The plan the tenant is on now. */
export async function planOfTenant(db: Db, tenantId: string, defaults: PlanDefaults): Promise<Plan> {
  const account = await db.billingAccount.findUnique({ where: { tenantId }, select: { plan: true } });
  return account ? planOfRow(account.plan, defaults) : defaultPlan(db, defaults);
}

/** The billing period `now` falls in: its UTC calendar month, [start, end). */
export function billingPeriod(now = new Date()): { start: Date; end: Date } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end };
}

/** The default plan's figures from the configuration. */
export function planDefaultsOf(config: { DOCUMENT_QUOTA_PER_TENANT: number; CHUNK_QUOTA_PER_TENANT: number }): PlanDefaults {
  return { documents: config.DOCUMENT_QUOTA_PER_TENANT, chunks: config.CHUNK_QUOTA_PER_TENANT };
}

/** The tenant's document and chunk limits as lib/documents.ts takes them (no limit: the largest safe integer). */
export async function documentQuotasOf(db: Db, tenantId: string, defaults: PlanDefaults): Promise<{ maxDocuments: number; maxChunks: number }> {
  const { limits } = await planOfTenant(db, tenantId, defaults);
  return { maxDocuments: limits.documents ?? Number.MAX_SAFE_INTEGER, maxChunks: limits.chunks ?? Number.MAX_SAFE_INTEGER };
}
