// Test processes log the Temporal SDK at WARN: worker state changes would drown the test output.
// A test that reads the SDK's lines (test/tracing.test.ts) sends them elsewhere with routeSdkLogs:
// the runtime's logger is installed once per process, so it forwards to a replaceable target.
// The SDK's Prometheus exporter listens on a free loopback port, as in the worker process, so that
// a test can read the SDK's own series (test/support/temporal.ts sdkMetricsUrl).
// A test process runs several files one after another (vitest.config.ts, isolate: false) and this
// file runs before each: the runtime and the log target live on globalThis, installed by the first.
import { DefaultLogger, Runtime, type Logger } from '@temporalio/worker';
import { freeLoopbackPort, sdkMetricsTelemetry } from '../../workers/sdk-metrics.ts';

interface TestRuntime {
  target: Logger;
}
const quiet = new DefaultLogger('WARN');
const state = globalThis as { metachatTestRuntime?: TestRuntime };

/** Sends the SDK's log lines (workflow and activity `log` calls too) to `logger`; undefined: back to WARN on the console. */
export function routeSdkLogs(logger: Logger | undefined): void {
  state.metachatTestRuntime!.target = logger ?? quiet;
}

if (!state.metachatTestRuntime) {
  const runtime: TestRuntime = { target: quiet };
  state.metachatTestRuntime = runtime;
  const sdkMetricsPort = await freeLoopbackPort();
  process.env.METACHAT_TEST_SDK_METRICS_URL = `http://127.0.0.1:${sdkMetricsPort}/metrics`;
  Runtime.install({
    telemetryOptions: sdkMetricsTelemetry(`127.0.0.1:${sdkMetricsPort}`),
    logger: {
      log: (level, message, meta) => runtime.target.log(level, message, meta),
      trace: (message, meta) => runtime.target.trace(message, meta),
      debug: (message, meta) => runtime.target.debug(message, meta),
      info: (message, meta) => runtime.target.info(message, meta),
      warn: (message, meta) => runtime.target.warn(message, meta),
      error: (message, meta) => runtime.target.error(message, meta),
    },
  });
}
