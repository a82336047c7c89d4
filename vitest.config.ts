import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One isolated Postgres and one Temporal dev server for the whole run (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/support/temporal-runtime.ts'],
    include: ['{api,activities,lib,scripts,temporal-config,workers,workflows,test}/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more parallel files would only contend with Postgres and Temporal for CPU.
    maxWorkers: 2,
  },
});
