// What deleting a tenant leaves outside Postgres, removed by workflows/tenant-cleanup.ts once the
// tenant's rows are gone (the API deletes them, ON DELETE CASCADE): its running workflows
// (conversations, ingestions, a model switch or text-search reindex) and its stored files. Each
// step is idempotent: terminating a workflow that is no longer running and deleting files that
// are already gone are not errors.
import { heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import type { DocumentStorage } from '../lib/storage.ts';
import { embeddingModelSwitchWorkflowId } from '../workflows/embedding-model-switch.ts';
import { textSearchReindexWorkflowId } from '../workflows/text-search-reindex.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkedTenantId(tenantId: string): string {
  // It goes into a visibility query: nothing but a uuid may.
  if (!UUID.test(tenantId)) throw ApplicationFailure.nonRetryable(`not a tenant id: ${JSON.stringify(tenantId)}`, 'InvalidTenantId');
  return tenantId;
}

export function createTenantCleanupActivities(deps: { db: Db; temporal: Client; logger: Logger; storage?: DocumentStorage }) {
  const { db, temporal } = deps;
  return {
    /** Fails (retryably) while the tenant's row exists: its deletion has not committed, or was rolled back. */
    async confirmTenantDeleted(input: { tenantId: string }): Promise<void> {
      if ((await db.tenant.count({ where: { id: checkedTenantId(input.tenantId) } })) > 0) {
        throw ApplicationFailure.retryable('the tenant still exists', 'TenantStillExists');
      }
    },

    /**
     * Terminates the tenant's running workflows: the per-tenant ones by id, the others (every run
     * the platform starts for a tenant carries its TenantId search attribute) by a visibility query.
     */
    async stopTenantWorkflows(input: { tenantId: string; except: string }): Promise<{ stopped: number }> {
      const tenantId = checkedTenantId(input.tenantId);
      let stopped = 0;
      const stop = async (workflowId: string) => {
        try {
          await temporal.workflow.getHandle(workflowId).terminate('tenant deleted');
          stopped++;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      };
      await stop(embeddingModelSwitchWorkflowId(tenantId));
      await stop(textSearchReindexWorkflowId(tenantId));
      for await (const run of temporal.workflow.list({ query: `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'` })) {
        if (run.workflowId !== input.except) await stop(run.workflowId);
        heartbeat({ stopped });
      }
      if (stopped) deps.logger.info({ tenantId, stopped }, 'terminated the workflows of a deleted tenant');
      return { stopped };
    },

    async deleteTenantFiles(input: { tenantId: string }): Promise<void> {
      if (!deps.storage) throw ApplicationFailure.nonRetryable('document storage is not configured on this worker', 'StorageNotConfigured');
      await deps.storage.deleteTenant(checkedTenantId(input.tenantId));
    },
  };
}
