// `platformDiagnostics`: run it on any task queue (e.g. from the Temporal UI or
// `temporal workflow execute --type platformDiagnostics --task-queue conversations`) to see that
// a worker polls that queue and reaches Postgres with pgvector.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { DatabaseDiagnostics } from '../activities/diagnostics.ts';

const { inspectDatabase } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3, initialInterval: '500 milliseconds' },
});

export interface PlatformDiagnostics {
  taskQueue: string;
  database: DatabaseDiagnostics;
}

export async function platformDiagnostics(): Promise<PlatformDiagnostics> {
  return { taskQueue: workflowInfo().taskQueue, database: await inspectDatabase() };
}
