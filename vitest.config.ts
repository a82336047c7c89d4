import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One isolated Postgres and one Temporal dev server for the whole run (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/support/temporal-runtime.ts'],
    include: ['{api,activities,lib,scripts,temporal-config,workers,workflows,test}/**/*.test.ts'],
    pool: 'forks',
    // Each worker process runs file after file: loading the SDK, Prisma and Fastify once per worker
    // instead of once per file takes a third off the suite's time. Files share the process, so
    // they leave it as they found it (process-wide state lives in test/support/temporal-runtime.ts).
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more parallel files would only contend with Postgres and Temporal for CPU.
    maxWorkers: 2,
  },
});
