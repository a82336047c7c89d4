// Month arithmetic as pure functions, then the partition SQL against a migrated Postgres.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { testConfig } from '../test/support/config.ts';
import { createMigratedDatabase } from '../test/support/database.ts';
import {
  addMonths,
  createMaintenanceActivities,
  createPartitionsAhead,
  drainDefaultPartitions,
  dropExpiredPartitions,
  monthRange,
  monthsFrom,
  parsePartitionName,
  partitionName,
  retentionCutoff,
  yearMonth,
} from './maintenance.ts';

const logger = createLogger({ level: 'silent', name: 'test' });

describe('month arithmetic', () => {
  it('crosses December into January and back', () => {
    expect(addMonths(yearMonth(2026, 12), 1)).toEqual({ year: 2027, month: 1 });
    expect(addMonths(yearMonth(2026, 11), 3)).toEqual({ year: 2027, month: 2 });
    expect(addMonths(yearMonth(2027, 1), -1)).toEqual({ year: 2026, month: 12 });
    expect(addMonths(yearMonth(2027, 1), -13)).toEqual({ year: 2025, month: 12 });
    expect(addMonths(yearMonth(2026, 5), 0)).toEqual({ year: 2026, month: 5 });
    expect(monthsFrom(yearMonth(2026, 11), 3).map((m) => partitionName('messages', m))).toEqual([
      'messages_p2026_11',
      'messages_p2026_12',
      'messages_p2027_01',
      'messages_p2027_02',
    ]);
  });

  it('ends February on the right day in leap and common years', () => {
    expect(monthRange(yearMonth(2028, 2))).toEqual({ from: new Date('2028-02-01T00:00:00Z'), to: new Date('2028-03-01T00:00:00Z') });
    expect(monthRange(yearMonth(2028, 3)).from.getTime() - monthRange(yearMonth(2028, 2)).from.getTime()).toBe(29 * 86_400_000);
    expect(monthRange(yearMonth(2027, 3)).from.getTime() - monthRange(yearMonth(2027, 2)).from.getTime()).toBe(28 * 86_400_000);
    expect(monthRange(yearMonth(2100, 3)).from.getTime() - monthRange(yearMonth(2100, 2)).from.getTime()).toBe(28 * 86_400_000);
    expect(monthRange(yearMonth(2000, 3)).from.getTime() - monthRange(yearMonth(2000, 2)).from.getTime()).toBe(29 * 86_400_000);
  });

  it('accepts only integer years and months, so names and bounds never carry input', () => {
    expect(() => yearMonth(2026, 13)).toThrow(RangeError);
    expect(() => yearMonth(2026, 0)).toThrow(RangeError);
    expect(() => yearMonth(2026.5, 1)).toThrow(RangeError);
    expect(() => yearMonth(Number.NaN, 1)).toThrow(RangeError);
    expect(() => addMonths(yearMonth(2026, 1), 0.5)).toThrow(RangeError);
    expect(parsePartitionName('messages', 'messages_p2026_02')).toEqual({ year: 2026, month: 2 });
    for (const name of ['messages_default', 'messages_p2026_13', 'messages_p2026_2', 'messages_p2026_02"; drop table x; --', 'other_p2026_02']) {
      expect(parsePartitionName('messages', name)).toBeUndefined();
    }
  });

  it('keeps the current month and the retention months before it', () => {
    expect(retentionCutoff(new Date('2027-01-15T00:00:00Z'), 1)).toEqual({ year: 2026, month: 12 });
    expect(retentionCutoff(new Date('2027-03-31T23:59:59Z'), 12)).toEqual({ year: 2026, month: 3 });
    expect(() => retentionCutoff(new Date(), 0)).toThrow(RangeError);
  });
});

describe('partition SQL', () => {
  let db: Db;
  let url: string;

  async function partitions(): Promise<string[]> {
    const rows = await db.$queryRaw<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'messages'::regclass ORDER BY 1`;
    return rows.map((r) => r.name);
  }

  async function bounds(name: string): Promise<string> {
    const [row] = await db.$queryRaw<{ bound: string }[]>`
      SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname = ${name}`;
    return row?.bound ?? '';
  }

  async function insertMessage(createdAt: string): Promise<string> {
    const [row] = await db.$queryRaw<{ id: string }[]>`
      WITH t AS (INSERT INTO tenants (name, slug) VALUES ('t', gen_random_uuid()::text) RETURNING id),
           c AS (INSERT INTO channels (tenant_id, type, name) SELECT id, 'webchat', 'w' FROM t RETURNING id, tenant_id),
           v AS (INSERT INTO conversations (tenant_id, channel_id, external_user_id) SELECT tenant_id, id, 'u' FROM c RETURNING id, tenant_id)
      INSERT INTO messages (tenant_id, conversation_id, channel, direction, type, content, status, created_at)
      SELECT tenant_id, id, 'webchat', 'inbound', 'text', '{"text":"hi"}', 'received', ${createdAt}::timestamptz FROM v
      RETURNING id`;
    return row!.id;
  }

  async function whereIs(id: string): Promise<string> {
    const [row] = await db.$queryRaw<{ partition: string }[]>`SELECT tableoid::regclass::text AS partition FROM messages WHERE id = ${id}::uuid`;
    return row?.partition ?? 'missing';
  }

  beforeAll(async () => {
    url = await createMigratedDatabase('maintenance_sql');
    // Only far-off months are used below, so the test does not depend on the month it runs in.
    db = createDb(testConfig({ DATABASE_URL: url }), 'maintenance-test');
  });

  afterAll(async () => {
    await db?.$disconnect();
  });

  it('messages_create_partition names and bounds one UTC month, leap Februaries included', async () => {
    await db.$queryRaw`SELECT messages_create_partition('2031-12-15'::date)`;
    await db.$queryRaw`SELECT messages_create_partition('2032-01-01'::date)`;
    await db.$queryRaw`SELECT messages_create_partition('2032-02-29'::date)`;
    await db.$queryRaw`SELECT messages_create_partition('2033-02-01'::date)`;
    // Idempotent.
    const [again] = await db.$queryRaw<{ name: string }[]>`SELECT messages_create_partition('2032-02-10'::date) AS name`;
    expect(again?.name).toBe('messages_p2032_02');
    expect(await bounds('messages_p2031_12')).toBe("FOR VALUES FROM ('2031-12-01 00:00:00+00') TO ('2032-01-01 00:00:00+00')");
    expect(await bounds('messages_p2032_01')).toBe("FOR VALUES FROM ('2032-01-01 00:00:00+00') TO ('2032-02-01 00:00:00+00')");
    expect(await bounds('messages_p2032_02')).toBe("FOR VALUES FROM ('2032-02-01 00:00:00+00') TO ('2032-03-01 00:00:00+00')");
    expect(await bounds('messages_p2033_02')).toBe("FOR VALUES FROM ('2033-02-01 00:00:00+00') TO ('2033-03-01 00:00:00+00')");
    // The leap day lands in February, 1 March in March's range (default here).
    expect(await whereIs(await insertMessage('2032-02-29T23:59:59.999Z'))).toBe('messages_p2032_02');
    expect(await whereIs(await insertMessage('2032-03-01T00:00:00Z'))).toBe('messages_default');
  });

  it('creates partitions ahead across December → January, moving default rows first', async () => {
    const stray = await insertMessage('2040-01-20T10:00:00Z'); // lands in the default partition
    expect(await whereIs(stray)).toBe('messages_default');
    const [result] = await createPartitionsAhead(db, logger, 3, new Date('2039-11-20T00:00:00Z'));
    expect(result).toEqual({
      table: 'messages',
      locked: false,
      created: ['messages_p2039_11', 'messages_p2039_12', 'messages_p2040_01', 'messages_p2040_02'],
      movedRows: 1,
    });
    expect(await whereIs(stray)).toBe('messages_p2040_01');
    // Twice is a no-op.
    expect((await createPartitionsAhead(db, logger, 3, new Date('2039-11-20T00:00:00Z')))[0]?.created).toEqual([]);
  });

  it('moves default-partition rows of the last twelve months and this one into their months, and no others', async () => {
    const a = await insertMessage('2045-12-01T00:00:00Z'); // twelve months before 2046-12
    const b = await insertMessage('2045-12-31T23:59:59Z');
    const c = await insertMessage('2046-12-31T23:00:00Z');
    const d = await insertMessage('2032-03-01T00:00:00Z'); // joins the one left there by the first test
    const before = await insertMessage('2045-11-30T23:59:59Z');
    // Timestamps a tenant signing its own webhooks could once make created_at.
    const future = await insertMessage('2090-01-15T00:00:00Z');
    const past = await insertMessage('1990-01-15T00:00:00Z');
    expect(await whereIs(a)).toBe('messages_default');
    const partitionsBefore = await partitions();
    const [result] = await drainDefaultPartitions(db, logger, new Date('2046-12-10T00:00:00Z'));
    expect(result).toEqual({
      table: 'messages',
      locked: false,
      moved: [
        { partition: 'messages_p2045_12', rows: 2 },
        { partition: 'messages_p2046_12', rows: 1 },
      ],
      unmovable: 5,
    });
    expect([await whereIs(a), await whereIs(b), await whereIs(c)]).toEqual(['messages_p2045_12', 'messages_p2045_12', 'messages_p2046_12']);
    for (const id of [d, before, future, past]) expect(await whereIs(id)).toBe('messages_default');
    expect(await partitions()).toEqual([...partitionsBefore, 'messages_p2045_12', 'messages_p2046_12'].sort());
    const again = await drainDefaultPartitions(db, logger, new Date('2046-12-10T00:00:00Z'));
    expect(again[0]).toMatchObject({ moved: [], unmovable: 5 });
    const events = await db.event.count({ where: { type: 'partition.default_rows_moved' } });
    expect(events).toBe(2);
  });

  it('retention drops only months wholly before the cutoff, and is idempotent', async () => {
    const before = await partitions();
    // As of 2047-01: keep 2046-01 onwards with 12 months of retention.
    const [result] = await dropExpiredPartitions(db, logger, 12, new Date('2047-01-10T00:00:00Z'));
    const expected = before.filter((p) => /^messages_p\d{4}_\d{2}$/.test(p) && p < 'messages_p2046_01');
    expect(result?.dropped.map((d) => d.partition)).toEqual(expected);
    expect(result?.dropped.find((d) => d.partition === 'messages_p2045_12')?.rows).toBe(2);
    expect(await partitions()).toEqual(before.filter((p) => !expected.includes(p)));
    expect(await partitions()).toEqual(expect.arrayContaining(['messages_default', 'messages_p2046_12']));
    expect((await dropExpiredPartitions(db, logger, 12, new Date('2047-01-10T00:00:00Z')))[0]?.dropped).toEqual([]);
  });

  it('is safe to run concurrently: one run works, the other waits its turn or stands aside', async () => {
    const late = await insertMessage('2050-03-05T00:00:00Z'); // last month's, as of 2050-04
    const ahead = await insertMessage('2050-05-05T00:00:00Z');
    const asOf = new Date('2050-04-01T00:00:00Z');
    const [first, second] = await Promise.all([
      createPartitionsAhead(db, logger, 2, asOf),
      createPartitionsAhead(db, logger, 2, asOf),
      drainDefaultPartitions(db, logger, asOf),
    ]);
    const created = [...(first[0]?.created ?? []), ...(second[0]?.created ?? [])];
    // Each partition was created exactly once, whichever run did it.
    expect(new Set(created).size).toBe(created.length);
    // A run that stood aside leaves the rest to the next one; afterwards everything exists.
    await createPartitionsAhead(db, logger, 2, asOf);
    await drainDefaultPartitions(db, logger, asOf);
    expect(await partitions()).toEqual(expect.arrayContaining(['messages_p2050_03', 'messages_p2050_04', 'messages_p2050_05', 'messages_p2050_06']));
    expect([await whereIs(late), await whereIs(ahead)]).toEqual(['messages_p2050_03', 'messages_p2050_05']);
  });

  it('stands aside while another session holds the table\'s maintenance lock', async () => {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('metachat.partition-maintenance'), hashtext('messages'))`);
      const before = await partitions();
      const [result] = await createPartitionsAhead(db, logger, 1, new Date('2055-01-01T00:00:00Z'));
      expect(result).toMatchObject({ locked: true, created: [] });
      expect(await partitions()).toEqual(before);
      await holder.query('COMMIT');
      expect((await createPartitionsAhead(db, logger, 1, new Date('2055-01-01T00:00:00Z')))[0]).toMatchObject({ locked: false, created: ['messages_p2055_01', 'messages_p2055_02'] });
    } finally {
      await holder.end();
    }
  });

  it('prunes inbound dedupe keys older than the horizon in batches, never within the redelivery horizon', async () => {
    const asOf = new Date('2070-06-20T00:00:00Z');
    const daysAgo = (days: number) => new Date(asOf.getTime() - days * 86_400_000);
    const [tenant] = await db.$queryRaw<{ id: string }[]>`INSERT INTO tenants (name, slug) VALUES ('k', gen_random_uuid()::text) RETURNING id::text`;
    const key = (id: string, at: Date) => db.$executeRaw`
      INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id, created_at)
      VALUES (${tenant!.id}::uuid, 'whatsapp', ${id}, gen_random_uuid(), ${at})`;
    // More than one batch of keys from long ago.
    await db.$executeRaw`
      INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id, created_at)
      SELECT ${tenant!.id}::uuid, 'whatsapp', 'old.' || n, gen_random_uuid(), ${daysAgo(400)} FROM generate_series(1, 5003) n`;
    await key('forty-days', daysAgo(40));
    await key('seven-days', daysAgo(7));
    const remaining = async () => (await db.$queryRaw<{ id: string }[]>`SELECT external_message_id AS id FROM inbound_message_keys WHERE tenant_id = ${tenant!.id}::uuid ORDER BY 1`).map((r) => r.id);

    const activities = createMaintenanceActivities(db, logger);
    await expect(activities.pruneInboundMessageKeys({ olderThanDays: 7, asOf: asOf.toISOString() })).rejects.toThrow(/olderThanDays must be an integer 8\.\.3650/);
    // A longer horizon keeps a key of 40 days: a redelivery of its message is still recognised.
    expect(await activities.pruneInboundMessageKeys({ olderThanDays: 45, asOf: asOf.toISOString() })).toEqual({ before: daysAgo(45).toISOString(), deleted: 5003 });
    expect(await remaining()).toEqual(['forty-days', 'seven-days']);
    // The default: the redelivery horizon.
    expect(await activities.pruneInboundMessageKeys({ asOf: asOf.toISOString() })).toEqual({ before: daysAgo(8).toISOString(), deleted: 1 });
    expect(await remaining()).toEqual(['seven-days']);
  });

  it('refuses to take over a table that merely has a partition name', async () => {
    await db.$executeRawUnsafe('CREATE TABLE messages_p2060_01 (id int)');
    await expect(createPartitionsAhead(db, logger, 1, new Date('2060-01-01T00:00:00Z'))).rejects.toThrow(/is not a partition of messages/);
  });
});
