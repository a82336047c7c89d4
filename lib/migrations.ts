// Applies prisma/migrations, and diffs Prisma schemas, with Prisma's own WASM schema engine over
// the pg driver adapter. The Prisma CLI would need its native schema engine, which it downloads
// at first use; the WASM engine ships in node_modules, so this works offline. applyMigrations
// writes _prisma_migrations exactly like `prisma migrate deploy` (checksums, advisory lock, a
// failed migration blocks later runs with P3009). Used by scripts/db-migrate.ts, the dev
// supervisor, the test global setup and scripts/db-diff.ts.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  mockAdapter,
  mockMigrationAwareAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type * as Internals from '@prisma/internals';
import type { SchemaEngineWasm as SchemaEngineWasmType } from '@prisma/migrate/dist/src/SchemaEngineWasm.js';
import type { listMigrations as ListMigrations } from '@prisma/migrate/dist/src/utils/listMigrations.js';
import type { DiffParams, DiffTarget } from '@prisma/schema-engine-wasm';
import pg from 'pg';
import { PROJECT_ROOT } from './project-root.ts';

// Both packages are CommonJS whose exports Node cannot detect statically (named ESM imports
// fail), and @prisma/migrate's "types" entry points at a file it does not ship: load them with
// require and type them from their own declaration files.
const require = createRequire(import.meta.url);
const { SchemaEngineWasm } = require('@prisma/migrate/dist/SchemaEngineWasm.js') as {
  SchemaEngineWasm: typeof SchemaEngineWasmType;
};
const { listMigrations } = require('@prisma/migrate/dist/utils/listMigrations.js') as {
  listMigrations: typeof ListMigrations;
};
const { wasmSchemaEngineLoader } = require('@prisma/internals') as typeof Internals;

const root = PROJECT_ROOT;
export const MIGRATIONS_DIR = join(root, 'prisma', 'migrations');
export const SCHEMA_PATH = join(root, 'prisma', 'schema.prisma');

// No table or enum is managed outside the migrations.
const NO_EXTERNAL = { externalTables: [], externalEnums: [] };

/**
 * PrismaPg, except that a migration script goes to Postgres whole. @prisma/adapter-pg 7.10's
 * executeScript splits scripts on every ";" — inside strings, DO blocks and function bodies
 * too ("unterminated quoted string at or near ..."), and runs the pieces one by one. One
 * simple-protocol query runs the script as Postgres does (and as Prisma's native engine
 * does): in one implicit transaction, so a failed migration leaves no half-applied schema.
 */
class WholeScriptPrismaPg extends PrismaPg {
  override async connect() {
    return wholeScripts(await super.connect());
  }
}

function wholeScripts<A extends Awaited<ReturnType<PrismaPg['connect']>>>(adapter: A): A {
  adapter.executeScript = async (script) => {
    try {
      await adapter.underlyingDriver().query(script);
    } catch (error) {
      // The adapter's own mapping of pg errors to the engine's error kinds (protected in TS).
      (adapter as unknown as { onError(error: unknown): never }).onError(error);
    }
  };
  return adapter;
}

/**
 * Runs `fn` with the timers it creates unref'd. The engine races its advisory lock against a
 * 10 s setTimeout that it never clears, which would keep a short-lived process (a CLI, a test
 * setup) alive for 10 s after the work is done; the engine gives no way to reach that timer.
 */
async function withUnrefTimers<T>(fn: () => Promise<T>): Promise<T> {
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((...args: Parameters<typeof original>) => original(...args).unref()) as typeof original;
  try {
    return await fn();
  } finally {
    globalThis.setTimeout = original;
  }
}

/** Runs `fn` with a pool whose connection string is `url`, always ending the pool. */
async function withPool<T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  // One connection: the engine's advisory lock is session-level, so every statement of a run
  // must go through the session that holds it.
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Applies every migration in prisma/migrations that `databaseUrl` has not applied yet (with
 * `through`, only those up to that migration's name: tests of a migration on data of before).
 * Returns the names of the migrations applied by this call (empty when up to date). Throws the
 * engine's error on failure (the database's error for a failing migration; P3009 on later runs
 * until that migration is resolved).
 */
export async function applyMigrations(databaseUrl: string, options: { through?: string } = {}): Promise<{ applied: string[] }> {
  // No shadow database is involved, so no init script for one.
  const all = await listMigrations(MIGRATIONS_DIR, '');
  const { through } = options;
  const migrationsList = through === undefined ? all : { ...all, migrationDirectories: all.migrationDirectories.filter((m) => m.path <= through) };
  return withPool(databaseUrl, (pool) =>
    withUnrefTimers(async () => {
      const engine = await SchemaEngineWasm.setup({
        adapter: bindMigrationAwareSqlAdapterFactory(new WholeScriptPrismaPg(pool)),
      });
      try {
        const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_EXTERNAL });
        return { applied: appliedMigrationNames };
      } finally {
        await engine.stop();
      }
    }),
  );
}

/** A side of a schema diff: nothing, or a Prisma schema file. */
export type DiffSide = 'empty' | { schemaFile: string };

async function diffTarget(side: DiffSide): Promise<DiffTarget> {
  if (side === 'empty') return { tag: 'empty' };
  const content = await readFile(side.schemaFile, 'utf8');
  return { tag: 'schemaDatamodel', files: [{ path: relative(root, side.schemaFile), content }] };
}

/**
 * The SQL script that takes a database from `from` to `to`, computed offline; null when they
 * agree. (Diffs from the migrations themselves, on a shadow database, do not work with this
 * engine and adapter: see scripts/db-diff.ts.)
 */
export async function diffSql(from: DiffSide, to: DiffSide): Promise<string | null> {
  const params: DiffParams = {
    from: await diffTarget(from),
    to: await diffTarget(to),
    script: true,
    exitCode: true, // exitCode 2 = there is a difference
    filters: NO_EXTERNAL,
  };
  // The raw engine rather than SchemaEngineWasm: the wrapper prints the script to stdout
  // instead of returning it.
  const engine = await wasmSchemaEngineLoader.loadSchemaEngine(
    { datamodels: undefined },
    () => {},
    bindMigrationAwareSqlAdapterFactory(offlineAdapterFactory()),
  );
  try {
    const { exitCode, stdout } = await engine.diff(params);
    return exitCode === 2 ? (stdout ?? '') : null;
  } finally {
    engine.free();
  }
}

/**
 * A driver adapter with no database behind it. The engine asks one question when it starts
 * (does the schema exist, which server version); a diff between schema files needs nothing
 * else, so answer that and fail anything more, as Prisma's own mock adapter does.
 */
function offlineAdapterFactory(): SqlMigrationAwareDriverAdapterFactory {
  const connect = async () => ({
    ...mockAdapter('postgres'),
    queryRaw: async () => ({
      columnNames: ['exists', 'version', 'numeric_version'],
      columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
      rows: [[true, 'PostgreSQL 17.0', 170000]],
    }),
  });
  return { ...mockMigrationAwareAdapterFactory('postgres'), connect, connectToShadowDb: connect };
}
