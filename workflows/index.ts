// Every workflow the workers run. Deterministic code only: import from workflows/ and
// @temporalio/workflow (types from elsewhere are fine; they vanish at build).
export { conversation } from './conversation.ts';
export { platformDiagnostics } from './diagnostics.ts';
export { partitionMaintenance } from './maintenance.ts';
export { integrityCheck } from './integrity.ts';
export { ingestDocument } from './ingestion.ts';
export { embeddingModelSwitch } from './embedding-model-switch.ts';
export { tenantWebhookDelivery, tenantEventSweep } from './webhook-delivery.ts';
export { textSearchReindex } from './text-search-reindex.ts';
export { documentPurge } from './document-purge.ts';
export { tenantCleanup } from './tenant-cleanup.ts';
export { playground } from './playground.ts';
export { retrievalPreview } from './retrieval-preview.ts';
export { stripeEvent } from './stripe-events.ts';
export { stripeUsageReport } from './stripe-usage-report.ts';
export { inboundMedia } from './inbound-media.ts';
export { templateMessage } from './template-message.ts';
export { campaign } from './campaign.ts';
export { templateSync } from './template-sync.ts';
export { evaluationRun, evaluationScheduler } from './evaluation.ts';
