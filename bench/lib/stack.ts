// The benchmark's own isolated servers, started the way test/global-setup.ts starts the test
// suite's: an embedded Postgres (pgvector) in a temporary folder and a Temporal dev server
// (in-memory SQLite), both on free ports, from the tools provisioned into .local/.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import getPort from 'get-port';
import { applyMigrations } from '../../lib/migrations.ts';
import { EmbeddedPostgres } from '../../scripts/provision/embedded-postgres.ts';
import { ensureEmbeddedPostgres, ensureTemporalCli } from '../../scripts/provision/tools.ts';
import { devServerArgs } from '../../temporal-config/dev-server.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';

export interface Stack {
  dataRoot: string;
  databaseUrl: string;
  temporalAddress: string;
  temporal: TestWorkflowEnvironment;
  versions: { postgres: string; temporalCli: string };
  /** Stops both servers; removes the temporary folder unless `keepFiles`. */
  close(keepFiles?: boolean): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const [postgresInstall, temporalCli] = await Promise.all([ensureEmbeddedPostgres(), ensureTemporalCli()]);
  const dataRoot = mkdtempSync(join(tmpdir(), 'metachat-bench-'));
  chmodSync(dataRoot, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
  const postgres = new EmbeddedPostgres({
    binDir: postgresInstall.binDir,
    dataDir: join(dataRoot, 'pgdata'),
    port: await getPort({ host: '127.0.0.1' }),
    logFile: join(dataRoot, 'postgres.log'),
    durable: false, // as in the test suite: fsync off
  });

  const [pgStarted, temporalStarted] = await Promise.allSettled([
    postgres.start(),
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli.path },
        ip: '127.0.0.1',
        searchAttributes: SEARCH_ATTRIBUTES,
        extraArgs: devServerArgs(),
        log: { format: 'pretty', level: 'error' },
      },
    }),
  ]);
  const temporal = temporalStarted.status === 'fulfilled' ? temporalStarted.value : undefined;
  const close = async (keepFiles = false) => {
    await temporal?.teardown().catch(() => {});
    await postgres.stop().catch(() => {});
    if (!keepFiles) rmSync(dataRoot, { recursive: true, force: true });
  };
  if (pgStarted.status === 'rejected' || !temporal) {
    await close(true);
    throw pgStarted.status === 'rejected' ? pgStarted.reason : (temporalStarted as PromiseRejectedResult).reason;
  }

  try {
    const databaseUrl = await postgres.ensureDatabase('metachat_bench');
    await applyMigrations(databaseUrl);
    return {
      dataRoot,
      databaseUrl,
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
