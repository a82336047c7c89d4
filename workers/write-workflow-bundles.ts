// `npm run build`'s last step, run from the build (node dist/workers/write-workflow-bundles.js):
// bundles the compiled workflow code once, with and without the tracing interceptors, beside it
// in dist/workflows/, where the worker loads it (workers/create-workers.ts prebuiltBundlePath)
// instead of running Temporal's bundler at every start: seconds sooner, without webpack's memory.
import { writeFile } from 'node:fs/promises';
import { bundleWorkflows, prebuiltBundlePath } from './create-workers.ts';

for (const tracing of [false, true]) {
  const { code } = await bundleWorkflows({ tracing });
  await writeFile(prebuiltBundlePath(tracing), code);
}
