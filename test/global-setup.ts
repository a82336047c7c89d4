// Starts what the whole test run shares, isolated from any running dev stack: an embedded
// Postgres and a Temporal dev server on free ports (scripts/provision/isolated-stack.ts). The
// migrated database is a template: each test file copies it into a fresh database in milliseconds.
import type { TestProject } from 'vitest/node';
import { findChromium } from '../scripts/provision/browser.ts';
import { startStack } from '../scripts/provision/isolated-stack.ts';
import { ensureTemporalTestServer } from '../scripts/provision/tools.ts';
import { MIGRATED_TEMPLATE } from './support/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    postgresBinDir: string;
    temporalAddress: string;
    temporalCliPath: string;
    temporalTestServerPath: string;
    /** Chromium for test/browser (scripts/setup.ts --browser installs it); '' when none is found. */
    chromiumPath: string;
  }
}

export default async function setup(project: TestProject) {
  const [stack, testServer] = await Promise.all([
    startStack({
      name: 'test',
      database: MIGRATED_TEMPLATE,
      // The server suggests continue-as-new after 200 events instead of 4K, so that every
      // conversation test also exercises carrying state across runs.
      temporalArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=200'],
    }),
    ensureTemporalTestServer(),
  ]);

  project.provide('postgresAdminUrl', stack.adminUrl);
  project.provide('postgresBinDir', stack.postgresBinDir);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('temporalCliPath', stack.temporalCliPath);
  project.provide('temporalTestServerPath', testServer.path);
  project.provide('chromiumPath', findChromium() ?? '');

  return () => stack.close();
}
