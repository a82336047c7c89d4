// Servers of their own for the test suite and the benchmarks, never touching a running dev stack:
// an embedded Postgres (pgvector, fsync off) in a temporary folder and a Temporal dev server
// (in-memory SQLite), both on free ports, from the tools provisioned into .local/, with a
// database migrated. If either server fails to start, the other is stopped again.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import getPort from 'get-port';
import { applyMigrations } from '../../lib/migrations.ts';
import { devServerArgs } from '../../temporal-config/dev-server.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
import { EmbeddedPostgres } from './embedded-postgres.ts';
import { ensureEmbeddedPostgres, ensureTemporalCli } from './tools.ts';

export interface StackOptions {
  /** Names the temporary folder (metachat-<name>-…). */
  name: string;
  /** The database created and migrated. */
  database: string;
  /** Extra dev-server flags, e.g. dynamic config for tests. */
  temporalArgs?: string[];
  /** Postgres settings over the defaults (`-c name=value`), e.g. memory for a benchmark. */
  postgresSettings?: Record<string, string>;
}

export interface Stack {
  dataRoot: string;
  /** The superuser URL of the cluster (its `postgres` database), to create more databases. */
  adminUrl: string;
  postgresBinDir: string;
  databaseUrl: string;
  temporalCliPath: string;
  temporalAddress: string;
  temporal: TestWorkflowEnvironment;
  versions: { postgres: string; temporalCli: string };
  /** Stops both servers; removes the temporary folder unless `keepFiles`. */
  close(keepFiles?: boolean): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const [postgresInstall, temporalCli] = await Promise.all([ensureEmbeddedPostgres(), ensureTemporalCli()]);
  const dataRoot = mkdtempSync(join(tmpdir(), `metachat-${options.name}-`));
  chmodSync(dataRoot, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
  const postgresAt = (port: number) =>
    new EmbeddedPostgres({
      binDir: postgresInstall.binDir,
      dataDir: join(dataRoot, 'pgdata'),
      port,
      logFile: join(dataRoot, 'postgres.log'),
      durable: false,
      ...(options.postgresSettings ? { settings: options.postgresSettings } : {}),
    });

  const [pgStarted, temporalStarted] = await Promise.allSettled([
    startOnFreePort(postgresAt),
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli.path },
        ip: '127.0.0.1',
        searchAttributes: SEARCH_ATTRIBUTES,
        extraArgs: [...devServerArgs(), ...(options.temporalArgs ?? [])],
        log: { format: 'pretty', level: 'error' },
      },
    }),
  ]);
  const postgres = pgStarted.status === 'fulfilled' ? pgStarted.value : undefined;
  const temporal = temporalStarted.status === 'fulfilled' ? temporalStarted.value : undefined;
  const close = async (keepFiles = false) => {
    await temporal?.teardown().catch(() => {});
    await postgres?.stop().catch(() => {});
    if (!keepFiles) rmSync(dataRoot, { recursive: true, force: true });
  };
  if (!postgres || !temporal) {
    await close(true);
    throw pgStarted.status === 'rejected' ? pgStarted.reason : (temporalStarted as PromiseRejectedResult).reason;
  }

  try {
    const databaseUrl = await postgres.ensureDatabase(options.database);
    await applyMigrations(databaseUrl);
    return {
      dataRoot,
      adminUrl: postgres.url(),
      postgresBinDir: postgresInstall.binDir,
      databaseUrl,
      temporalCliPath: temporalCli.path,
      temporalAddress: temporal.address,
      temporal,
      versions: { postgres: postgresInstall.version, temporalCli: temporalCli.version.replace(/\s+/g, ' ') },
      close,
    };
  } catch (err) {
    await close(true);
    throw err;
  }
}

/**
 * Postgres on a free port. The Temporal dev server starts beside it and picks its own ports, so
 * one may take Postgres's between the pick and the bind: Postgres then exits at once, and a new
 * port is picked.
 */
async function startOnFreePort(postgresAt: (port: number) => EmbeddedPostgres): Promise<EmbeddedPostgres> {
  for (let attempt = 1; ; attempt++) {
    const postgres = postgresAt(await getPort({ host: '127.0.0.1' }));
    try {
      await postgres.start();
      return postgres;
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('Address already in use')) throw err;
    }
  }
}
