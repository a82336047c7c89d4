// Tenant analytics over a bounded range, computed in Postgres. This is the one place that reads
// tenant data with raw SQL (per-day buckets and window functions have no Prisma equivalent); every
// statement filters on the tenant id it is given as a bound parameter, and the API passes only the
// authenticated tenant's id (request.tenantId). Covered by the isolation suite.
import type { Db } from './db.ts';

export interface AnalyticsRange {
  from: Date;
  to: Date;
}

export interface TenantAnalytics {
  messagesPerDay: { day: string; inbound: number; outbound: number }[];
  totals: { inbound: number; outbound: number; conversations: number };
  tokens: { prompt: number; completion: number };
  costUsd: number;
  /** Conversations with a handoff request among conversations with messages in the range. */
  handoff: { conversations: number; rate: number };
  /** From an inbound message to the first outbound message after it, in the same conversation. */
  responseLatencyMs: { count: number; avg: number | null; p50: number | null; p95: number | null };
}

/** The event type written when an end user asks for a human (conversation workflow). */
export const HANDOFF_REQUESTED_EVENT = 'handoff.requested';

export async function tenantAnalytics(db: Db, tenantId: string, range: AnalyticsRange): Promise<TenantAnalytics> {
  const { from, to } = range;
  const [perDay, conversations, usage, handoffs, latency] = await Promise.all([
    db.$queryRaw<{ day: Date; inbound: bigint; outbound: bigint }[]>`
      SELECT date_trunc('day', created_at AT TIME ZONE 'UTC')::date AS day,
             count(*) FILTER (WHERE direction = 'inbound') AS inbound,
             count(*) FILTER (WHERE direction = 'outbound') AS outbound
        FROM messages
       WHERE tenant_id = ${tenantId}::uuid AND created_at >= ${from} AND created_at < ${to}
       GROUP BY 1 ORDER BY 1`,
    db.$queryRaw<{ n: bigint }[]>`
      SELECT count(DISTINCT conversation_id) AS n FROM messages
       WHERE tenant_id = ${tenantId}::uuid AND created_at >= ${from} AND created_at < ${to}`,
    db.$queryRaw<{ prompt: bigint | null; completion: bigint | null; cost: string | null }[]>`
      SELECT sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, sum(cost_usd)::text AS cost FROM usage
       WHERE tenant_id = ${tenantId}::uuid AND day >= ${from}::date AND day < ${to}::date`,
    db.$queryRaw<{ n: bigint }[]>`
      SELECT count(DISTINCT subject_id) AS n FROM events
       WHERE tenant_id = ${tenantId}::uuid AND type = ${HANDOFF_REQUESTED_EVENT} AND created_at >= ${from} AND created_at < ${to}`,
    db.$queryRaw<{ count: bigint; avg: number | null; p50: number | null; p95: number | null }[]>`
      WITH ordered AS (
        SELECT direction, created_at,
               lag(direction) OVER w AS prev_direction,
               lag(created_at) OVER w AS prev_at
          FROM messages
         WHERE tenant_id = ${tenantId}::uuid AND created_at >= ${from} AND created_at < ${to}
        WINDOW w AS (PARTITION BY conversation_id ORDER BY created_at, id)
      ), replies AS (
        SELECT extract(epoch FROM created_at - prev_at) * 1000 AS ms FROM ordered
         WHERE direction = 'outbound' AND prev_direction = 'inbound'
      )
      SELECT count(*) AS count, avg(ms)::float8 AS avg,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::float8 AS p95
        FROM replies`,
  ]);
  const messagesPerDay = perDay.map((r) => ({ day: r.day.toISOString().slice(0, 10), inbound: Number(r.inbound), outbound: Number(r.outbound) }));
  const conversationCount = Number(conversations[0]?.n ?? 0);
  const handoffCount = Number(handoffs[0]?.n ?? 0);
  const lat = latency[0];
  const round = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v));
  return {
    messagesPerDay,
    totals: {
      inbound: messagesPerDay.reduce((s, d) => s + d.inbound, 0),
      outbound: messagesPerDay.reduce((s, d) => s + d.outbound, 0),
      conversations: conversationCount,
    },
    tokens: { prompt: Number(usage[0]?.prompt ?? 0), completion: Number(usage[0]?.completion ?? 0) },
    costUsd: Number(usage[0]?.cost ?? 0),
    handoff: { conversations: handoffCount, rate: conversationCount ? Math.min(1, handoffCount / conversationCount) : 0 },
    responseLatencyMs: { count: Number(lat?.count ?? 0), avg: round(lat?.avg), p50: round(lat?.p50), p95: round(lat?.p95) },
  };
}
