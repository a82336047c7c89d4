// Tenant analytics over a bounded range, computed in Postgres. This is the one place that reads
// tenant data with raw SQL (per-day buckets and window functions have no Prisma equivalent); every
// statement filters on the tenant id it is given as a bound parameter, and the API passes only the
// authenticated tenant's id (request.tenantId). Covered by the isolation suite.
//
// The range's messages are read once (the (tenant_id, created_at) index, pruned to the range's
// monthly partitions) into a materialised CTE that every message figure aggregates from (through
// its per-conversation-and-day counts, for the channels and conversation figures), so the per-day
// and per-channel figures cost one scan and one sort, not one each. No index was added: the range
// scan is the one (tenant_id, created_at) serves, and the window needs its sort by conversation.
import type { Db } from './db.ts';
import { DEFAULT_TENANT_SETTINGS, type TenantSettings } from './tenant-settings.ts';

export interface AnalyticsRange {
  from: Date;
  to: Date;
}

/**
 * What tells an assistant reply that did not answer from one that did, from the tenant's current
 * settings: the reply offers a person by quoting the handoff keyword (what the platform's prompt
 * and the local provider say when the documents do not answer), or it is the budget-exhausted or
 * the unavailable message sent instead of an answer.
 */
export interface UnansweredMarkers {
  handoffKeyword: string;
  fallbackTexts: string[];
}

type Latency = { count: number; avg: number | null; p50: number | null; p95: number | null };

export interface TenantAnalytics {
  messagesPerDay: { day: string; inbound: number; outbound: number }[];
  /** Days with messages, per channel (a tenant may have several numbers of one type). */
  messagesPerDayByChannel: { day: string; channelId: string; inbound: number; outbound: number }[];
  /** The channels named by messagesPerDayByChannel. */
  channels: { id: string; name: string; type: string }[];
  totals: { inbound: number; outbound: number; conversations: number };
  tokens: { prompt: number; completion: number };
  costUsd: number;
  /** Days with model or embedding cost. */
  costPerDay: { day: string; costUsd: number }[];
  /** Conversations with a handoff request among conversations with messages in the range. */
  handoff: { conversations: number; rate: number };
  /** Days with messages: conversations with messages that day, and those of them handed to people. */
  handoffPerDay: { day: string; conversations: number; handedOff: number; rate: number }[];
  /** From an inbound message to the first outbound message after it, in the same conversation. */
  responseLatencyMs: Latency;
  /** Days with replies, by the day of the reply. */
  responseLatencyPerDay: ({ day: string } & Omit<Latency, 'avg'>)[];
  /** Assistant replies, and those of them that did not answer (UnansweredMarkers). */
  unanswered: { replies: number; unanswered: number; rate: number };
  /** Days with assistant replies. */
  unansweredPerDay: { day: string; replies: number; unanswered: number }[];
}

/** The markers of a tenant's settings; the conversation workflow offers the first handoff keyword. */
export function unansweredMarkers(settings: TenantSettings): UnansweredMarkers {
  return { handoffKeyword: settings.handoff.keywords[0] ?? 'human', fallbackTexts: [settings.llm.budgetExhaustedMessage, settings.llm.unavailableMessage] };
}

/** The event type written when an end user asks for a human (conversation workflow). */
export const HANDOFF_REQUESTED_EVENT = 'handoff.requested';

type MessageFigures = {
  by_channel: { day: string; channel_id: string; name: string; type: string; inbound: number; outbound: number }[];
  conversations_per_day: { day: string; n: number }[];
  conversations: bigint;
  latency: Latency;
  latency_per_day: { day: string; count: number; p50: number | null; p95: number | null }[];
  replies_per_day: { day: string; replies: number; unanswered: number }[];
};

export async function tenantAnalytics(db: Db, tenantId: string, range: AnalyticsRange, markers = unansweredMarkers(DEFAULT_TENANT_SETTINGS)): Promise<TenantAnalytics> {
  const { from, to } = range;
  const [messages, usage, handoffs] = await Promise.all([
    db.$queryRaw<MessageFigures[]>`
      WITH m AS MATERIALIZED (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, conversation_id, direction, created_at,
               direction = 'outbound' AND coalesce(content->>'author', 'assistant') = 'assistant' AS by_assistant,
               direction = 'outbound' AND (strpos(content->>'text', ${`"${markers.handoffKeyword}"`}) > 0 OR content->>'text' = ANY(${markers.fallbackTexts}::text[])) AS declined,
               lag(direction) OVER w AS prev_direction,
               lag(created_at) OVER w AS prev_at
          FROM messages
         WHERE tenant_id = ${tenantId}::uuid AND created_at >= ${from} AND created_at < ${to}
        WINDOW w AS (PARTITION BY conversation_id ORDER BY created_at, id)
      ), replies AS (
        SELECT day, extract(epoch FROM created_at - prev_at) * 1000 AS ms FROM m
         WHERE direction = 'outbound' AND prev_direction = 'inbound'
      ), conversation_days AS MATERIALIZED (
        SELECT day, conversation_id,
               count(*) FILTER (WHERE direction = 'inbound') AS inbound,
               count(*) FILTER (WHERE direction = 'outbound') AS outbound
          FROM m GROUP BY 1, 2
      )
      SELECT
        (SELECT coalesce(json_agg(x ORDER BY x.day, x.name, x.channel_id), '[]') FROM (
           SELECT s.day, ch.id AS channel_id, ch.name, ch.type, sum(s.inbound)::int AS inbound, sum(s.outbound)::int AS outbound
             FROM conversation_days s
             JOIN conversations c ON c.id = s.conversation_id AND c.tenant_id = ${tenantId}::uuid
             JOIN channels ch ON ch.id = c.channel_id AND ch.tenant_id = ${tenantId}::uuid
            GROUP BY 1, 2) x) AS by_channel,
        (SELECT coalesce(json_agg(x ORDER BY x.day), '[]') FROM (
           SELECT day, count(*) AS n FROM conversation_days GROUP BY 1) x) AS conversations_per_day,
        (SELECT count(DISTINCT conversation_id) FROM conversation_days) AS conversations,
        (SELECT json_build_object('count', count(*), 'avg', avg(ms),
                                  'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
                                  'p95', percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)) FROM replies) AS latency,
        (SELECT coalesce(json_agg(x ORDER BY x.day), '[]') FROM (
           SELECT day, count(*) AS count,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95
             FROM replies GROUP BY 1) x) AS latency_per_day,
        (SELECT coalesce(json_agg(x ORDER BY x.day), '[]') FROM (
           SELECT day, count(*) AS replies,
                  count(*) FILTER (WHERE declined) AS unanswered
             FROM m WHERE by_assistant GROUP BY 1) x) AS replies_per_day`,
    db.$queryRaw<{ day: Date; prompt: bigint | null; completion: bigint | null; cost: string | null }[]>`
      SELECT day, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, sum(cost_usd)::text AS cost FROM usage
       WHERE tenant_id = ${tenantId}::uuid AND day >= ${from}::date AND day < ${to}::date
       GROUP BY 1 ORDER BY 1`,
    db.$queryRaw<{ day: Date | null; n: bigint }[]>`
      SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT subject_id) AS n FROM events
       WHERE tenant_id = ${tenantId}::uuid AND type = ${HANDOFF_REQUESTED_EVENT} AND created_at >= ${from} AND created_at < ${to}
       GROUP BY ROLLUP (1)`,
  ]);
  const figures = messages[0]!;
  const round = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v));
  const share = (part: number, whole: number) => (whole ? Math.min(1, part / whole) : 0);

  const perDay = new Map<string, { day: string; inbound: number; outbound: number }>();
  const channels = new Map<string, { id: string; name: string; type: string }>();
  for (const r of figures.by_channel) {
    const day = perDay.get(r.day) ?? { day: r.day, inbound: 0, outbound: 0 };
    day.inbound += r.inbound;
    day.outbound += r.outbound;
    perDay.set(r.day, day);
    channels.set(r.channel_id, { id: r.channel_id, name: r.name, type: r.type });
  }
  const messagesPerDay = [...perDay.values()];

  const handedByDay = new Map(handoffs.filter((h) => h.day).map((h) => [h.day!.toISOString().slice(0, 10), Number(h.n)]));
  const handoffCount = Number(handoffs.find((h) => h.day === null)?.n ?? 0);
  const conversationCount = Number(figures.conversations);
  const replies = figures.replies_per_day.reduce((s, d) => s + d.replies, 0);
  const unanswered = figures.replies_per_day.reduce((s, d) => s + d.unanswered, 0);
  const dayCost = usage.map((u) => ({ day: u.day.toISOString().slice(0, 10), costUsd: Number(u.cost ?? 0) }));

  return {
    messagesPerDay,
    messagesPerDayByChannel: figures.by_channel.map((r) => ({ day: r.day, channelId: r.channel_id, inbound: r.inbound, outbound: r.outbound })),
    channels: [...channels.values()],
    totals: {
      inbound: messagesPerDay.reduce((s, d) => s + d.inbound, 0),
      outbound: messagesPerDay.reduce((s, d) => s + d.outbound, 0),
      conversations: conversationCount,
    },
    tokens: { prompt: usage.reduce((s, u) => s + Number(u.prompt ?? 0), 0), completion: usage.reduce((s, u) => s + Number(u.completion ?? 0), 0) },
    costUsd: Math.round(dayCost.reduce((s, d) => s + d.costUsd, 0) * 1e6) / 1e6,
    costPerDay: dayCost,
    handoff: { conversations: handoffCount, rate: share(handoffCount, conversationCount) },
    handoffPerDay: figures.conversations_per_day.map(({ day, n }) => {
      const handedOff = Math.min(n, handedByDay.get(day) ?? 0);
      return { day, conversations: n, handedOff, rate: share(handedOff, n) };
    }),
    responseLatencyMs: { count: figures.latency.count, avg: round(figures.latency.avg), p50: round(figures.latency.p50), p95: round(figures.latency.p95) },
    responseLatencyPerDay: figures.latency_per_day.map((d) => ({ day: d.day, count: d.count, p50: round(d.p50), p95: round(d.p95) })),
    unanswered: { replies, unanswered, rate: share(unanswered, replies) },
    unansweredPerDay: figures.replies_per_day,
  };
}
