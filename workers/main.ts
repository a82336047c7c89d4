// The worker process: polls the task queues named in WORKER_TASK_QUEUES (all by default).
// SIGINT/SIGTERM start a graceful shutdown (the Temporal runtime handles the signals): pollers
// stop, in-flight activities finish within WORKER_SHUTDOWN_GRACE_MS, then the metrics endpoint and
// the database pool close and the process exits 0. A second signal exits at once (1); so does a
// shutdown still running at its deadline (workers/shutdown-signals.ts). GET /metrics (WORKER_METRICS_PORT) carries the SDK's series too: workers/metrics-server.ts.
// With OTEL_EXPORTER_OTLP_ENDPOINT set, workflows, activities, their SQL and HTTP calls are traced
// (lib/tracing.ts), and the spans still buffered are exported before the process ends.
import { Runtime, type LogLevel } from '@temporalio/worker';
import { loadConfigOrExit } from '../lib/config.ts';
import { createDb } from '../lib/db.ts';
import { logContext } from '../lib/log-context.ts';
import { createLogger } from '../lib/logger.ts';
import { startTracing } from '../lib/tracing.ts';
import { connectWorkerConnection, taskQueueName, temporalClientOn } from '../lib/temporal.ts';
import { ensureSchedules } from '../temporal-config/schedules.ts';
import { assertSearchAttributes } from '../temporal-config/search-attributes.ts';
import { createEmbedderRegistry } from '../activities/embeddings/index.ts';
import { createDocumentStorage } from '../lib/storage.ts';
import { CANCELLATION_ACK_MS, createWorkers } from './create-workers.ts';
import { boundShutdown, shutdownDeadlineMs } from './shutdown-signals.ts';
import { sdkLogger } from './sdk-logger.ts';
import { llmEndpoints } from '../activities/llm/index.ts';
import { mediaOptionsFrom } from '../activities/media/options.ts';
import { webhookOptionsFrom } from '../lib/tenant-webhooks.ts';
import { billingOf } from '../lib/billing.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { serveWorkerMetrics, workerMetricsEnabled, type MetricsServer } from './metrics-server.ts';
import { freeLoopbackPort, sdkMetricsTelemetry } from './sdk-metrics.ts';

const config = loadConfigOrExit();
// Lines written for a message (inside its activity) carry its request id and trace ids.
const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker', mixin: logContext });
const tracing = startTracing(config, 'metachat-worker');

// The SDK's own logs (and workflow/activity `log` calls) go through pino too.
const temporalLevel: LogLevel = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'INFO';
// The SDK's Prometheus exporter listens on a private loopback port; /metrics merges it in.
const sdkMetricsAddress = workerMetricsEnabled(config) ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
Runtime.install({
  ...(sdkMetricsAddress && { telemetryOptions: sdkMetricsTelemetry(sdkMetricsAddress) }),
  logger: sdkLogger(logger, temporalLevel),
});

boundShutdown(logger, {
  graceMs: config.WORKER_SHUTDOWN_GRACE_MS,
  deadlineMs: shutdownDeadlineMs(config.WORKER_SHUTDOWN_GRACE_MS, CANCELLATION_ACK_MS),
});

const db = createDb(config, 'metachat-worker', tracing);
const metrics = new WorkerMetrics({ tenantLabels: config.METRICS_TENANT_LABELS });
let metricsServer: MetricsServer | undefined;
try {
  if (sdkMetricsAddress) {
    metricsServer = await serveWorkerMetrics(config, { db, logger, metrics, sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics` });
    logger.info({ url: metricsServer.url, access: config.METRICS_ACCESS }, 'worker metrics served');
  }
  const connection = await connectWorkerConnection(config);
  // The activities' client (workflow starts, signals) encrypts payloads like the workers do.
  const client = temporalClientOn(connection, config, tracing);
  // Registered once by `npm run temporal:setup`; a worker only checks, and names what is missing.
  await assertSearchAttributes(client, config.TEMPORAL_NAMESPACE);
  if (config.WORKER_TASK_QUEUES.includes('maintenance')) {
    // Prefixed like the queues, so that stacks sharing a namespace keep their own schedules.
    const schedules = await ensureSchedules(client, {
      taskQueue: taskQueueName(config, 'maintenance'),
      idPrefix: config.TEMPORAL_TASK_QUEUE_PREFIX,
      monthsAhead: config.MAINTENANCE_PARTITION_MONTHS_AHEAD,
      retentionMonths: config.MAINTENANCE_RETENTION_MONTHS,
      tenantEventSweep: true,
      templateSync: true,
      documentPurgeAfterHours: config.DOCUMENT_PURGE_AFTER_HOURS,
      stripeUsageReport: Object.keys(config.STRIPE_METER_EVENTS).length > 0 && Boolean(config.STRIPE_SECRET_KEY),
    });
    logger.info(schedules, 'maintenance schedules in place');
  }

  const workers = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueues: config.WORKER_TASK_QUEUES,
    tuning: config,
    tracing,
    deps: {
      db, logger, keyring: config.SECRETS_KEYS, temporal: client, graphApiUrl: config.META_GRAPH_API_URL,
      documentStorage: createDocumentStorage(config),
      embedders: createEmbedderRegistry(config),
      chunkQuota: config.CHUNK_QUOTA_PER_TENANT,
      documentParsing: config,
      llm: llmEndpoints(config),
      media: mediaOptionsFrom(config),
      webhooks: webhookOptionsFrom(config),
      evaluationQuietMs: config.EVALUATION_QUIET_SECONDS * 1000,
      billing: billingOf(config),
      metrics,
    },
    queueName: (queue) => taskQueueName(config, queue),
  });
  logger.info({ taskQueues: config.WORKER_TASK_QUEUES, address: config.TEMPORAL_ADDRESS }, 'worker started');
  // One queue's worker failing stops the others, so the process exits and gets restarted whole.
  await Promise.all(
    workers.map((w) =>
      w.run().catch((err: unknown) => {
        for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        throw err;
      }),
    ),
  );
  await connection.close();
  logger.info('worker stopped');
} catch (err) {
  logger.fatal({ err }, 'worker failed');
  process.exitCode = 1;
} finally {
  await metricsServer?.close();
  await db.$disconnect();
  await tracing?.shutdown();
  // All the worker owns is closed. A best-effort call of a cancelled activity (a read receipt its
  // reply stopped waiting for) may still hold a socket until its own timeout: it must not hold the stop.
  process.exit();
}
