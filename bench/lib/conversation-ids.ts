// Which workflow serves which end user, as the platform itself chose it: the conversations the
// API started are listed from Temporal's visibility store by the TenantId search attribute the
// API sets on every run, and matched to users by the id's last segment (workflows/ids.ts ends
// every conversation id with `:{externalUserId}`, whatever comes before it). The benchmark never
// builds a conversation's workflow id itself, so it follows any change of the id scheme.
import type { Client } from '@temporalio/client';
import { sleep } from './stats.ts';

export interface ConversationLookup {
  /** Only runs on this task queue. */
  taskQueue?: string;
  /** Only runs started at or after this wall-clock time (ms), to keep the listing short. */
  startedSince?: number;
  /** Visibility lags behind the start a little: retry until every user is found or this passes. */
  timeoutMs?: number;
}

/** user → workflow id, for the users of `tenantId` found (users not found are left out). */
export async function conversationWorkflowIds(client: Client, tenantId: string, users: Iterable<string>, options: ConversationLookup = {}): Promise<Map<string, string>> {
  const wanted = new Set(users);
  const found = new Map<string, string>();
  if (wanted.size === 0) return found;
  const clauses = [`TenantId = ${quote(tenantId)}`];
  if (options.taskQueue) clauses.push(`TaskQueue = ${quote(options.taskQueue)}`);
  // A second of slack: the server's start time and ours come from different reads of the clock.
  if (options.startedSince !== undefined) clauses.push(`StartTime >= ${quote(new Date(options.startedSince - 1_000).toISOString())}`);
  const query = clauses.join(' AND ');
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    try {
      for await (const execution of client.workflow.list({ query, pageSize: 1_000 })) {
        const user = execution.workflowId.slice(execution.workflowId.lastIndexOf(':') + 1);
        if (wanted.has(user)) found.set(user, execution.workflowId);
      }
    } catch {
      // a listing that failed is retried below
    }
    if (found.size >= wanted.size || Date.now() > deadline) return found;
    await sleep(250);
  }
}

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
