// The metric catalog (observability/metrics.json, what the dashboard and the alert rules may read)
// against the code: every platform series the catalog gives the worker is registered by the
// worker's /metrics with the catalog's type and labels, and every one it gives the API is in the
// API's /metrics; and neither process exposes a business series the catalog does not know (of
// prom-client's process metrics the catalog names those the dashboard reads).
// (The temporal_ series are the SDK's; test/metrics.test.ts scrapes them from a running worker.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { serveWorkerMetrics, type MetricsServer } from '../workers/metrics-server.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { loadCatalog, type CatalogEntry } from './support/metric-catalog.ts';

const platform = loadCatalog().filter((e) => e.name.startsWith('metachat_'));
const of = (process: 'api' | 'worker') => platform.filter((e) => e.process === process || e.process === 'both');

/** A platform series, not one of prom-client's process metrics. */
const business = (name: string) => name.startsWith('metachat_') && !/^metachat_(process|nodejs)_/.test(name);

/** `# TYPE <name> <type>` lines: what a scrape says each family is. */
const typesIn = (text: string) => new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

describe('the metric catalog and the code', () => {
  let api: TestApi;
  let worker: MetricsServer;
  let metrics: WorkerMetrics;

  beforeAll(async () => {
    api = await startTestApi('metrics-catalog');
    metrics = new WorkerMetrics();
    worker = await serveWorkerMetrics({ ...api.config, WORKER_METRICS_HOST: '127.0.0.1', WORKER_METRICS_PORT: 0 }, { db: api.db, logger: createLogger({ level: 'silent', name: 'test' }), metrics });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
  });

  it("registers every worker series of the catalog with the catalog's type and labels, and no other business series", async () => {
    const text = await (await fetch(worker.url, { headers: bearer(api.adminKey) })).text();
    const types = typesIn(text);
    for (const entry of of('worker')) {
      expect(types.get(entry.name), entry.name).toBe(entry.type);
      // prom-client keeps a metric's label names on the metric object.
      const metric = metrics.registry.getSingleMetric(entry.name) as unknown as { labelNames: string[] };
      expect([...metric.labelNames].sort(), entry.name).toEqual([...entry.labels].sort());
    }
    expect([...types.keys()].filter((name) => business(name) && !of('worker').some((e: CatalogEntry) => e.name === name))).toEqual([]);
  });

  it('exposes every API series of the catalog on the API, and no other business series', async () => {
    const res = await api.app.inject({ url: '/metrics', headers: bearer(api.adminKey) });
    expect(res.statusCode).toBe(200);
    const types = typesIn(res.body);
    for (const entry of of('api')) expect(types.get(entry.name), entry.name).toBe(entry.type);
    expect([...types.keys()].filter((name) => business(name) && !of('api').some((e) => e.name === name))).toEqual([]);
  });
});
