// The workflows of this tree, bundled once per test run into files that every test file's workers
// load (test/support/workers.ts): bundling from the sources takes seconds, paid once, not per file.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflows } from '../../workers/create-workers.ts';

export interface WorkflowBundlePaths {
  plain: string;
  tracing: string;
}

/** Writes both bundles, as the workers bundle them (with and without tracing), into `dir`. */
export async function writeWorkflowBundles(dir: string): Promise<WorkflowBundlePaths> {
  const paths = { plain: join(dir, 'workflows.js'), tracing: join(dir, 'workflows-tracing.js') };
  const [plain, tracing] = await Promise.all([bundleWorkflows(), bundleWorkflows({ tracing: true })]);
  await Promise.all([writeFile(paths.plain, plain.code), writeFile(paths.tracing, tracing.code)]);
  return paths;
}
