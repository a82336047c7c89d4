// Temporal connections. The API uses a lazy client connection so that it starts (and reports
// "not ready") while Temporal is down; workers need a native connection before they can poll.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config, TaskQueue } from './config.ts';

type TemporalConfig = Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>;

export function createTemporalClient(config: TemporalConfig): Client {
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

export function connectWorkerConnection(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
}

/** Resolves when the Temporal frontend answers an RPC within the deadline. */
export async function checkTemporal(client: Client, timeoutMs: number): Promise<void> {
  const { connection } = client;
  await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
}

/** The real name of one of the platform's task queues under the configured prefix. */
export function taskQueueName(config: Pick<Config, 'TEMPORAL_TASK_QUEUE_PREFIX'>, queue: TaskQueue): string {
  return `${config.TEMPORAL_TASK_QUEUE_PREFIX}${queue}`;
}
