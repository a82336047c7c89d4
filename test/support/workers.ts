// Workers for the tests, on the workflow code test/global-setup.ts bundled once for the whole run
// (test/support/workflow-bundles.ts).
import type { Worker, WorkflowBundlePath } from '@temporalio/worker';
import { inject } from 'vitest';
import { createWorkers, type CreateWorkersOptions } from '../../workers/create-workers.ts';

/** This run's bundle of the workflows in the tree, with or without the tracing interceptors. */
export function testWorkflowBundle(tracing = false): WorkflowBundlePath {
  const paths = inject('workflowBundlePaths');
  return { codePath: tracing ? paths.tracing : paths.plain };
}

/** createWorkers on this run's bundle, unless the test brings its own workflow code. */
export function createTestWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  return createWorkers({ workflowBundle: testWorkflowBundle(Boolean(options.tracing)), ...options });
}
