// Starts what the whole test run shares, isolated from any running dev stack: an embedded
// Postgres in a temporary folder and a Temporal dev server, both on free ports. A migrated
// template database lets each test file get a fresh, migrated database in milliseconds.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import getPort from 'get-port';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../lib/migrations.ts';
import { EmbeddedPostgres } from '../scripts/provision/embedded-postgres.ts';
import { ensureEmbeddedPostgres, ensureTemporalCli, ensureTemporalTestServer } from '../scripts/provision/tools.ts';
import { devServerArgs } from '../temporal-config/dev-server.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { MIGRATED_TEMPLATE } from './support/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    postgresBinDir: string;
    temporalAddress: string;
    temporalCliPath: string;
    temporalTestServerPath: string;
  }
}

export default async function setup(project: TestProject) {
  const [postgresInstall, temporalCli, testServer] = await Promise.all([
    ensureEmbeddedPostgres(),
    ensureTemporalCli(),
    ensureTemporalTestServer(),
  ]);

  const dataRoot = mkdtempSync(join(tmpdir(), 'metachat-test-'));
  chmodSync(dataRoot, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
  const postgres = new EmbeddedPostgres({
    binDir: postgresInstall.binDir,
    dataDir: join(dataRoot, 'pgdata'),
    port: await getPort(),
    logFile: join(dataRoot, 'postgres.log'),
    durable: false,
  });

  const [, temporal] = await Promise.all([
    postgres.start(),
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli.path },
        ip: '127.0.0.1',
        searchAttributes: SEARCH_ATTRIBUTES,
        // The server suggests continue-as-new after 200 events instead of 4K, so that every
        // conversation test also exercises carrying state across runs.
        extraArgs: [...devServerArgs(), '--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=200'],
        log: { format: 'pretty', level: 'error' },
      },
    }),
  ]);

  await applyMigrations(await postgres.ensureDatabase(MIGRATED_TEMPLATE));

  project.provide('postgresAdminUrl', postgres.url());
  project.provide('postgresBinDir', postgresInstall.binDir);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalCliPath', temporalCli.path);
  project.provide('temporalTestServerPath', testServer.path);

  return async () => {
    await temporal.teardown();
    await postgres.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  };
}
