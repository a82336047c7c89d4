// `embeddingModelSwitch`: moves a tenant to the embedding model its settings want
// (settings.rag.embeddingModel), one workflow per tenant (id `embedding-model:{tenantId}`, task
// queue `ingestion`). Re-embeds every ready document for the new model beside the old vectors,
// switches retrieval over (tenants.embedding_model) only when all are done, then drops the old
// model's chunks. New uploads during the switch are embedded for both models by ingestion.
// Started by the settings route when the wanted model changes; safe to start again at any time.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export function embeddingModelSwitchWorkflowId(tenantId: string): string {
  return `embedding-model:${tenantId}`;
}

const quick = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });
const heavy = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 40, nonRetryableErrorTypes: ['UnknownEmbeddingModel', 'EmbeddingProviderRejected', 'EmbeddingProviderNotConfigured'] },
});

export interface EmbeddingModelSwitchResult {
  from: string;
  to: string;
  documents: number;
  dropped: number;
}

export async function embeddingModelSwitch(input: { tenantId: string }): Promise<EmbeddingModelSwitchResult> {
  const { tenantId } = input;
  let documents = 0;
  for (let round = 0; round < 100; round++) {
    const { active, wanted } = await quick.tenantModels({ tenantId });
    if (active === wanted) return { from: active, to: wanted, documents, dropped: 0 };
    const missing = await quick.documentsMissingModel({ tenantId, model: wanted });
    for (const documentId of missing) {
      await heavy.embedDocumentForModel({ tenantId, documentId, fromModel: active, model: wanted });
      documents++;
    }
    if (missing.length > 0) continue;
    const { switched, previous } = await quick.activateEmbeddingModel({ tenantId, model: wanted });
    if (!switched) continue;
    const { deleted } = previous ? await heavy.dropEmbeddingModelChunks({ tenantId, model: previous }) : { deleted: 0 };
    return { from: previous ?? active, to: wanted, documents, dropped: deleted };
  }
  throw new Error('the embedding model switch did not converge (documents keep changing); start it again');
}
