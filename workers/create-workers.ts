// Builds one Temporal worker per task queue with explicit performance options. The workflow code
// is bundled once (by the build, or at start from the sources) and shared by all of them. Used by
// the worker process and by the tests.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Worker, type NativeConnection, type WorkflowBundlePath, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities/index.ts';
import type { Config, TaskQueue } from '../lib/config.ts';
import { temporalDataConverter } from '../lib/temporal.ts';
import type { Tracing } from '../lib/tracing.ts';
import { MODULE_EXTENSION, workerInterceptors, workflowInterceptorModules } from './interceptors.ts';

export type WorkerTuning = Pick<
  Config,
  'WORKER_MAX_CONCURRENT_ACTIVITIES' | 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS' | 'WORKER_MAX_CACHED_WORKFLOWS' | 'WORKER_SHUTDOWN_GRACE_MS'
>;

/**
 * Conversations carry the traffic; ingestion and maintenance run few, long workflows whose
 * activities are heavy (parsing, embedding, bulk SQL), so they get small, fixed slices.
 */
function optionsFor(queue: TaskQueue, tuning: WorkerTuning) {
  switch (queue) {
    case 'conversations':
      return {
        maxConcurrentActivityTaskExecutions: tuning.WORKER_MAX_CONCURRENT_ACTIVITIES,
        maxConcurrentWorkflowTaskExecutions: tuning.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
        maxCachedWorkflows: tuning.WORKER_MAX_CACHED_WORKFLOWS,
      };
    case 'ingestion':
      return { maxConcurrentActivityTaskExecutions: 8, maxConcurrentWorkflowTaskExecutions: 10, maxCachedWorkflows: 100 };
    case 'maintenance':
      return { maxConcurrentActivityTaskExecutions: 4, maxConcurrentWorkflowTaskExecutions: 4, maxCachedWorkflows: 20 };
  }
}

/** What activities cancelled at the end of the shutdown grace time get to acknowledge it. */
export const CANCELLATION_ACK_MS = 5_000;

/** The workflow code with its sandbox interceptors; `tracing` adds the OpenTelemetry ones. */
export function bundleWorkflows(options: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL(`../workflows/index${MODULE_EXTENSION}`, import.meta.url)),
    workflowInterceptorModules: workflowInterceptorModules(Boolean(options.tracing)),
    // The bundler's INFO output is webpack's module table: useful only when bundling fails.
    logger: new DefaultLogger('WARN'),
  });
}

/**
 * Where the build keeps its prebuilt bundle (workers/write-workflow-bundles.ts): in dist/, beside
 * the compiled workflow code it was made from, so the two always come from the same build.
 */
export function prebuiltBundlePath(tracing: boolean): string {
  return fileURLToPath(new URL(`../workflows/bundle${tracing ? '-tracing' : ''}.js`, import.meta.url));
}

/** From the build, its prebuilt bundle; from the sources (dev, tests), the sources bundled now. */
async function workflowCode(tracing: boolean): Promise<WorkflowBundleWithSourceMap | WorkflowBundlePath> {
  return MODULE_EXTENSION === '.js' ? { codePath: prebuiltBundlePath(tracing) } : bundleWorkflows({ tracing });
}

export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  /** Queue names as the platform knows them; tests may map them to unique names. */
  taskQueues: readonly TaskQueue[];
  tuning: WorkerTuning;
  deps: ActivityDependencies;
  /** Bundled (or a bundle's file) with the same `tracing` as given here (bundleWorkflows). */
  workflowBundle?: WorkflowBundleWithSourceMap | WorkflowBundlePath;
  /** Spans for workflows and activities (lib/tracing.ts); unset: none. */
  tracing?: Tracing;
  /** Maps a platform queue to the real queue name (tests isolate themselves with a prefix). */
  queueName?: (queue: TaskQueue) => string;
}

export async function createWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  const workflowBundle = options.workflowBundle ?? (await workflowCode(Boolean(options.tracing)));
  const activities = createActivities(options.deps);
  const { interceptors, sinks } = workerInterceptors(options.tracing);
  return Promise.all(
    options.taskQueues.map((queue) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: options.queueName?.(queue) ?? queue,
        workflowBundle,
        activities,
        interceptors,
        sinks,
        // Payloads are encrypted under SECRETS_KEYS (the clients decode with the same keyring).
        dataConverter: temporalDataConverter(options.deps.keyring),
        ...optionsFor(queue, options.tuning),
        // Finish in-flight activities on shutdown before they are cancelled; run() fails past the
        // force time, so that a stuck activity cannot hold the process beyond its stop deadline.
        shutdownGraceTime: options.tuning.WORKER_SHUTDOWN_GRACE_MS,
        shutdownForceTime: options.tuning.WORKER_SHUTDOWN_GRACE_MS + CANCELLATION_ACK_MS,
        stickyQueueScheduleToStartTimeout: '10 seconds',
      }),
    ),
  );
}
