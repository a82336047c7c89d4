// A span per Postgres statement. @opentelemetry/instrumentation-pg patches `pg` through require
// hooks, which an ESM process (tsx, vitest's module runner) never calls for `import pg from 'pg'`:
// nothing would be traced. So the pool is wrapped here instead, in the one place every statement
// goes through: pool.query (the hot path's single statements and Prisma's outside transactions)
// and the clients pool.connect() hands out (Prisma's transactions). The span starts where the
// caller awaits, so it covers the wait for a pooled connection too.
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type pg from 'pg';

type Query = (...args: unknown[]) => unknown;

/** `SELECT`, `INSERT`, `WITH`…: the span name's verb, never a value (values are parameters). */
function verbOf(text: string): string {
  return /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
}

function traced(query: Query, tracer: Tracer, database: string | undefined): Query {
  return function (this: unknown, ...args: unknown[]) {
    const [first] = args;
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | undefined)?.text;
    // Callback and submittable (cursor) forms are not promises: left as they are.
    if (typeof text !== 'string' || typeof args[args.length - 1] === 'function' || typeof (first as { submit?: unknown }).submit === 'function') {
      return query.apply(this, args);
    }
    return tracer.startActiveSpan(
      `pg.query:${verbOf(text)}`,
      { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.statement': text, ...(database && { 'db.name': database }) } },
      async (span) => {
        try {
          const result = (await query.apply(this, args)) as { rowCount?: number | null };
          if (typeof result?.rowCount === 'number') span.setAttribute('db.rows', result.rowCount);
          return result;
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  };
}

export function tracePool(pool: pg.Pool, tracer: Tracer): void {
  const database = pool.options.database ?? (pool.options.connectionString ? new URL(pool.options.connectionString).pathname.slice(1) : undefined);
  pool.query = traced(pool.query.bind(pool) as Query, tracer, database) as typeof pool.query;
  const connect = pool.connect.bind(pool);
  // pool.query takes its client through the callback form: only promise-form checkouts are
  // wrapped, in a proxy, so that a statement is never traced twice.
  pool.connect = ((...args: unknown[]) => {
    if (args.length) return (connect as Query)(...args);
    return connect().then((client) => {
      const query = traced(client.query.bind(client) as Query, tracer, database);
      return new Proxy(client, { get: (target, key) => (key === 'query' ? query : Reflect.get(target, key, target)) });
    });
  }) as typeof pool.connect;
}
