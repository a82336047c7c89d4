// `retrievalPreview`: what the assistant would retrieve for a question, for the Knowledge page
// (POST /api/v1/documents/search). It runs the very activity the conversation workflow's
// knowledge search runs (retrieveContext, same input, same options, on the `conversations` queue),
// so the preview uses the workers' embedders and the tenant's retrieval settings as a reply does
// and cannot drift from it. One short run per question (id `retrieval-preview:{tenantId}:{uuid}`).
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { Passage } from '../activities/rag.ts';

export interface RetrievalPreviewInput {
  tenantId: string;
  question: string;
}

export function retrievalPreviewWorkflowId(tenantId: string, nonce: string): string {
  return `retrieval-preview:${tenantId}:${nonce}`;
}

// The options of the conversation's knowledge search (workflows/assistant-reply.ts).
const retrieval = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumAttempts: 3 } });

export async function retrievalPreview(input: RetrievalPreviewInput): Promise<Passage[]> {
  return retrieval.retrieveContext.executeWithOptions({ summary: 'retrieval preview for the Knowledge page' }, [{ tenantId: input.tenantId, question: input.question }]);
}
