// The worker process's business metrics (the catalog in the README, "Operating it"), on one
// prom-client registry per instance: the worker process makes one and serves it at /metrics
// (workers/metrics-server.ts); activities built without one (most tests) get a private registry
// that nobody reads. Nothing here is global, so several workers in one process never collide.
//
// Activities retry, so each count sits where an outcome becomes final (a row changing state, a
// transition seen once); the call sites say where a retried attempt could still count twice.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabel } from './bounded-label.ts';
import { handoffsCounter, type HandoffTrigger } from './handoffs.ts';

export type { HandoffTrigger } from './handoffs.ts';

export type ReplySender = 'assistant' | 'agent';
export type ReplyOutcome = 'sent' | 'failed' | 'superseded';
export type LlmCallOutcome = 'ok' | 'error' | 'fallback' | 'breaker_open';
export type BreakerState = 'closed' | 'half_open' | 'open';

/** metachat_llm_breaker_state's values. */
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
/** Distinct model names a process labels on its own (tenants may name any model). */
export const MODEL_LABELS = 20;

export interface WorkerMetricsOptions {
  registry?: Registry;
  /** METRICS_TENANT_LABELS: tenants with their own `tenant` label value; the rest are "other". */
  tenantLabels?: number;
}

export interface LlmCall {
  provider: string;
  model: string;
  outcome: LlmCallOutcome;
  /** Absent when no call was made (breaker open). */
  seconds?: number;
  tenantId: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

export class WorkerMetrics {
  readonly registry: Registry;
  readonly #tenants: BoundedLabel;
  readonly #models = new BoundedLabel(MODEL_LABELS);
  #breakers: () => Iterable<[provider: string, state: BreakerState]> = () => [];

  readonly #inbound: Counter<'tenant' | 'channel'>;
  readonly #replies: Counter<'tenant' | 'channel' | 'sender' | 'outcome'>;
  readonly #replyLatency: Histogram<'channel'>;
  readonly #handoffs: Counter<'tenant' | 'channel' | 'trigger'>;
  readonly #unanswered: Counter<'tenant' | 'channel'>;
  readonly #llmCalls: Counter<'provider' | 'model' | 'outcome'>;
  readonly #llmDuration: Histogram<'provider' | 'model'>;
  readonly #llmTokens: Counter<'provider' | 'model' | 'kind'>;
  readonly #llmCost: Counter<'tenant' | 'provider' | 'model'>;
  readonly #budgetExhausted: Counter<'tenant'>;
  readonly #retrievalDuration: Histogram;
  readonly #retrievalPassages: Histogram;
  readonly #ingestedDocuments: Counter<'outcome'>;
  readonly #ingestedChunks: Counter<'tenant'>;
  readonly #ingestionDuration: Histogram;
  readonly #webhookDeliveries: Counter<'outcome'>;
  readonly #webhookEndpointsDisabled: Counter<'tenant'>;
  readonly #graphErrors: Counter<'channel' | 'class'>;

  constructor(options: WorkerMetricsOptions = {}) {
    const registers = [(this.registry = options.registry ?? new Registry())];
    this.#tenants = new BoundedLabel(options.tenantLabels ?? 50);
    const breakers = () => this.#breakers();

    this.#inbound = new Counter({ name: 'metachat_inbound_messages_total', help: 'Inbound customer messages stored (redeliveries not counted)', labelNames: ['tenant', 'channel'], registers });
    this.#replies = new Counter({ name: 'metachat_replies_total', help: 'Outbound messages whose delivery ended, by sender and outcome', labelNames: ['tenant', 'channel', 'sender', 'outcome'], registers });
    this.#replyLatency = new Histogram({
      name: 'metachat_reply_latency_seconds',
      help: "Assistant replies accepted by the channel: seconds since the platform received the customer's newest message",
      labelNames: ['channel'],
      buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60],
      registers,
    });
    this.#handoffs = handoffsCounter(this.registry);
    this.#unanswered = new Counter({ name: 'metachat_unanswered_replies_total', help: 'Assistant replies sent that say it does not know', labelNames: ['tenant', 'channel'], registers });
    this.#llmCalls = new Counter({ name: 'metachat_llm_calls_total', help: 'Model calls by provider, model and outcome', labelNames: ['provider', 'model', 'outcome'], registers });
    this.#llmDuration = new Histogram({
      name: 'metachat_llm_call_duration_seconds',
      help: 'Model call duration',
      labelNames: ['provider', 'model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30],
      registers,
    });
    this.#llmTokens = new Counter({ name: 'metachat_llm_tokens_total', help: 'Model tokens used, input and output', labelNames: ['provider', 'model', 'kind'], registers });
    this.#llmCost = new Counter({ name: 'metachat_llm_cost_usd_total', help: 'Estimated cost of model calls in USD (the price table of activities/llm/usage.ts)', labelNames: ['tenant', 'provider', 'model'], registers });
    this.#budgetExhausted = new Counter({ name: 'metachat_llm_budget_exhausted_total', help: "Turns answered without a model because the tenant's daily budget is spent", labelNames: ['tenant'], registers });
    new Gauge({
      name: 'metachat_llm_breaker_state',
      help: "This worker's circuit breaker per provider (the platform's endpoint): 0 closed, 1 half-open, 2 open",
      labelNames: ['provider'],
      registers,
      collect() {
        this.reset();
        for (const [provider, state] of breakers()) this.set({ provider }, BREAKER_VALUE[state]);
      },
    });
    this.#retrievalDuration = new Histogram({
      name: 'metachat_retrieval_duration_seconds',
      help: 'Retrieval (question embedding, full-text and vector search) duration',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#retrievalPassages = new Histogram({ name: 'metachat_retrieval_passages', help: 'Passages found per retrieval', buckets: [0, 1, 2, 3, 5, 8, 13, 20], registers });
    this.#ingestedDocuments = new Counter({ name: 'metachat_ingestion_documents_total', help: 'Document ingestions ended, ready or failed', labelNames: ['outcome'], registers });
    this.#ingestedChunks = new Counter({ name: 'metachat_ingestion_chunks_total', help: 'Chunks stored (per embedding model: a model switch stores them again)', labelNames: ['tenant'], registers });
    this.#ingestionDuration = new Histogram({
      name: 'metachat_ingestion_duration_seconds',
      help: 'One document version from its upload stored to ready',
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.#webhookDeliveries = new Counter({ name: 'metachat_tenant_webhook_deliveries_total', help: 'Tenant webhook delivery attempts ended: delivered, retried (failed, retries left), failed (given up)', labelNames: ['outcome'], registers });
    this.#webhookEndpointsDisabled = new Counter({ name: 'metachat_tenant_webhook_endpoints_disabled_total', help: 'Tenant webhook endpoints disabled after failures (or a 410 Gone)', labelNames: ['tenant'], registers });
    this.#graphErrors = new Counter({ name: 'metachat_graph_api_errors_total', help: 'Failed Graph API calls by channel and error class (activities/channels/graph-errors.ts)', labelNames: ['channel', 'class'], registers });
  }

  /** The label value for a tenant id (bounded: see bounded-label.ts). */
  tenant(tenantId: string): string {
    return this.#tenants.of(tenantId);
  }

  inboundStored(tenantId: string, channel: string, count: number): void {
    if (count > 0) this.#inbound.inc({ tenant: this.tenant(tenantId), channel }, count);
  }

  replyEnded(tenantId: string, channel: string, sender: ReplySender, outcome: ReplyOutcome): void {
    this.#replies.inc({ tenant: this.tenant(tenantId), channel, sender, outcome });
  }

  replyLatency(channel: string, seconds: number): void {
    this.#replyLatency.observe({ channel }, Math.max(0, seconds));
  }

  unanswered(tenantId: string, channel: string): void {
    this.#unanswered.inc({ tenant: this.tenant(tenantId), channel });
  }

  handoff(tenantId: string, channel: string, trigger: HandoffTrigger): void {
    this.#handoffs.inc({ tenant: this.tenant(tenantId), channel, trigger });
  }

  llmCall(call: LlmCall): void {
    const labels = { provider: call.provider, model: this.#models.of(call.model) };
    this.#llmCalls.inc({ ...labels, outcome: call.outcome });
    if (call.seconds !== undefined) this.#llmDuration.observe(labels, call.seconds);
    if (call.inputTokens) this.#llmTokens.inc({ ...labels, kind: 'input' }, call.inputTokens);
    if (call.outputTokens) this.#llmTokens.inc({ ...labels, kind: 'output' }, call.outputTokens);
    if (call.costUsd) this.#llmCost.inc({ ...labels, tenant: this.tenant(call.tenantId) }, call.costUsd);
  }

  budgetExhausted(tenantId: string): void {
    this.#budgetExhausted.inc({ tenant: this.tenant(tenantId) });
  }

  /** Where metachat_llm_breaker_state reads the breakers at scrape time (the model activities' own). */
  observeBreakers(source: () => Iterable<[provider: string, state: BreakerState]>): void {
    this.#breakers = source;
  }

  retrieval(seconds: number, passages: number): void {
    this.#retrievalDuration.observe(seconds);
    this.#retrievalPassages.observe(passages);
  }

  /** `seconds`: from the upload stored to ready (ready documents only). */
  documentIngested(outcome: 'ready' | 'failed', seconds?: number): void {
    this.#ingestedDocuments.inc({ outcome });
    if (seconds !== undefined) this.#ingestionDuration.observe(Math.max(0, seconds));
  }

  chunksStored(tenantId: string, count: number): void {
    if (count > 0) this.#ingestedChunks.inc({ tenant: this.tenant(tenantId) }, count);
  }

  webhookDelivery(outcome: 'delivered' | 'failed' | 'retried'): void {
    this.#webhookDeliveries.inc({ outcome });
  }

  webhookEndpointDisabled(tenantId: string): void {
    this.#webhookEndpointsDisabled.inc({ tenant: this.tenant(tenantId) });
  }

  graphApiError(channel: string, errorClass: string): void {
    this.#graphErrors.inc({ channel, class: errorClass });
  }
}
