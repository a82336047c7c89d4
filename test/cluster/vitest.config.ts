// `npm run test:cluster` (README, "Running on a Temporal cluster"): its own stack per file, no
// global set-up of the main suite, one file at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/cluster/**/*.cluster.ts'],
    setupFiles: ['test/support/temporal-runtime.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});
