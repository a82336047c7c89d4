// `ingestDocument`: one workflow per document version (id `ingest:{documentId}:v{version}`, task
// queue `ingestion`). Parse and chunk, embed in batches (progress in a query and on the
// document row), then activate: the new version becomes searchable and the older ones are
// soft-deleted in one transaction, so queries see either the old or the new version, never
// neither. Any failure marks the document failed with the reason (and its type, which decides
// whether the file is kept for a retry); starting the workflow again for the same version is
// safe (every activity is idempotent).
import { ActivityFailure, ApplicationFailure, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

export interface IngestDocumentInput {
  tenantId: string;
  documentId: string;
  version: number;
}

export type IngestionStage = 'pending' | 'parsing' | 'embedding' | 'activating' | 'ready' | 'superseded' | 'deleted' | 'failed';

export interface IngestionProgress {
  stage: IngestionStage;
  chunksTotal: number;
  chunksEmbedded: number;
  /** Chunk vectors reused from identical text (per model) and computed by the provider. */
  reused: number;
  embedded: number;
  error: string | null;
}

export const ingestionProgressQuery = defineQuery<IngestionProgress>('ingestionProgress');

export function ingestionWorkflowId(documentId: string, version: number): string {
  return `ingest:${documentId}:v${version}`;
}

const NON_RETRYABLE = ['UnreadableDocument', 'EmptyDocument', 'DocumentTooLarge', 'ParseTimeout', 'ParseLimitExceeded', 'ChunkQuotaExceeded', 'IncompleteDocument', 'UnknownEmbeddingModel', 'EmbeddingProviderRejected'];

const prepare = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});
const embed = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  // The provider may be down for a while (429s, outages): keep trying for about an hour.
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', maximumAttempts: 40, nonRetryableErrorTypes: NON_RETRYABLE },
});
const record = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** The reason a user should read (the innermost failure's message), and its type. */
function failureOf(err: unknown): { reason: string; errorType: string | null } {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return { reason: e instanceof Error ? e.message : String(e), errorType: e instanceof ApplicationFailure ? (e.type ?? null) : null };
}

export async function ingestDocument(input: IngestDocumentInput): Promise<IngestionProgress> {
  const progress: IngestionProgress = { stage: 'pending', chunksTotal: 0, chunksEmbedded: 0, reused: 0, embedded: 0, error: null };
  setHandler(ingestionProgressQuery, () => progress);
  const ref = { tenantId: input.tenantId, documentId: input.documentId };

  try {
    progress.stage = 'parsing';
    const plan = await prepare.prepareDocument.executeWithOptions({ summary: 'parse and chunk the document' }, [ref]);
    if (plan.state === 'skipped') {
      progress.stage = plan.reason === 'ready' ? 'ready' : 'deleted';
      return progress;
    }
    progress.stage = 'embedding';
    progress.chunksTotal = plan.chunkCount;
    while (progress.chunksEmbedded < plan.chunkCount) {
      const batch = await embed.embedDocumentChunks.executeWithOptions({ summary: `embed chunks from ${progress.chunksEmbedded} of ${plan.chunkCount}` }, [
        { ...ref, models: plan.models, from: progress.chunksEmbedded },
      ]);
      progress.chunksEmbedded = batch.next;
      progress.reused += batch.reused;
      progress.embedded += batch.embedded;
    }
    progress.stage = 'activating';
    const activated = await record.activateDocument.executeWithOptions({ summary: 'make the new version the one retrieved' }, [ref]);
    progress.stage = activated.state;
    return progress;
  } catch (err) {
    progress.stage = 'failed';
    const failure = failureOf(err);
    progress.error = failure.reason;
    // The type tells failDocument whether a retry could ever use the file.
    await record.failDocument.executeWithOptions({ summary: 'record the failure on the document' }, [{ ...ref, ...failure }]);
    throw ApplicationFailure.nonRetryable(`Ingestion failed: ${progress.error}`, 'IngestionFailed');
  }
}
