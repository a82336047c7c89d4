// Gauges read from Postgres when Prometheus scrapes, not kept in the process: open conversations
// by channel and status, and the findings of the latest integrity run per check. Any worker
// process answers the same values (use max(), not sum(), across workers), and a restarted one
// knows them at once. Both queries run at most once per `maxAgeMs` (15 s), however many scrapers
// ask; a failed read keeps the last values.
import { Gauge, type Registry } from 'prom-client';
import { CHANNEL_TYPES } from '../channels.ts';
import type { Db } from '../db.ts';
import type { Logger } from '../logger.ts';

export const DATABASE_GAUGES_MAX_AGE_MS = 15_000;
const OPEN_STATUSES = ['active', 'handoff_requested', 'assigned_human'] as const;

export interface DatabaseGaugeOptions {
  db: Db;
  logger: Logger;
  /** Every integrity check's name (activities/integrity.ts CHECK_NAMES): each gets a series, 0 when clean. */
  integrityChecks: readonly string[];
  maxAgeMs?: number;
}

interface Snapshot {
  conversations: { channel: string; status: string; n: number }[];
  /** Null until an integrity run has finished. */
  findings: Record<string, number> | null;
}

export function observeDatabase(registry: Registry, options: DatabaseGaugeOptions): void {
  const maxAgeMs = options.maxAgeMs ?? DATABASE_GAUGES_MAX_AGE_MS;
  let snapshot: Snapshot | undefined;
  let readAt = 0;
  let reading: Promise<Snapshot | undefined> | undefined;

  const current = async (): Promise<Snapshot | undefined> => {
    if (snapshot && Date.now() - readAt < maxAgeMs) return snapshot;
    reading ??= read(options.db)
      .then((s) => {
        snapshot = s;
        readAt = Date.now();
        return s;
      })
      .catch((err: unknown) => {
        options.logger.warn({ err }, 'metrics: open conversations and integrity findings not read; the last values stay');
        return snapshot;
      })
      .finally(() => (reading = undefined));
    return reading;
  };

  new Gauge({
    name: 'metachat_active_conversations',
    help: 'Open (not closed) conversations by channel and status, counted in Postgres (at most 15 s old)',
    labelNames: ['channel', 'status'],
    registers: [registry],
    async collect() {
      const s = await current();
      if (!s) return;
      this.reset();
      for (const channel of CHANNEL_TYPES) for (const status of OPEN_STATUSES) this.set({ channel, status }, 0);
      for (const row of s.conversations) this.set({ channel: row.channel, status: row.status }, row.n);
    },
  });

  new Gauge({
    name: 'metachat_integrity_findings',
    help: 'Findings of the latest finished integrity run per check (what is left after its fixes, for an applied run)',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      const s = await current();
      if (!s?.findings) return;
      this.reset();
      for (const check of options.integrityChecks) this.set({ check }, s.findings[check] ?? 0);
    },
  });
}

async function read(db: Db): Promise<Snapshot> {
  const [conversations, [report]] = await Promise.all([
    db.$queryRaw<{ channel: string; status: string; n: number }[]>`
      SELECT ch.type::text AS channel, c.status::text AS status, count(*)::int AS n
        FROM conversations c JOIN channels ch ON ch.id = c.channel_id
       WHERE c.status <> 'closed'
       GROUP BY 1, 2`,
    db.$queryRaw<{ summary: Record<string, unknown> }[]>`
      SELECT summary FROM integrity_reports WHERE finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1`,
  ]);
  return { conversations, findings: report ? findingsOf(report.summary) : null };
}

/** A report's summary is `{ check: count }`, with `remaining: { check: count }` after fixes. */
function findingsOf(summary: Record<string, unknown>): Record<string, number> {
  const remaining = summary.remaining;
  const counts = remaining && typeof remaining === 'object' ? (remaining as Record<string, unknown>) : summary;
  return Object.fromEntries(Object.entries(counts).filter((e): e is [string, number] => typeof e[1] === 'number'));
}
