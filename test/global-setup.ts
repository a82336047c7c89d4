// Starts what the whole test run shares, isolated from any running dev stack: an embedded
// Postgres and a Temporal dev server on free ports (scripts/provision/isolated-stack.ts). The
// migrated database is a template: each test file copies it into a fresh database in milliseconds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findChromium } from '../scripts/provision/browser.ts';
import { startStack } from '../scripts/provision/isolated-stack.ts';
import { ensureTemporalTestServer } from '../scripts/provision/tools.ts';
import { MIGRATED_TEMPLATE } from './support/database.ts';
import { writeWorkflowBundles, type WorkflowBundlePaths } from './support/workflow-bundles.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    postgresBinDir: string;
    temporalAddress: string;
    temporalCliPath: string;
    temporalTestServerPath: string;
    /** Chromium for test/browser (scripts/setup.ts --browser installs it); '' when none is found. */
    chromiumPath: string;
    /** The workflows of this tree, bundled once for every file's workers (test/support/workers.ts). */
    workflowBundlePaths: WorkflowBundlePaths;
  }
}

export default async function setup(project: TestProject) {
  const bundleDir = await mkdtemp(join(tmpdir(), 'metachat-test-bundles-'));
  const [stack, testServer, workflowBundlePaths] = await Promise.all([
    startStack({
      name: 'test',
      database: MIGRATED_TEMPLATE,
      // The server suggests continue-as-new after 200 events instead of 4K, so that every
      // conversation test also exercises carrying state across runs.
      temporalArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=200'],
    }),
    ensureTemporalTestServer(),
    writeWorkflowBundles(bundleDir),
  ]);

  project.provide('postgresAdminUrl', stack.adminUrl);
  project.provide('postgresBinDir', stack.postgresBinDir);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('temporalCliPath', stack.temporalCliPath);
  project.provide('temporalTestServerPath', testServer.path);
  project.provide('chromiumPath', findChromium() ?? '');
  project.provide('workflowBundlePaths', workflowBundlePaths);

  return async () => {
    await stack.close();
    await rm(bundleDir, { recursive: true, force: true });
  };
}
