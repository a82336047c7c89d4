// `npm run db:diff -- <name>`: writes prisma/migrations/<UTC timestamp>_<name>/migration.sql with
// the SQL that takes the database from the latest migration to the current prisma/schema.prisma,
// and a copy of schema.prisma beside it. Needs no database.
//
// How: the schema engine diffs two schema files. The "before" side is the snapshot of
// schema.prisma that the previous db:diff stored with its migration (an empty database if there
// are no migrations yet). Commit the snapshot with its migration; edit migration.sql freely for
// what Prisma cannot express (mark it "[raw]"), but never the snapshot.
//
// Why not diff from the migrations themselves, as `prisma migrate diff --from-migrations` does?
// That replays them on a shadow database and introspects it, and with the WASM engine on
// @prisma/adapter-pg 7.10 this fails twice over: introspection queries read "char" columns
// (pg_constraint.contype) that the adapter cannot map ("Column type 'char' could not be
// deserialized from the database."), and connectToShadowDb, for a pool built from a connection
// string, connects back to the main database rather than the shadow one (the connection
// string overrides the shadow database name), so the replay would run on the real database.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diffSql, MIGRATIONS_DIR, SCHEMA_PATH, type DiffSide } from '../lib/migrations.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('Usage: npm run db:diff -- <name>   (name: lower-case letters, digits, underscores)');
  process.exit(1);
}

const migrations = existsSync(MIGRATIONS_DIR)
  ? (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()
  : [];
const latest = migrations.at(-1);
let from: DiffSide = 'empty';
if (latest) {
  const snapshot = join(MIGRATIONS_DIR, latest, 'schema.prisma');
  if (!existsSync(snapshot)) {
    console.error(`${snapshot} is missing: it must hold schema.prisma as of migration ${latest}.`);
    process.exit(1);
  }
  from = { schemaFile: snapshot };
}

const sql = await diffSql(from, { schemaFile: SCHEMA_PATH });
if (sql === null) {
  console.log('No changes: schema.prisma matches the latest migration.');
  process.exit(0);
}

// Same shape as Prisma's own migration names: YYYYMMDDHHMMSS_name, sorted by time.
const timestamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
const dir = join(MIGRATIONS_DIR, `${timestamp}_${name}`);
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'migration.sql'), sql);
await copyFile(SCHEMA_PATH, join(dir, 'schema.prisma'));
console.log(`Wrote ${join(dir, 'migration.sql')}\n${sql}`);
