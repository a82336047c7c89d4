// `textSearchReindex`: moves a tenant's chunks to the full-text language its settings want
// (settings.rag.language), one workflow per tenant (id `text-search:{tenantId}`, task queue
// `ingestion`). Rewrites chunks.fts_config in batches (the generated tsv follows); retrieval
// searches only chunks already in the new language, so full text catches up batch by batch
// while the vector list keeps finding the rest. Started by the settings route when the
// language changes; safe to start again at any time (the activity reads the language for
// every batch and stops when no chunk differs).
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export function textSearchReindexWorkflowId(tenantId: string): string {
  return `text-search:${tenantId}`;
}

const { reindexTextSearch } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 40 },
});

export async function textSearchReindex(input: { tenantId: string }): Promise<{ language: string; updated: number }> {
  return reindexTextSearch({ tenantId: input.tenantId });
}
