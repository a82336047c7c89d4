// Builds every activity from injected dependencies; workers register the result.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { createBillingActivities } from './billing.ts';
import { createChannelActivities } from './channels/index.ts';
import { createDiagnosticsActivities } from './diagnostics.ts';
import { createEvaluationActivities } from './evaluations.ts';
import { requestEvaluation } from '../lib/evaluation-requests.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createEmbedderRegistry, type EmbedderRegistry } from './embeddings/index.ts';
import { createIngestionActivities } from './ingest/index.ts';
import { createModelSwitchActivities } from './ingest/model-switch.ts';
import { createTextSearchActivities } from './ingest/text-search.ts';
import { createIntegrityActivities } from './integrity.ts';
import { createLlmActivities, type LlmDependencies } from './llm/index.ts';
import { createMaintenanceActivities } from './maintenance.ts';
import { createRagActivities } from './rag.ts';
import { createStoreActivities } from './store.ts';
import { createCampaignActivities } from './campaigns.ts';
import { createTemplateActivities, createTemplateSender } from './templates.ts';
import { createTenantCleanupActivities } from './tenant-cleanup.ts';
import { createWebhookActivities } from './webhooks.ts';
import { createInboundMediaActivities } from './media/inbound.ts';
import { DEFAULT_MEDIA_OPTIONS, type MediaOptions } from './media/options.ts';
import type { Billing } from '../lib/billing.ts';
import type { DocumentStorage } from '../lib/storage.ts';
import type { DocumentParsing } from './ingest/parse-thread.ts';
import { createWebhookDispatcher, DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from '../lib/tenant-webhooks.ts';

export interface ActivityDependencies {
  db: Db;
  logger: Logger;
  /** SECRETS_KEYS: the integrity checks decrypt channel secrets to prove they still can. */
  keyring: Keyring;
  /** The integrity checks look up conversation workflows. */
  temporal: Client;
  /** META_GRAPH_API_URL: every Graph API call goes through it. */
  graphApiUrl: string;
  /** Uploaded documents (lib/storage.ts); the ingestion activities fail without it. */
  documentStorage?: DocumentStorage;
  /** Embedding providers by model (default: local only, OpenAI without a key). */
  embedders?: EmbedderRegistry;
  /** CHUNK_QUOTA_PER_TENANT for ingestion. */
  chunkQuota?: number;
  /** Parse limits for ingestion (DOCUMENT_MAX_PDF_PAGES, …; activities/ingest/parse-thread.ts); default: the configuration's defaults. */
  documentParsing?: DocumentParsing;
  /** Model providers' keys and base URLs (lib/config.ts), breaker tuning; unset: only the local provider works. */
  llm?: Omit<LlmDependencies, 'db' | 'keyring'>;
  /** Tenant webhook delivery (lib/tenant-webhooks.ts webhookOptionsFrom); default: the conversations queue, default policy. */
  webhooks?: WebhookOptions;
  /** The process's business metrics (served by workers/metrics-server.ts); default: a private registry nobody reads. */
  metrics?: WorkerMetrics;
  /** Stripe (lib/billing.ts billingOf); unset: billing is off. */
  billing?: Billing;
  /** EVALUATION_QUIET_SECONDS in ms: how long an automatic evaluation run waits for changes to settle (default 120 s). */
  evaluationQuietMs?: number;
  /** End users' media (MEDIA_MAX_BYTES, MEDIA_ALLOWED_TYPES; TRANSCRIPTION_MODEL); default: mediaOptionsFrom's defaults, no transcription. */
  media?: MediaOptions;
}

export function createActivities(given: ActivityDependencies) {
  const deps = { ...given, metrics: given.metrics ?? new WorkerMetrics() };
  const { metrics } = deps;
  const embedders = deps.embedders ?? createEmbedderRegistry();
  // Tenant-facing events are handed to it after their transaction commits.
  const webhooks = deps.webhooks ?? DEFAULT_WEBHOOK_OPTIONS;
  const tenantEvents = createWebhookDispatcher({ db: deps.db, temporal: deps.temporal, logger: deps.logger, options: webhooks });
  const rag = createRagActivities(deps.db, embedders, metrics);
  const channels = createChannelActivities({ ...deps, storage: deps.documentStorage, tenantEvents });
  const sendTemplateMessage = createTemplateSender({ ...deps, tenantEvents });
  // Ingestion's queue runs the evaluations too (background work, like it: workflows/evaluation.ts).
  const documentsChanged = (tenantId: string) =>
    requestEvaluation(
      { temporal: deps.temporal, tdb: forTenant(deps.db, tenantId), logger: deps.logger },
      { tenantId, taskQueue: Context.current().info.taskQueue, trigger: 'documents_changed', quietMs: deps.evaluationQuietMs ?? 120_000 },
    );
  const media = createInboundMediaActivities({ ...deps, storage: deps.documentStorage, ...(deps.media ?? DEFAULT_MEDIA_OPTIONS) });
  return {
    ...createDiagnosticsActivities(deps.db),
    ...createMaintenanceActivities(deps.db, deps.logger),
    ...createIntegrityActivities(deps),
    ...createStoreActivities(deps.db, tenantEvents, deps.temporal, metrics),
    ...channels,
    ...createTemplateActivities(deps, sendTemplateMessage),
    ...createCampaignActivities({ db: deps.db, sendTemplateMessage }),
    ...rag,
    ...createIngestionActivities({ db: deps.db, logger: deps.logger, storage: deps.documentStorage, embedders, chunkQuota: deps.chunkQuota, parsing: deps.documentParsing, tenantEvents, metrics, documentsChanged }),
    ...createEvaluationActivities({ db: deps.db, temporal: deps.temporal }),
    ...createTenantCleanupActivities({ db: deps.db, temporal: deps.temporal, logger: deps.logger, storage: deps.documentStorage }),
    ...createWebhookActivities({ db: deps.db, keyring: deps.keyring, logger: deps.logger, dispatcher: tenantEvents, allowInsecureEndpoints: webhooks.allowInsecureEndpoints, metrics }),
    ...createModelSwitchActivities({ db: deps.db, embedders }),
    ...createTextSearchActivities({ db: deps.db }),
    ...createBillingActivities({ db: deps.db, logger: deps.logger, billing: deps.billing }),
    ...media,
    // A turn's first model call retrieves and acknowledges, and its final one delivers, in the
    // same activity: the hot path is one activity per reply.
    ...createLlmActivities({ db: deps.db, keyring: deps.keyring, retrieve: rag.retrieveContext, acknowledge: channels.acknowledgeInbound, deliver: channels.deliverMessage, media: media.fetchInboundMedia, storage: deps.documentStorage, metrics, ...deps.llm }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
