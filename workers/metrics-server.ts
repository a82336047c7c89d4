// The worker process's GET /metrics: one scrape target per process with the platform's series
// (lib/metrics/worker-metrics.ts, the database gauges, the process's own CPU, memory, event loop
// and GC as metachat_process_* / metachat_nodejs_*) and the Temporal SDK's own (temporal_*).
// The SDK exports its metrics from native code on an HTTP listener of its own; it listens on a
// private loopback port and each scrape here fetches its text and appends it, so that operators
// scrape, secure and label one endpoint. METRICS_ACCESS applies as on the API: `admin` wants
// `Authorization: Bearer <ADMIN_API_KEY>`, `public` answers anyone, `off` serves nothing.
//
// Plain node:http rather than a second Fastify app: one read-only route, no body, no plugins.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { CHECK_NAMES } from '../activities/integrity.ts';
import type { Config } from '../lib/config.ts';
import { safeEqual } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { observeDatabase } from '../lib/metrics/database-gauges.ts';
import type { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';

/** How long a scrape waits for the SDK's exporter before answering without its series. */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

export interface MetricsServerOptions {
  host: string;
  port: number;
  access: Config['METRICS_ACCESS'];
  adminKey: string;
  registry: Registry;
  /** The SDK's Prometheus exporter (sdk-metrics.ts), merged into every answer. */
  sdkMetricsUrl?: string;
  logger: Logger;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Whether the worker serves /metrics at all (and so runs the SDK's exporter). */
export function workerMetricsEnabled(config: Pick<Config, 'WORKER_METRICS_PORT' | 'METRICS_ACCESS'>): boolean {
  return config.WORKER_METRICS_PORT !== 0 && config.METRICS_ACCESS !== 'off';
}

/** The worker process's /metrics: its business metrics, the database gauges, process metrics and the SDK's. */
export async function serveWorkerMetrics(
  config: Pick<Config, 'WORKER_METRICS_PORT' | 'WORKER_METRICS_HOST' | 'METRICS_ACCESS' | 'ADMIN_API_KEY'>,
  deps: {
    db: Db;
    logger: Logger;
    metrics: WorkerMetrics;
    sdkMetricsUrl?: string;
    /** How old the gauges read from Postgres may be (default 15 s). */
    databaseGaugesMaxAgeMs?: number;
  },
): Promise<MetricsServer> {
  const { registry } = deps.metrics;
  collectDefaultMetrics({ register: registry, prefix: 'metachat_' });
  observeDatabase(registry, { db: deps.db, logger: deps.logger, integrityChecks: CHECK_NAMES, maxAgeMs: deps.databaseGaugesMaxAgeMs });
  return startMetricsServer({
    host: config.WORKER_METRICS_HOST,
    port: config.WORKER_METRICS_PORT,
    access: config.METRICS_ACCESS,
    adminKey: config.ADMIN_API_KEY,
    registry,
    ...(deps.sdkMetricsUrl && { sdkMetricsUrl: deps.sdkMetricsUrl }),
    logger: deps.logger,
  });
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    answer(request, response, options).catch((err: unknown) => {
      options.logger.error({ err }, 'metrics: scrape failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'internal_error', message: 'Internal error' } }));
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, options.host, resolve));
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a scraper's keep-alive connection must not hold the shutdown
      }),
  };
}

async function answer(request: IncomingMessage, response: ServerResponse, options: MetricsServerOptions): Promise<void> {
  const json = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    response.end(JSON.stringify({ error: { code, message } }));
  };
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/metrics' || options.access === 'off') return json(404, 'not_found', 'Not found');
  if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, 'method_not_allowed', 'Use GET', { allow: 'GET, HEAD' });
  if (options.access === 'admin' && !adminBearer(request.headers.authorization, options.adminKey)) {
    return json(401, 'unauthorized', 'Missing or invalid API key', { 'www-authenticate': 'Bearer' });
  }
  const [own, sdk] = await Promise.all([options.registry.metrics(), sdkMetrics(options)]);
  response.writeHead(200, { 'content-type': options.registry.contentType });
  response.end(request.method === 'HEAD' ? undefined : `${own}${own.endsWith('\n') ? '' : '\n'}${sdk}`);
}

function adminBearer(header: string | undefined, adminKey: string): boolean {
  const match = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header ?? ''); // as the API reads it
  return !!match && safeEqual(match[1]!, adminKey);
}

/** The SDK's exposition text, or nothing (logged) when its exporter does not answer. */
async function sdkMetrics(options: MetricsServerOptions): Promise<string> {
  if (!options.sdkMetricsUrl) return '';
  try {
    const res = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    options.logger.warn({ err }, 'metrics: the Temporal SDK exporter did not answer; served without its series');
    return '';
  }
}
