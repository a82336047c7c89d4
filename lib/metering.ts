// Meters: one row in `meter_events` per billable event, named by a key unique per tenant, so that
// writing it again (an activity retried after its write committed, a webhook redelivered) changes
// nothing. Model and embedding tokens are written here (by the usage ledger, activities/llm/usage.ts);
// stored messages and document versions by triggers on their tables (the insert that stores them
// meters them). Aggregated per billing period (the UTC month, lib/plans.ts billingPeriod).
import { Prisma } from '../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { billingPeriod } from './plans.ts';

export const METERS = ['model_tokens', 'embedding_tokens', 'messages', 'storage_bytes'] as const;
export type Meter = (typeof METERS)[number];

export interface MeterEventInput {
  tenantId: string;
  /** Names the event: the same key twice is one event. */
  key: string;
  meter: Meter;
  quantity: number;
  costUsd?: number;
  provider?: string;
  model?: string;
  channel?: string;
  occurredAt?: Date;
}

/** Writes the event unless its key is already there; true when this call wrote it. */
export async function recordMeterEvent(db: Db, event: MeterEventInput): Promise<boolean> {
  const occurredAt = event.occurredAt ?? new Date();
  const { count } = await db.meterEvent.createMany({
    data: [
      {
        tenantId: event.tenantId,
        key: event.key,
        meter: event.meter,
        quantity: BigInt(event.quantity),
        costUsd: event.costUsd ?? 0,
        provider: event.provider ?? null,
        model: event.model ?? null,
        channel: event.channel ?? null,
        occurredAt,
        period: billingPeriod(occurredAt).start,
      },
    ],
    skipDuplicates: true,
  });
  return count === 1;
}

export interface MeterTotal {
  meter: string;
  provider: string | null;
  model: string | null;
  channel: string | null;
  events: number;
  quantity: number;
  costUsd: number;
}

/** The period's meters per meter, provider, model and channel. */
export async function periodMeters(db: Db, tenantId: string, periodStart: Date): Promise<MeterTotal[]> {
  const rows = await db.meterEvent.groupBy({
    by: ['meter', 'provider', 'model', 'channel'],
    where: { tenantId, period: periodStart },
    _count: { _all: true },
    _sum: { quantity: true, costUsd: true },
    orderBy: [{ meter: 'asc' }, { provider: 'asc' }, { model: 'asc' }, { channel: 'asc' }],
  });
  return rows.map((r) => ({
    meter: r.meter,
    provider: r.provider,
    model: r.model,
    channel: r.channel,
    events: r._count._all,
    quantity: Number(r._sum.quantity ?? 0),
    costUsd: Number(r._sum.costUsd ?? 0),
  }));
}

/** What the plan's period limits count: messages stored and model plus embedding spend, this period. */
export async function periodTotals(db: Db, tenantId: string, periodStart: Date): Promise<{ messages: number; modelSpendUsd: number }> {
  const [row] = await db.$queryRaw<{ messages: bigint | null; spend: Prisma.Decimal | null }[]>`
    SELECT sum(quantity) FILTER (WHERE meter = 'messages') AS messages,
           sum(cost_usd) FILTER (WHERE meter IN ('model_tokens', 'embedding_tokens')) AS spend
      FROM meter_events WHERE tenant_id = ${tenantId}::uuid AND period = ${periodStart.toISOString().slice(0, 10)}::date`;
  return { messages: Number(row?.messages ?? 0), modelSpendUsd: Number(row?.spend ?? 0) };
}
