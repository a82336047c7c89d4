// A @fastify/rate-limit store in Postgres (RATE_LIMIT_STORE=postgres), so that a limit holds across
// every API process behind a load balancer instead of multiplying by their number. Why Postgres
// and not Redis: the platform already runs Postgres and nothing else stateful besides Temporal;
// a fixed-window counter is one upsert on a primary key (`rate_limit_buckets`, UNLOGGED: no WAL,
// and a crash only forgets counts), well under a millisecond on the same network. The cost is one
// write per rate-limited request, which is why `memory` stays the default for a single process.
//
// Fixed windows, like the library's own LocalStore: the first hit of a key opens a window of
// `timeWindow` ms; hits inside it count; the first hit after it opens a new one. Rows of ended
// windows are deleted at most once a minute per process (they are also simply overwritten).
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Db } from '../../../lib/db.ts';

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/** How often a process deletes rows of ended windows. */
const SWEEP_EVERY_MS = 60_000;

/** What child() is given at run time: the route's merged limit options, naming the route. */
interface RouteParams {
  routeInfo?: { method?: string | string[]; url?: string };
}

/** The store class @fastify/rate-limit instantiates (`store` option), bound to a database. */
export function postgresRateLimitStore(db: Db): FastifyRateLimitStoreCtor {
  let lastSweep = Date.now();

  function sweep(): void {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    db.$executeRaw`DELETE FROM rate_limit_buckets WHERE reset_at < now()`.catch(() => {
      lastSweep = 0; // try again on the next hit
    });
  }

  return class PostgresRateLimitStore implements FastifyRateLimitStore {
    readonly #prefix: string;

    constructor(_params?: unknown, prefix = '') {
      this.#prefix = prefix;
    }

    incr(key: string, callback: Callback, timeWindow: number): void {
      const bucket = this.#prefix + key;
      db.$queryRaw<{ hits: number; ttl: number }[]>`
        INSERT INTO rate_limit_buckets (key, hits, reset_at)
        VALUES (${bucket}, 1, now() + ${timeWindow}::float8 * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET
          hits = CASE WHEN rate_limit_buckets.reset_at <= now() THEN 1 ELSE rate_limit_buckets.hits + 1 END,
          reset_at = CASE WHEN rate_limit_buckets.reset_at <= now() THEN EXCLUDED.reset_at ELSE rate_limit_buckets.reset_at END
        RETURNING hits, GREATEST(0, ceil(extract(epoch FROM reset_at - now()) * 1000))::float8 AS ttl`.then(
        ([row]) => callback(null, { current: row?.hits ?? 1, ttl: row?.ttl ?? timeWindow }),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
      sweep();
    }

    /** The current count without counting (for `createRateLimit(...)(request, { increment: false })`). */
    read(key: string, callback: Callback): void {
      const bucket = this.#prefix + key;
      db.$queryRaw<{ hits: number; ttl: number }[]>`
        SELECT hits, GREATEST(0, ceil(extract(epoch FROM reset_at - now()) * 1000))::float8 AS ttl
          FROM rate_limit_buckets WHERE key = ${bucket} AND reset_at > now()`.then(
        ([row]) => callback(null, row ? { current: row.hits, ttl: row.ttl } : { current: 0, ttl: 0 }),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    }

    /** A route with its own limit counts in its own buckets, as the library's LocalStore does. */
    child(params: unknown): PostgresRateLimitStore {
      const info = (params as RouteParams | undefined)?.routeInfo;
      const route = info?.url ? `${[info.method ?? ''].flat().join(',')} ${info.url}|` : '';
      return new PostgresRateLimitStore(undefined, this.#prefix + route);
    }
  };
}
