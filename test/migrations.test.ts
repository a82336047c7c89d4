// The migrations on a real Postgres: applied by the WASM engine to an empty database, and the
// raw SQL Prisma cannot express (partitions, generated tsvector, partial HNSW index) in place.
import { readdirSync } from 'node:fs';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../generated/prisma/client.ts';
import { applyMigrations, diffSql, MIGRATIONS_DIR, SCHEMA_PATH } from '../lib/migrations.ts';
import { createTestDatabase } from './support/database.ts';

const migrationNames = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** messages_pYYYY_MM of the UTC month `offset` months from now. */
function partitionName(offset: number): string {
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `messages_p${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** A pgvector literal of 384 dimensions, mostly `fill`, with 1 at `hot`. */
function vector384(hot: number, fill = 0.01): string {
  return `[${Array.from({ length: 384 }, (_, i) => (i === hot ? 1 : fill)).join(',')}]`;
}

describe('migrations', () => {
  let databaseUrl: string;
  let firstRun: { applied: string[] };
  let db: pg.Client;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('migrations');
    firstRun = await applyMigrations(databaseUrl);
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
  });

  /** A tenant with a WhatsApp channel and one conversation. */
  async function seed(slug: string) {
    const tenant = await db.query<{ id: string }>(`INSERT INTO tenants (name, slug) VALUES ($1, $1) RETURNING id`, [slug]);
    const tenantId = tenant.rows[0]!.id;
    const channel = await db.query<{ id: string }>(
      `INSERT INTO channels (tenant_id, type, name, phone_number_id) VALUES ($1, 'whatsapp', 'wa', $2) RETURNING id`,
      [tenantId, `pn-${slug}`],
    );
    const channelId = channel.rows[0]!.id;
    const conversation = await db.query<{ id: string }>(
      `INSERT INTO conversations (tenant_id, channel_id, external_user_id) VALUES ($1, $2, '15550001') RETURNING id`,
      [tenantId, channelId],
    );
    return { tenantId, channelId, conversationId: conversation.rows[0]!.id };
  }

  it('applies every migration to an empty database, then nothing', async () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    expect(firstRun.applied).toEqual(migrationNames);
    expect(await applyMigrations(databaseUrl)).toEqual({ applied: [] });

    const { rows } = await db.query(
      `SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NULL AS current
       FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows).toEqual(migrationNames.map((name) => ({ migration_name: name, finished: true, current: true })));
  });

  it('has no schema.prisma change missing from the migrations', async () => {
    const latest = migrationNames.at(-1)!;
    expect(await diffSql({ schemaFile: `${MIGRATIONS_DIR}/${latest}/schema.prisma` }, { schemaFile: SCHEMA_PATH })).toBeNull();
  });

  it('partitions messages by month with the current and next month and a default partition', async () => {
    const partitioned = await db.query(
      `SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'messages'::regclass`,
    );
    expect(partitioned.rows).toEqual([{ partstrat: 'r' }]);

    const { rows } = await db.query<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'messages'::regclass`,
    );
    const names = rows.map((row) => row.name);
    expect(names).toEqual(expect.arrayContaining([partitionName(0), partitionName(1), 'messages_default']));
    expect(rows.find((row) => row.name === 'messages_default')?.bound).toBe('DEFAULT');
  });

  it('stores a message now in the current month; its dedupe key is one per tenant, channel type and provider id, whatever the time', async () => {
    const { tenantId, conversationId } = await seed('partitions');
    const stored = await db.query<{ id: string; partition: string }>(
      `INSERT INTO messages (tenant_id, conversation_id, channel, external_message_id, direction, type, content, status, created_at)
       VALUES ($1, $2, 'whatsapp', 'wamid.1', 'inbound', 'text', '{"text":"hi"}', 'received', $3) RETURNING id, tableoid::regclass::text AS partition`,
      [tenantId, conversationId, new Date()],
    );
    expect(stored.rows[0]?.partition).toBe(partitionName(0));

    const key = `INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id, created_at) VALUES ($1, 'whatsapp', 'wamid.1', $2, $3)`;
    await db.query(key, [tenantId, stored.rows[0]!.id, new Date()]);
    // A redelivery weeks later, under another row id.
    const later = [tenantId, '00000000-0000-4000-8000-000000000001', new Date(Date.now() + 40 * 86_400_000)];
    await expect(db.query(key, later)).rejects.toMatchObject({ code: '23505', constraint: 'inbound_message_keys_pkey' });
    expect((await db.query(`${key} ON CONFLICT DO NOTHING`, later)).rowCount).toBe(0);
    // The same provider id of another tenant is that tenant's own message.
    const other = await seed('partitions-other');
    expect((await db.query(key, [other.tenantId, '00000000-0000-4000-8000-000000000002', new Date()])).rowCount).toBe(1);
  });

  it('backfills the dedupe keys of the inbound messages a redelivery could still repeat, on a populated table', async () => {
    const name = migrationNames.find((m) => m.endsWith('_inbound_message_keys'))!;
    const url = await createTestDatabase('migrations_backfill');
    await applyMigrations(url, { through: migrationNames[migrationNames.indexOf(name) - 1]! });
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      const [tenant] = (await old.query<{ id: string }>(`INSERT INTO tenants (name, slug) VALUES ('b', 'b') RETURNING id`)).rows;
      const [channel] = (await old.query<{ id: string }>(`INSERT INTO channels (tenant_id, type, name, phone_number_id) VALUES ($1, 'whatsapp', 'wa', 'pn-b') RETURNING id`, [tenant!.id])).rows;
      const [conversation] = (await old.query<{ id: string }>(`INSERT INTO conversations (tenant_id, channel_id, external_user_id) VALUES ($1, $2, 'u') RETURNING id`, [tenant!.id, channel!.id])).rows;
      // created_at was the provider's timestamp then.
      const message = async (externalId: string | null, daysAgo: number, direction = 'inbound') =>
        (await old.query<{ id: string; created_at: Date }>(
          `INSERT INTO messages (tenant_id, conversation_id, channel, external_message_id, direction, type, content, status, created_at)
           VALUES ($1, $2, 'whatsapp', $3, $4, 'text', '{}', 'received', now() - make_interval(secs => $5)) RETURNING id, created_at`,
          [tenant!.id, conversation!.id, externalId, direction, daysAgo * 86_400],
        )).rows[0]!;
      const recent = await message('wamid.recent', 1);
      const twiceFirst = await message('wamid.twice', 2); // a timestamp that differed between deliveries
      await message('wamid.twice', 1 / 24);
      await message('wamid.old', 30);
      const future = await message('wamid.2090', -64 * 365); // a forged one, in the default partition
      await message('wamid.ours', 0, 'outbound');
      await message(null, 0);

      expect((await applyMigrations(url)).applied).toEqual(migrationNames.slice(migrationNames.indexOf(name)));
      const keys = await old.query(`SELECT external_message_id, message_id, created_at FROM inbound_message_keys ORDER BY external_message_id`);
      expect(keys.rows).toEqual([
        { external_message_id: 'wamid.2090', message_id: future.id, created_at: future.created_at },
        { external_message_id: 'wamid.recent', message_id: recent.id, created_at: recent.created_at },
        { external_message_id: 'wamid.twice', message_id: twiceFirst.id, created_at: twiceFirst.created_at },
      ]);
      const sentAt = await old.query(`SELECT count(*)::int AS n FROM messages WHERE sent_at IS NULL`);
      expect(sentAt.rows[0]!.n).toBe(7);
    } finally {
      await old.end();
    }
  });

  it('keeps PII redaction off for the tenants that existed before the setting, and leaves a choice already made', async () => {
    const name = migrationNames.find((m) => m.endsWith('_tenants_redact_pii_setting'))!;
    const url = await createTestDatabase('migrations_redact_pii');
    await applyMigrations(url, { through: migrationNames[migrationNames.indexOf(name) - 1]! });
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      await old.query(`INSERT INTO tenants (name, slug, settings) VALUES ('a', 'a', '{"locale": "pt-BR"}'), ('b', 'b', '{"privacy": {"redactPii": true}}'), ('c', 'c', '{}')`);
      await applyMigrations(url);
      const { rows } = await old.query<{ slug: string; settings: unknown }>(`SELECT slug, settings FROM tenants ORDER BY slug`);
      expect(rows).toEqual([
        { slug: 'a', settings: { locale: 'pt-BR', privacy: { redactPii: false } } },
        { slug: 'b', settings: { privacy: { redactPii: true } } },
        { slug: 'c', settings: { privacy: { redactPii: false } } },
      ]);
    } finally {
      await old.end();
    }
  });

  it('indexes chunks for full text (GIN on the generated tsv) and kNN (partial HNSW)', async () => {
    const { rows } = await db.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks'`,
    );
    const byName = new Map(rows.map((row) => [row.indexname, row.indexdef]));
    expect(byName.get('chunks_tsv_idx')).toMatch(/USING gin \(tsv\)/);
    const hnsw = byName.get('chunks_embedding_local_hash_384_idx');
    expect(hnsw).toMatch(/USING hnsw \(\(\(embedding\)::vector\(384\)\) vector_cosine_ops\)/);
    expect(hnsw).toMatch(/WHERE \(embedding_model = 'local-hash-384'::text\)/);
  });

  it('fills tsv from content and plans kNN queries on the HNSW index', async () => {
    const { tenantId } = await seed('chunks');
    const document = await db.query<{ id: string }>(
      `INSERT INTO documents (tenant_id, document_key, title, mime_type, content_hash, size_bytes)
       VALUES ($1, 'faq', 'FAQ', 'text/plain', 'abc', 10) RETURNING id`,
      [tenantId],
    );
    for (let ordinal = 0; ordinal < 3; ordinal++) {
      await db.query(
        `INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_hash, embedding, embedding_model)
         VALUES ($1, $2, $3, $4, $5, $6::vector, 'local-hash-384')`,
        [tenantId, document.rows[0]!.id, ordinal, `Opening hours of shop ${ordinal}: Mondays closed`, `h${ordinal}`, vector384(ordinal)],
      );
    }

    const matches = await db.query(
      `SELECT tsv::text AS tsv FROM chunks WHERE tsv @@ to_tsquery('simple', 'mondays & shop')`,
    );
    expect(matches.rowCount).toBe(3);
    expect(matches.rows[0].tsv).toContain("'opening'");

    await db.query('SET enable_seqscan = off');
    try {
      const plan = await db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM chunks WHERE embedding_model = 'local-hash-384'
         ORDER BY embedding::vector(384) <=> '${vector384(1)}'::vector(384) LIMIT 10`,
      );
      expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('chunks_embedding_local_hash_384_idx');
    } finally {
      await db.query('RESET enable_seqscan');
    }
  });

  it('rejects a status outside its enum', async () => {
    const { conversationId } = await seed('enums');
    await expect(db.query(`UPDATE conversations SET status = 'snoozed' WHERE id = $1`, [conversationId])).rejects.toMatchObject({
      code: '22P02', // invalid_text_representation: not a value of the enum
    });
  });

  it('deletes everything a tenant owns with the tenant', async () => {
    const { tenantId, conversationId } = await seed('cascade');
    await db.query(
      `INSERT INTO messages (tenant_id, conversation_id, channel, direction, type, content, status)
       VALUES ($1, $2, 'whatsapp', 'outbound', 'text', '{}', 'pending')`,
      [tenantId, conversationId],
    );
    await db.query(`INSERT INTO events (tenant_id, type) VALUES ($1, 'test.event')`, [tenantId]);
    await db.query(`INSERT INTO inbound_message_keys (tenant_id, channel, external_message_id, message_id) VALUES ($1, 'whatsapp', 'wamid.c', gen_random_uuid())`, [tenantId]);

    await db.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
    const { rows } = await db.query<{ left: number }>(
      `SELECT (SELECT count(*) FROM channels WHERE tenant_id = $1)
            + (SELECT count(*) FROM conversations WHERE tenant_id = $1)
            + (SELECT count(*) FROM messages WHERE tenant_id = $1)
            + (SELECT count(*) FROM events WHERE tenant_id = $1)
            + (SELECT count(*) FROM inbound_message_keys WHERE tenant_id = $1) AS left`,
      [tenantId],
    );
    expect(Number(rows[0]!.left)).toBe(0);
  });

  it('works with the generated Prisma client on the pg adapter', async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
    try {
      const created = await prisma.tenant.create({ data: { name: 'Acme', slug: 'acme', settings: { language: 'en' } } });
      const found = await prisma.tenant.findUnique({ where: { slug: 'acme' } });
      expect(found).toMatchObject({ id: created.id, name: 'Acme', settings: { language: 'en' }, settingsVersion: 1 });
    } finally {
      await prisma.$disconnect();
    }
  });
});
