// The Temporal SDK's own Prometheus exporter: native code listening on a private loopback port,
// which the worker's GET /metrics (metrics-server.ts) fetches and appends. Apart from the metrics
// server because the test runtime (test/support/temporal-runtime.ts) installs the same exporter
// in every test process and should not load the server's database gauges to do it.
import type { TelemetryOptions } from '@temporalio/worker';
import getPort from 'get-port';

/** A free TCP port on 127.0.0.1 for the SDK's exporter (taken by the SDK right after). */
export function freeLoopbackPort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
}

/**
 * Runtime.install's telemetry for the SDK's Prometheus exporter on `bindAddress`, under the SDK's
 * default names (temporal_ prefix, counters without _total), durations in seconds like the
 * platform's own series.
 */
export function sdkMetricsTelemetry(bindAddress: string): TelemetryOptions {
  return { metrics: { prometheus: { bindAddress, useSecondsForDurations: true } } };
}
