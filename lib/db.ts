// The Prisma client on the pg driver adapter. Pool size and timeouts come from the config so
// that api and worker processes can be sized separately.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';
import { tracePool } from './db-tracing.ts';
import type { Tracing } from './tracing.ts';

export type Db = InstanceType<typeof PrismaClient>;

type DbConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'DATABASE_POOL_MAX'
  | 'DATABASE_POOL_IDLE_TIMEOUT_MS'
  | 'DATABASE_CONNECT_TIMEOUT_MS'
  | 'DATABASE_STATEMENT_TIMEOUT_MS'
>;

const pools = new WeakMap<Db, pg.Pool>();

/** With `tracing`, every statement is a span (lib/db-tracing.ts). */
export function createDb(config: DbConfig, applicationName: string, tracing?: Tracing): Db {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    idleTimeoutMillis: config.DATABASE_POOL_IDLE_TIMEOUT_MS,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    // A runaway query must not hold a pooled connection forever.
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    application_name: applicationName,
  });
  if (tracing) tracePool(pool, tracing.tracer);
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool under a client, for the one hot path where Prisma's per-statement and
 * per-transaction overhead (several milliseconds each, measured) dominates the work: retrieval
 * (activities/rag.ts). Everything else goes through Prisma.
 */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this Prisma client was not made by createDb');
  return pool;
}
