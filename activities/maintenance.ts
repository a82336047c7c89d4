// Partition maintenance for the monthly range-partitioned tables (today: messages). Four jobs,
// each idempotent and each safe to run while another run does the same:
//   - rows that landed in the default partition during the last MONTHS_BACK months (or this
//     one) move into their own month's partition;
//   - partitions exist for the current month and a number of months ahead;
//   - with a retention setting, partitions wholly older than it are detached and dropped;
//   - dedupe keys of inbound messages older than the redelivery horizon are deleted.
//
// What is created is bounded by the clock, never by the data: at most MONTHS_BACK + 1 +
// monthsAhead partitions (monthsAhead ≤ 36) per run, so at most that many ACCESS EXCLUSIVE locks
// of the parent. created_at is the platform's own time (activities/store.ts), so a row can
// land in the default partition only when maintenance fell behind; a row of any other month
// (stored before created_at was the platform's, when it was a provider's timestamp that the
// tenant could forge) stays in the default partition, where it is still read and counted.
//
// SQL safety: tables come only from the PARTITIONED_TABLES allow-list below, and partition
// names and bounds only from validated integers (year, month). Identifiers are checked against
// a strict pattern before they are quoted into DDL; every value is a bind parameter; new
// partitions are made by the table's own SQL function (format('%I', ...) inside).
//
// Concurrency: each table's work runs in one transaction that first takes
// pg_try_advisory_xact_lock(<maintenance>, <table>); a second run that does not get it reports
// `locked` and leaves the table to the first. Before any DDL the transaction locks the parent
// table (ACCESS EXCLUSIVE, which CREATE ... PARTITION OF and DETACH need anyway) so that it
// never waits for a lock while holding another: no deadlock with concurrent inserts, and no
// insert can land in the default partition between moving its rows out and creating the
// partition that would have refused them. lock_timeout keeps it from queueing behind a long
// query (and blocking everyone behind itself): the activity fails and Temporal retries.
import { ApplicationFailure } from '@temporalio/common';
import { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { REDELIVERY_HORIZON_DAYS } from '../lib/redelivery.ts';

// ---------------------------------------------------------------------------------------------
// Month arithmetic (pure)

/** A calendar month in UTC; month is 1..12. */
export interface YearMonth {
  year: number;
  month: number;
}

/** Validates; the only way partition names and bounds are ever made. */
export function yearMonth(year: number, month: number): YearMonth {
  if (!Number.isInteger(year) || year < 1000 || year > 9999) throw new RangeError(`year must be an integer 1000..9999, got ${year}`);
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError(`month must be an integer 1..12, got ${month}`);
  return { year, month };
}

export function yearMonthOf(date: Date): YearMonth {
  return yearMonth(date.getUTCFullYear(), date.getUTCMonth() + 1);
}

/** `n` months later (earlier when negative), across year boundaries. */
export function addMonths(ym: YearMonth, n: number): YearMonth {
  if (!Number.isInteger(n)) throw new RangeError(`months must be an integer, got ${n}`);
  const index = ym.year * 12 + (ym.month - 1) + n;
  return yearMonth(Math.floor(index / 12), (index % 12) + 1);
}

export function compareYearMonth(a: YearMonth, b: YearMonth): number {
  return a.year * 12 + a.month - (b.year * 12 + b.month);
}

/** First instant of the month, UTC. */
export function monthStart(ym: YearMonth): Date {
  return new Date(Date.UTC(ym.year, ym.month - 1, 1));
}

/** [start, end) of the month, UTC; end is the next month's start (so February knows leap years). */
export function monthRange(ym: YearMonth): { from: Date; to: Date } {
  return { from: monthStart(ym), to: monthStart(addMonths(ym, 1)) };
}

/** `from` and the `ahead` months after it. */
export function monthsFrom(from: YearMonth, ahead: number): YearMonth[] {
  return Array.from({ length: ahead + 1 }, (_, i) => addMonths(from, i));
}

export function formatYearMonth(ym: YearMonth): string {
  return `${ym.year}-${String(ym.month).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// The allow-list

interface PartitionedTable {
  /** Monthly partitions are `${prefix}YYYY_MM`. */
  partitionPrefix: string;
  defaultPartition: string;
  partitionKey: string;
  /** SQL function (month date) → partition name; creates the partition if missing. */
  createFunction: string;
}

export const PARTITIONED_TABLES = {
  messages: {
    partitionPrefix: 'messages_p',
    defaultPartition: 'messages_default',
    partitionKey: 'created_at',
    createFunction: 'messages_create_partition',
  },
} as const satisfies Record<string, PartitionedTable>;

export type PartitionedTableName = keyof typeof PARTITIONED_TABLES;
export const PARTITIONED_TABLE_NAMES = Object.keys(PARTITIONED_TABLES) as PartitionedTableName[];

export function partitionName(table: PartitionedTableName, ym: YearMonth): string {
  const valid = yearMonth(ym.year, ym.month);
  return `${PARTITIONED_TABLES[table].partitionPrefix}${valid.year}_${String(valid.month).padStart(2, '0')}`;
}

/** The month a partition of `table` covers, from its name; undefined for any other name. */
export function parsePartitionName(table: PartitionedTableName, name: string): YearMonth | undefined {
  const { partitionPrefix } = PARTITIONED_TABLES[table];
  if (!name.startsWith(partitionPrefix)) return undefined;
  const match = /^(\d{4})_(\d{2})$/.exec(name.slice(partitionPrefix.length));
  if (!match) return undefined;
  try {
    return yearMonth(Number(match[1]), Number(match[2]));
  } catch {
    return undefined;
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A quoted identifier for DDL; only names from the allow-list or made from validated months. */
function ident(name: string): Prisma.Sql {
  if (!IDENTIFIER.test(name)) throw new Error(`refusing unsafe SQL identifier ${JSON.stringify(name)}`);
  return Prisma.raw(`"${name}"`);
}

// ---------------------------------------------------------------------------------------------
// SQL

type Tx = Prisma.TransactionClient;

const LOCK_TIMEOUT = '10s';
const STATEMENT_TIMEOUT = '10min';

/**
 * Runs `fn` in a transaction holding the table's maintenance advisory lock, or returns
 * 'locked' when another run holds it.
 */
async function withMaintenanceLock<T>(db: Db, table: PartitionedTableName, fn: (tx: Tx) => Promise<T>): Promise<T | 'locked'> {
  return db.$transaction(
    async (tx) => {
      const [row] = await tx.$queryRaw<{ locked: boolean }[]>`
        SELECT pg_try_advisory_xact_lock(hashtext('metachat.partition-maintenance'), hashtext(${table})) AS locked`;
      if (!row?.locked) return 'locked' as const;
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await tx.$executeRawUnsafe(`SET LOCAL statement_timeout = '${STATEMENT_TIMEOUT}'`);
      return fn(tx);
    },
    { maxWait: 10_000, timeout: 15 * 60_000 },
  );
}

/** Locks the whole partitioned table before DDL (see the header); once per transaction is enough. */
async function lockForDdl(tx: Tx, table: PartitionedTableName): Promise<void> {
  await tx.$executeRaw`LOCK TABLE ${ident(table)} IN ACCESS EXCLUSIVE MODE`;
}

interface PartitionState {
  exists: boolean;
  attached: boolean;
}

async function partitionState(tx: Tx, table: PartitionedTableName, name: string): Promise<PartitionState> {
  const [row] = await tx.$queryRaw<PartitionState[]>`
    SELECT to_regclass(${name}) IS NOT NULL AS exists,
           EXISTS (SELECT 1 FROM pg_inherits
                   WHERE inhrelid = to_regclass(${name}) AND inhparent = to_regclass(${table})) AS attached`;
  return row ?? { exists: false, attached: false };
}

/** Attached monthly partitions of `table`, by the month their name says. */
async function listMonthlyPartitions(tx: Tx | Db, table: PartitionedTableName): Promise<{ name: string; month: YearMonth }[]> {
  const rows = await tx.$queryRaw<{ name: string }[]>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(${table}) ORDER BY c.relname`;
  return rows.flatMap(({ name }) => {
    const month = parsePartitionName(table, name);
    return month ? [{ name, month }] : [];
  });
}

export interface EnsuredPartition {
  partition: string;
  created: boolean;
  /** Rows moved from the default partition into the new partition. */
  movedRows: number;
}

/**
 * Creates the month's partition unless it exists, first moving the month's rows out of the
 * default partition (Postgres refuses to create a partition whose range has rows there) and
 * back in afterwards, all in the caller's transaction. The caller has called lockForDdl.
 */
async function ensurePartition(tx: Tx, table: PartitionedTableName, ym: YearMonth): Promise<EnsuredPartition> {
  const spec = PARTITIONED_TABLES[table];
  const name = partitionName(table, ym);
  const state = await partitionState(tx, table, name);
  if (state.attached) return { partition: name, created: false, movedRows: 0 };
  if (state.exists) {
    // CREATE TABLE IF NOT EXISTS would silently leave the month without a partition.
    throw ApplicationFailure.nonRetryable(
      `table ${name} exists but is not a partition of ${table}; attach or rename it, then run maintenance again`,
      'PartitionNameTaken',
    );
  }

  const { from, to } = monthRange(ym);
  const parent = ident(table);
  const defaultPartition = ident(spec.defaultPartition);
  const key = ident(spec.partitionKey);
  const holding = ident(`partition_move_${ym.year}_${String(ym.month).padStart(2, '0')}`);

  await tx.$executeRaw`CREATE TEMP TABLE ${holding} ON COMMIT DROP AS SELECT * FROM ${defaultPartition} WITH NO DATA`;
  const moved = await tx.$executeRaw`
    WITH moved AS (
      DELETE FROM ${defaultPartition}
      WHERE ${key} >= ${from.toISOString()}::timestamptz AND ${key} < ${to.toISOString()}::timestamptz
      RETURNING *)
    INSERT INTO ${holding} SELECT * FROM moved`;

  const monthDate = `${formatYearMonth(ym)}-01`;
  const [made] = await tx.$queryRaw<{ name: string }[]>`SELECT ${ident(spec.createFunction)}(${monthDate}::date) AS name`;
  if (made?.name !== name) throw new Error(`${spec.createFunction} made ${made?.name}, expected ${name}`);

  if (moved > 0) await tx.$executeRaw`INSERT INTO ${parent} SELECT * FROM ${holding}`;
  await tx.$executeRaw`DROP TABLE ${holding}`;
  return { partition: name, created: true, movedRows: moved };
}

async function audit(tx: Tx, type: string, partition: string, payload: Record<string, unknown>): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO events (type, subject_type, subject_id, payload)
    VALUES (${type}, 'partition', ${partition}, ${JSON.stringify(payload)}::jsonb)`;
}

// ---------------------------------------------------------------------------------------------
// Operations (also used by the integrity checks' remediation)

/**
 * Months before the current one whose stray rows the drain still moves (maintenance that fell
 * behind for up to a year); its partitions are the only past ones maintenance ever creates.
 */
export const MONTHS_BACK = 12;

export interface DrainResult {
  table: PartitionedTableName;
  locked: boolean;
  moved: { partition: string; rows: number }[];
  /** Rows of months outside MONTHS_BACK before `asOf`'s through `asOf`'s: left in place. */
  unmovable: number;
}

/**
 * Moves the default partitions' rows of the last MONTHS_BACK months and `asOf`'s month into
 * their months' (new) partitions. Later months' rows move when createPartitionsAhead makes their
 * partitions; any others stay (see the header).
 */
export async function drainDefaultPartitions(db: Db, logger: Logger, asOf: Date): Promise<DrainResult[]> {
  const from = monthStart(addMonths(yearMonthOf(asOf), -MONTHS_BACK));
  const to = monthRange(yearMonthOf(asOf)).to;
  const results: DrainResult[] = [];
  for (const table of PARTITIONED_TABLE_NAMES) {
    const defaultPartition = ident(PARTITIONED_TABLES[table].defaultPartition);
    const key = ident(PARTITIONED_TABLES[table].partitionKey);
    const inRange = Prisma.sql`${key} >= ${from.toISOString()}::timestamptz AND ${key} < ${to.toISOString()}::timestamptz`;
    const [found] = await db.$queryRaw<{ movable: bigint; unmovable: bigint }[]>`
      SELECT count(*) FILTER (WHERE ${inRange}) AS movable, count(*) FILTER (WHERE NOT (${inRange})) AS unmovable FROM ${defaultPartition}`;
    const unmovable = Number(found?.unmovable ?? 0);
    if (!found?.movable) {
      results.push({ table, locked: false, moved: [], unmovable });
      continue;
    }
    const outcome = await withMaintenanceLock(db, table, async (tx) => {
      await lockForDdl(tx, table);
      const months = await tx.$queryRaw<{ year: number; month: number }[]>`
        SELECT DISTINCT extract(year FROM ${key} AT TIME ZONE 'UTC')::int AS year,
               extract(month FROM ${key} AT TIME ZONE 'UTC')::int AS month
        FROM ${defaultPartition} WHERE ${inRange} ORDER BY 1, 2`;
      const moved: DrainResult['moved'] = [];
      for (const row of months) {
        const done = await ensurePartition(tx, table, yearMonth(row.year, row.month));
        moved.push({ partition: done.partition, rows: done.movedRows });
        await audit(tx, 'partition.default_rows_moved', done.partition, { table, rows: done.movedRows });
      }
      return { table, locked: false, moved, unmovable };
    });
    const result = outcome === 'locked' ? { table, locked: true, moved: [], unmovable } : outcome;
    if (result.moved.length || result.unmovable) logger.info(result, 'drained the default partition');
    results.push(result);
  }
  return results;
}

export interface CreateAheadResult {
  table: PartitionedTableName;
  locked: boolean;
  created: string[];
  movedRows: number;
}

/** Partitions for `asOf`'s month and `monthsAhead` months after it. */
export async function createPartitionsAhead(db: Db, logger: Logger, monthsAhead: number, asOf: Date): Promise<CreateAheadResult[]> {
  const months = monthsFrom(yearMonthOf(asOf), monthsAhead);
  const results: CreateAheadResult[] = [];
  for (const table of PARTITIONED_TABLE_NAMES) {
    const existing = new Set((await listMonthlyPartitions(db, table)).map((p) => p.name));
    const missing = months.filter((m) => !existing.has(partitionName(table, m)));
    if (missing.length === 0) {
      results.push({ table, locked: false, created: [], movedRows: 0 });
      continue;
    }
    const outcome = await withMaintenanceLock(db, table, async (tx) => {
      await lockForDdl(tx, table);
      const created: string[] = [];
      let movedRows = 0;
      for (const month of missing) {
        const done = await ensurePartition(tx, table, month);
        if (!done.created) continue;
        created.push(done.partition);
        movedRows += done.movedRows;
        await audit(tx, 'partition.created', done.partition, { table, movedRows: done.movedRows });
      }
      return { table, locked: false, created, movedRows };
    });
    const result = outcome === 'locked' ? { table, locked: true, created: [], movedRows: 0 } : outcome;
    if (result.created.length) logger.info(result, 'created partitions');
    results.push(result);
  }
  return results;
}

export interface RetentionResult {
  table: PartitionedTableName;
  locked: boolean;
  /** Months before this one were dropped. */
  keepFrom: string;
  dropped: { partition: string; rows: number }[];
}

/** Expired: every month before (asOf's month − retentionMonths). The current month never is. */
export function retentionCutoff(asOf: Date, retentionMonths: number): YearMonth {
  if (!Number.isInteger(retentionMonths) || retentionMonths < 1) throw new RangeError(`retentionMonths must be a positive integer, got ${retentionMonths}`);
  return addMonths(yearMonthOf(asOf), -retentionMonths);
}

export async function dropExpiredPartitions(db: Db, logger: Logger, retentionMonths: number, asOf: Date): Promise<RetentionResult[]> {
  const keepFrom = retentionCutoff(asOf, retentionMonths);
  const results: RetentionResult[] = [];
  for (const table of PARTITIONED_TABLE_NAMES) {
    const expired = (await listMonthlyPartitions(db, table)).filter((p) => compareYearMonth(p.month, keepFrom) < 0);
    if (expired.length === 0) {
      results.push({ table, locked: false, keepFrom: formatYearMonth(keepFrom), dropped: [] });
      continue;
    }
    const outcome = await withMaintenanceLock(db, table, async (tx) => {
      await lockForDdl(tx, table);
      const dropped: RetentionResult['dropped'] = [];
      // Listed again under the lock: another run may have dropped some meanwhile.
      for (const { month } of (await listMonthlyPartitions(tx, table)).filter((p) => compareYearMonth(p.month, keepFrom) < 0)) {
        const name = partitionName(table, month);
        const [count] = await tx.$queryRaw<{ rows: bigint }[]>`SELECT count(*) AS rows FROM ${ident(name)}`;
        await tx.$executeRaw`ALTER TABLE ${ident(table)} DETACH PARTITION ${ident(name)}`;
        await tx.$executeRaw`DROP TABLE ${ident(name)}`;
        const rows = Number(count?.rows ?? 0);
        dropped.push({ partition: name, rows });
        await audit(tx, 'partition.dropped', name, { table, rows, retentionMonths });
      }
      return { table, locked: false, keepFrom: formatYearMonth(keepFrom), dropped };
    });
    const result = outcome === 'locked' ? { table, locked: true, keepFrom: formatYearMonth(keepFrom), dropped: [] } : outcome;
    if (result.dropped.length) logger.info(result, 'dropped expired partitions');
    results.push(result);
  }
  return results;
}

export interface PruneKeysResult {
  /** Keys written before this instant were deleted. */
  before: string;
  deleted: number;
}

/** Keys deleted per statement: each DELETE stays short, whatever the backlog. */
const PRUNE_BATCH = 5_000;

/**
 * Deletes the dedupe keys of inbound messages stored more than `olderThanDays` before `asOf`:
 * a redelivery after that is no longer expected (lib/redelivery.ts), and a delivery of such an
 * old message id is then stored as a new message.
 */
export async function pruneInboundMessageKeys(db: Db, logger: Logger, olderThanDays: number, asOf: Date): Promise<PruneKeysResult> {
  const before = new Date(asOf.getTime() - olderThanDays * 86_400_000);
  let deleted = 0;
  for (;;) {
    const n = await db.$executeRaw`
      DELETE FROM inbound_message_keys WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM inbound_message_keys WHERE created_at < ${before} LIMIT ${PRUNE_BATCH}))`;
    deleted += n;
    if (n < PRUNE_BATCH) break;
  }
  if (deleted) logger.info({ deleted, before: before.toISOString() }, 'pruned inbound message keys');
  return { before: before.toISOString(), deleted };
}

/** Rows currently in each default partition. */
export async function countDefaultPartitionRows(db: Db): Promise<{ table: PartitionedTableName; rows: number }[]> {
  const counts: { table: PartitionedTableName; rows: number }[] = [];
  for (const table of PARTITIONED_TABLE_NAMES) {
    const [row] = await db.$queryRaw<{ rows: bigint }[]>`SELECT count(*) AS rows FROM ${ident(PARTITIONED_TABLES[table].defaultPartition)}`;
    counts.push({ table, rows: Number(row?.rows ?? 0) });
  }
  return counts;
}

/** Months from `asOf`'s through `monthsAhead` later that have no partition. */
export async function findMissingPartitions(db: Db, monthsAhead: number, asOf: Date): Promise<string[]> {
  const missing: string[] = [];
  for (const table of PARTITIONED_TABLE_NAMES) {
    const existing = new Set((await listMonthlyPartitions(db, table)).map((p) => p.name));
    for (const month of monthsFrom(yearMonthOf(asOf), monthsAhead)) {
      const name = partitionName(table, month);
      if (!existing.has(name)) missing.push(name);
    }
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Activities

export interface MaintenanceActivityInput {
  /** ISO date standing in for "now" (tests, backfills); default: the activity's clock. */
  asOf?: string;
}

function asOfDate(input: MaintenanceActivityInput): Date {
  if (input.asOf === undefined) return new Date();
  const date = new Date(input.asOf);
  if (Number.isNaN(date.getTime())) throw ApplicationFailure.nonRetryable(`asOf is not a date: ${input.asOf}`, 'InvalidInput');
  return date;
}

function positiveInt(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw ApplicationFailure.nonRetryable(`${name} must be an integer 1..${max}, got ${String(value)}`, 'InvalidInput');
  }
  return value;
}

export function createMaintenanceActivities(db: Db, logger: Logger) {
  return {
    /** Input absent in runs started before it had one: the activity's clock. */
    async moveDefaultPartitionRows(input: MaintenanceActivityInput = {}): Promise<DrainResult[]> {
      return drainDefaultPartitions(db, logger, asOfDate(input));
    },
    async createPartitionsAhead(input: MaintenanceActivityInput & { monthsAhead: number }): Promise<CreateAheadResult[]> {
      return createPartitionsAhead(db, logger, positiveInt('monthsAhead', input.monthsAhead, 36), asOfDate(input));
    },
    async dropExpiredPartitions(input: MaintenanceActivityInput & { retentionMonths: number }): Promise<RetentionResult[]> {
      return dropExpiredPartitions(db, logger, positiveInt('retentionMonths', input.retentionMonths, 1200), asOfDate(input));
    },
    /** olderThanDays: at least (and by default) the redelivery horizon, so no redelivery is stored twice. */
    async pruneInboundMessageKeys(input: MaintenanceActivityInput & { olderThanDays?: number }): Promise<PruneKeysResult> {
      const days = input.olderThanDays ?? REDELIVERY_HORIZON_DAYS;
      if (!Number.isInteger(days) || days < REDELIVERY_HORIZON_DAYS || days > 3650) {
        throw ApplicationFailure.nonRetryable(`olderThanDays must be an integer ${REDELIVERY_HORIZON_DAYS}..3650, got ${String(days)}`, 'InvalidInput');
      }
      return pruneInboundMessageKeys(db, logger, days, asOfDate(input));
    },
  };
}
