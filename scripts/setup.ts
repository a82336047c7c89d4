// `npm run setup`: installs the Temporal CLI, the Temporal test server and the embedded Postgres
// into .local/, with the files of the offline semantic embedder (scripts/provision/embedding-model.ts)
// (skipped for what is already there) and prints what is in place and how long it took.
// The test path adds --browser, which finds or installs Chromium (scripts/provision/browser.ts),
// --fuzzer, which installs schemathesis (the OpenAPI fuzzer of test/fuzz/), and --promtool, which
// finds or extracts promtool for the alert rule tests (scripts/provision/promtool.ts), and --s3, which
// installs moto's S3-compatible server for the S3 document storage tests. The tenant web
// app is built into web/dist (scripts/provision/web-app.ts) and the server code into dist/
// (scripts/provision/server-build.ts), each unless that build is current. --cluster builds the real
// Temporal server from source (scripts/provision/temporal-cluster.ts; minutes the first time).
// --helm builds helm and kubeconform from their Go modules and fetches the Kubernetes schemas, for
// the Helm chart's test (scripts/provision/kubernetes-tools.ts; minutes the first time).
import { ensureChromium } from './provision/browser.ts';
import { ensureEmbeddingModel } from './provision/embedding-model.ts';
import { ensureHelm, ensureKubeconform, ensureKubernetesSchemas } from './provision/kubernetes-tools.ts';
import { ensurePromtool } from './provision/promtool.ts';
import { ensureServerBuild } from './provision/server-build.ts';
import { ensureTemporalServer } from './provision/temporal-cluster.ts';
import { ensureWebApp } from './provision/web-app.ts';
import { ensureEmbeddedPostgres, ensureMoto, ensureSchemathesis, ensureTemporalCli, ensureTemporalTestServer, type Tool } from './provision/tools.ts';

const quiet = process.argv.includes('--quiet');
const started = performance.now();

const timed = async <T>(what: string, step: () => Promise<T>): Promise<[string, T, number]> => {
  const t = performance.now();
  const value = await step();
  return [what, value, performance.now() - t];
};

try {
  const steps = await Promise.all([
    timed('Temporal CLI', ensureTemporalCli),
    timed('Temporal test server', ensureTemporalTestServer),
    ...(process.env.DATABASE_URL ? [] : [timed('Postgres + pgvector', ensureEmbeddedPostgres)]),
    timed('Embedding model', () => ensureEmbeddingModel()),
    timed('Web app', ensureWebApp),
    timed('Server build', ensureServerBuild),
    // Only the tests drive a browser (`npm test` passes --browser); dev runs without one.
    ...(process.argv.includes('--browser') ? [timed('Chromium', ensureChromium)] : []),
    ...(process.argv.includes('--fuzzer') ? [timed('schemathesis', ensureSchemathesis)] : []),
    ...(process.argv.includes('--promtool') ? [timed('promtool', () => ensurePromtool())] : []),
    ...(process.argv.includes('--s3') ? [timed('moto (S3 server)', ensureMoto)] : []),
    ...(process.argv.includes('--helm')
      ? [timed('helm', ensureHelm), timed('kubeconform', ensureKubeconform), timed('Kubernetes schemas', ensureKubernetesSchemas)]
      : []),
    ...(process.argv.includes('--cluster') ? [timed('Temporal server', () => ensureTemporalServer((line) => console.log(line)))] : []),
  ]);
  const total = performance.now() - started;
  if (!quiet || total > 2000) {
    for (const [what, tool, ms] of steps) {
      const { version, source } = tool as Tool;
      console.log(`${what.padEnd(22)} ${version.split('\n')[0]}  (${source}, ${(ms / 1000).toFixed(1)} s)`);
    }
    if (process.env.DATABASE_URL) console.log('Postgres + pgvector     DATABASE_URL is set: no embedded Postgres needed');
    console.log(`setup done in ${(total / 1000).toFixed(1)} s`);
  }
} catch (err) {
  console.error(`setup failed: ${(err as Error).message}`);
  process.exit(1);
}
