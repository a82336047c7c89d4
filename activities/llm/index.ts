// Reply generation: the `generateReply` activity answers one step of a turn with the tenant's
// chosen provider (route "primary") or its fallback (route "fallback"): the offline local
// provider, OpenAI or Anthropic. What happens on failure is decided by who can decide it best:
//
// - Temporal retries the activity (the SDKs' own retries are off). A provider's verdict becomes
//   the Temporal failure that says whether retrying helps: 429 → retryable with the provider's
//   retry-after as nextRetryDelay; 5xx, timeouts, no connection → retryable with the policy's
//   backoff; other 4xx → non-retryable. A retry-after beyond the turn's deadline is not worth
//   waiting for: non-retryable at once, so the fallback answers.
// - A context-length error is fixed here: the prompt is trimmed and sent again, once.
// - The workflow owns the turn (workflows/assistant-reply.ts): when the primary route fails for
//   good — non-retryable, retries exhausted, or its share of the turn's time budget spent — it
//   calls this activity again with route "fallback", and if that fails too it sends the tenant's
//   polite "unavailable" message. Doing the fallback in the workflow keeps every attempt of
//   either provider visible in the history and lets Temporal retry each provider on its own terms.
// - A circuit breaker per provider endpoint, in this worker process, fails the primary route at
//   once while the provider is unwell (LlmCircuitOpen, non-retryable): new turns go straight to
//   the fallback instead of waiting through retries.
// - Paid calls are metered in `usage`; once the tenant's daily budget (its own, else the
//   platform's DEFAULT_DAILY_BUDGET_USD) is spent, no call is made and the reply is the tenant's
//   budget message (an event records it, once a day). So is it once the plan's monthly messages or
//   model spend are used up (lib/plan-limits.ts turnLimitReached).
// - A web chat reply is streamed (OpenAI, Anthropic; tenant setting webchat.streaming): the text
//   goes to the visitor as drafts while the model writes it (webchat-draft.ts), tied to the id the
//   reply is stored under; a tool round's or a failed attempt's draft is cleared. The durable
//   reply is unchanged: the result, stored and sent once, replaces the draft.
import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Keyring } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import { llmCredentialKey } from '../../lib/llm-credentials.ts';
import { planIncludes } from '../../lib/plan-features.ts';
import { WorkerMetrics, type BreakerState } from '../../lib/metrics/worker-metrics.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { parseTenantSettings, type TenantSettings } from '../../lib/tenant-settings.ts';
import { refusedTenantUrl, tenantDispatcher, tenantFetch } from '../../lib/tenant-urls.ts';
import type { Agent } from 'undici';
import { CHOICE_LIMITS, fitChoices } from '../../lib/choices.ts';
import type { ChoiceSet, OutboundAttachment, ToolCall, ToolStep, Turn } from '../../workflows/types.ts';
import type { AcknowledgeInput, DeliverInput, DeliverResult } from '../channels/index.ts';
import { tenantRetrievalSettings, type Passage, type RetrievalTenant, type RetrieveInput } from '../rag.ts';
import { createAnthropicProvider } from './anthropic.ts';
import { CircuitBreakers, DEFAULT_BREAKER, type BreakerOptions } from './breaker.ts';
import { localReply, type Reply, type ReplyRequest } from './local.ts';
import { answerLanguage } from './local-terms.ts';
import { completeRedacted } from './redact.ts';
import { localeCountry } from '../../lib/pii.ts';
import type { ReplySource } from '../store.ts';
import { extractiveSummary, SUMMARY_MAX_CHARS, SUMMARY_SYSTEM_PROMPT, transcript } from './memory.ts';
import { createFunctionActivities } from './functions.ts';
import { asksToSend, channelTakesDocuments, fileOfCall, requestedDocument, SEND_FILE, sendableDocuments, sendFileTool } from './send-file.ts';
import { createOpenAiProvider } from './openai.ts';
import { createWebchatDraft, type WebchatDraft } from './webchat-draft.ts';
import { publishWebchatEvent } from '../../lib/webchat-bus.ts';
import { chatMessages, systemPrompt, trimmed, withSources, type PromptInput, type TurnContent } from './prompt.ts';
import { resolveTurnMedia, visionCapable, type InboundMediaRef, type TurnMedia } from './turn-media.ts';
import type { FetchedInboundMedia, FetchInboundMediaInput } from '../media/inbound.ts';
import type { DocumentStorage } from '../../lib/storage.ts';
import { ProviderError, type ChatProvider, type ChatResult, type ProviderName, type ToolSpec } from './provider.ts';
import { costUsd, createUsageLedger, DEFAULT_MODELS } from './usage.ts';
import { turnLimitReached } from '../../lib/plan-limits.ts';

export type { Reply, ReplyRequest } from './local.ts';

/** Failure types (ApplicationFailure.type) of generateReply. */
export const LLM_THROTTLED = 'LlmThrottled';
export const LLM_UNAVAILABLE = 'LlmUnavailable';
export const LLM_REJECTED = 'LlmRejected';
export const LLM_NOT_CONFIGURED = 'LlmProviderNotConfigured';
export const LLM_CIRCUIT_OPEN = 'LlmCircuitOpen';

export interface ProviderEndpoint {
  apiKey?: string;
  baseURL?: string;
}

export interface LlmDependencies {
  db: Db;
  /** Retrieval for a turn's first call (activities/rag.ts retrieveContext), given the tenant's row read for the call. */
  retrieve?: (input: RetrieveInput, tenant: RetrievalTenant | null) => Promise<Passage[]>;
  /** The channel's read receipt and typing indicator (activities/channels acknowledgeInbound). */
  acknowledge?: (input: AcknowledgeInput) => Promise<void>;
  /** Stores and sends a reply (activities/channels deliverMessage). */
  deliver?: (input: DeliverInput) => Promise<DeliverResult>;
  /** Fetches a media message's file (activities/media fetchInboundMedia), for a turn that has media. */
  media?: (input: FetchInboundMediaInput) => Promise<FetchedInboundMedia>;
  /** Where fetched media lives: images are read from it for vision-capable models. */
  storage?: DocumentStorage;
  /** Decrypts tenant functions' signing secrets. */
  keyring: Keyring;
  /**
   * ALLOW_INSECURE_TENANT_URLS (development, tests): lets tenant functions and a tenant's own model
   * base URL live on a local http:// endpoint.
   */
  allowInsecureFunctionEndpoints?: boolean;
  /** The connections to tenant URLs (tests map names with their own); lib/tenant-urls.ts by default. */
  tenantConnections?: Agent;
  /** OPENAI_API_KEY / OPENAI_BASE_URL and ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL. */
  openai?: ProviderEndpoint;
  anthropic?: ProviderEndpoint;
  breaker?: BreakerOptions;
  /** DEFAULT_DAILY_BUDGET_USD: the budget of a tenant whose settings name none (unset: none). */
  defaultDailyBudgetUsd?: number;
  /** Model calls, tokens, cost, budget refusals, breaker states (default: a private registry). */
  metrics?: WorkerMetrics;
}

export type LlmRoute = 'primary' | 'fallback';

export interface GenerateReplyInput extends ReplyRequest {
  tenantId: string;
  /** Rolling summary of the turns older than `history`. */
  summary?: string;
  /** The tenant's provider, or its fallback. Default: primary. */
  route?: LlmRoute;
  /** This turn's tool calls and results so far. */
  steps?: ToolStep[];
  /** Offer tools to the model (the workflow stops offering them at its iteration cap). */
  tools?: boolean;
  /** Epoch ms by which the turn must be answered: a longer wait is not worth it. */
  deadline?: number;
  /** Retrieve the passages for this question first; they replace `passages` (returned with the reply). */
  retrieve?: { question: string };
  /** Acknowledge the user's messages (read receipt, typing) while the model thinks; best effort. */
  acknowledge?: AcknowledgeInput;
  /**
   * The turn's media messages: transcripts join the question (and the retrieval), images go to
   * a vision-capable model, the rest is named (turn-media.ts). Resolved on every call of the turn.
   */
  media?: InboundMediaRef[];
  /**
   * Where the turn's reply goes (its id chosen by the workflow): a final reply is stored and
   * sent by this call, before it returns. A retry, or the fallback route, that finds the reply
   * stored already sends that one instead of asking a model again.
   */
  deliver?: Omit<DeliverInput, 'text' | 'author' | 'agentId' | 'assistantTurn'>;
}

/** How long a turn waits for its read receipt before it answers without. */
const ACKNOWLEDGE_WAIT_MS = 3_000;

export interface GeneratedReply extends Reply {
  /** reply: send `text`; tool_calls: run `toolCalls` and call again; budget_exhausted: send `text`, no model was called. */
  outcome: 'reply' | 'tool_calls' | 'budget_exhausted';
  toolCalls: ToolCall[];
  /** 'stored': an earlier attempt's reply, found stored and sent (see generateReply's `deliver`). */
  provider: 'local' | ProviderName | 'stored';
  model: string;
  /** The passages retrieved by this call (when asked to retrieve). */
  passages?: Passage[];
  /** What became of the reply, when the call was asked to deliver it. */
  delivered?: DeliverResult;
  /** A paid model's tokens and their estimated cost, as recorded in `usage`. */
  usage?: { promptTokens: number; completionTokens: number; costUsd: number };
  /** Options offered with the reply (offer_choices, or the handoff button): sent and stored with it. */
  choices?: ChoiceSet;
  /** A document's original sent after the reply's text (send_file), stored with it. */
  attachment?: OutboundAttachment;
}

export interface TurnPolicy {
  turnBudgetMs: number;
  maxToolIterations: number;
  unavailableMessage: string;
  historyTurns: number;
  /** Whether the fallback route reaches another provider or model than the primary. */
  fallbackDiffers: boolean;
}

/** How the conversation workflow runs one assistant turn, from the tenant's `llm` settings. */
export function turnPolicyOf(llm: TenantSettings['llm']): TurnPolicy {
  return {
    turnBudgetMs: llm.turnBudgetSeconds * 1000,
    maxToolIterations: llm.maxToolIterations,
    unavailableMessage: llm.unavailableMessage,
    historyTurns: llm.historyTurns,
    fallbackDiffers: llm.fallbackProvider !== llm.provider || llm.fallbackModel !== llm.model,
  };
}

/** The built-in tools every tenant's assistant has. */
export const BUILTIN_TOOLS: ToolSpec[] = [
  {
    name: 'request_human',
    description: 'Hand the conversation over to a human agent, when the customer asks for a person or you cannot help.',
    parameters: { type: 'object', properties: { reason: { type: 'string', description: 'Why a person is needed' } }, required: ['reason'], additionalProperties: false },
  },
  {
    name: 'search_knowledge',
    description: "Search the company's documents for passages about a topic.",
    parameters: { type: 'object', properties: { query: { type: 'string', description: 'What to look for' } }, required: ['query'], additionalProperties: false },
  },
  {
    name: 'offer_choices',
    description:
      'Reply with a short message and a few options the customer can tap (buttons or a list), when they should pick one of a few known options. ' +
      'This is your reply: nothing else is sent. Their pick comes back as their next message.',
    parameters: {
      type: 'object',
      properties: {
        text: { type: 'string', description: 'The message shown above the options' },
        choices: {
          type: 'array',
          minItems: 1,
          maxItems: CHOICE_LIMITS.maxItems,
          items: {
            type: 'object',
            properties: {
              id: { type: 'string', description: 'A short id for the option' },
              title: { type: 'string', description: `The option, at most ${CHOICE_LIMITS.whatsappButtonTitleMax} characters` },
              description: { type: 'string', description: 'Optional detail, shown in lists' },
            },
            required: ['title'],
            additionalProperties: false,
          },
        },
      },
      required: ['text', 'choices'],
      additionalProperties: false,
    },
  },
];

/** The model's offer_choices call as the turn's reply, or null when its arguments hold no text or no option. */
function offeredChoices(call: ToolCall, fallbackText: string): { text: string; choices: ChoiceSet } | null {
  let args: { text?: unknown; choices?: unknown } | null;
  try {
    args = JSON.parse(call.arguments || '{}') as { text?: unknown; choices?: unknown } | null;
  } catch {
    return null;
  }
  const text = (typeof args?.text === 'string' && args.text.trim() ? args.text : fallbackText).trim();
  const choices = fitChoices(args?.choices);
  return text && choices ? { text, choices } : null;
}

/** The handoff button on a reply that offers a person, when the tenant wants it (llm.handoffButton). */
function withHandoffButton<R extends { unanswered?: boolean; choices?: ChoiceSet }>(reply: R, settings: TenantSettings, handoffKeyword: string): R {
  if (!settings.llm.handoffButton || !reply.unanswered || reply.choices) return reply;
  return { ...reply, choices: { items: [{ id: 'handoff', title: handoffKeyword.slice(0, CHOICE_LIMITS.whatsappButtonTitleMax) }] } };
}

/** SDK clients kept per worker (oldest dropped first). */
const MAX_CACHED = 1000;

type Resolved = { configured: true; client: ChatProvider; breakerKey: string } | { configured: false; breakerKey: string };

/** Per call, at most; the activity's start-to-close timeout and the turn's deadline can cut it shorter. */
const CALL_TIMEOUT_MS = 25_000;
/** How often a model call tells Temporal its worker is alive (the workflow's heartbeat timeout is 15 s). */
const HEARTBEAT_EVERY_MS = 3_000;
/** Of an attempt that delivers its reply, the time kept for storing and sending it. */
const SEND_RESERVE_MS = 15_000;

export function createLlmActivities(deps: LlmDependencies) {
  const breakers = new CircuitBreakers(deps.breaker ?? DEFAULT_BREAKER);
  const metrics = deps.metrics ?? new WorkerMetrics();
  metrics.observeBreakers(() => platformBreakerStates(breakers));
  /** Settings are read with the platform's defaults filled in (a tenant without a budget gets the default). */
  const platform = { dailyBudgetUsd: deps.defaultDailyBudgetUsd };
  const usage = createUsageLedger(deps.db);
  const clients = new Map<string, ChatProvider>();
  const tenantConnections = deps.tenantConnections ?? tenantDispatcher({ allowInsecure: deps.allowInsecureFunctionEndpoints ?? false });
  const functions = createFunctionActivities({ ...deps, connections: tenantConnections });
  const fetchTenantUrl = tenantFetch(tenantConnections);

  /**
   * The tenant's own key and base URL for the provider, else the platform's. A tenant base URL
   * only ever gets the tenant's key; a tenant key without a base URL goes to the platform's base
   * URL (or the vendor's). Read on every call like the settings: one indexed row, next to a model
   * call that takes hundreds of milliseconds, and a change applies at the next turn. A plan
   * without "llm_credentials" leaves the tenant's keys unused: the platform's serve it.
   */
  async function resolve(tenantId: string, name: ProviderName): Promise<Resolved> {
    const platform = (name === 'openai' ? deps.openai : deps.anthropic) ?? {};
    const [ownKeys, stored] = await Promise.all([
      planIncludes(deps.db, tenantId, 'llm_credentials'),
      forTenant(deps.db, tenantId).tenantLlmCredential.findFirst({ where: { provider: name } }),
    ]);
    if (stored && !ownKeys.included) log.debug("the tenant's own key is not used: its plan does not include llm_credentials", { provider: name, plan: ownKeys.planId });
    const row = ownKeys.included ? stored : null;
    let own: ProviderEndpoint | null = null;
    if (row) {
      try {
        own = { apiKey: llmCredentialKey(deps.keyring, row), baseURL: row.baseUrl ?? platform.baseURL };
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`the tenant's ${name} key does not decrypt: ${err instanceof Error ? err.message : String(err)}`, LLM_NOT_CONFIGURED);
      }
    }
    const { apiKey, baseURL } = own ?? platform;
    if (!apiKey) return { configured: false, breakerKey: name };
    // The tenant's own base URL is a tenant URL: checked as written, and at connect time.
    const tenantBaseUrl = own !== null && row?.baseUrl != null;
    const refused = tenantBaseUrl ? refusedTenantUrl(row!.baseUrl!, deps.allowInsecureFunctionEndpoints ?? false) : undefined;
    if (refused) throw ApplicationFailure.nonRetryable(`the tenant's ${name} base URL is refused: ${refused}`, LLM_NOT_CONFIGURED);
    // A tenant's own key has its own limits and its own endpoint's health: its own breaker.
    const breakerKey = `${name}:${baseURL ?? 'default'}${own ? `:tenant:${tenantId}` : ''}`;
    const clientKey = `${breakerKey}:${createHash('sha256').update(apiKey).digest('hex').slice(0, 16)}`;
    let client = clients.get(clientKey);
    if (!client) {
      const endpoint = { apiKey, baseURL, ...(tenantBaseUrl && { fetch: fetchTenantUrl }) };
      client = name === 'openai' ? createOpenAiProvider(endpoint) : createAnthropicProvider(endpoint);
      if (clients.size >= MAX_CACHED) clients.delete(clients.keys().next().value!);
      clients.set(clientKey, client);
    }
    return { configured: true, client, breakerKey };
  }

  function configured(name: ProviderName, r: Resolved): asserts r is Resolved & { configured: true } {
    if (!r.configured) throw ApplicationFailure.nonRetryable(`${name} has no API key (${name.toUpperCase()}_API_KEY, or the tenant's own)`, LLM_NOT_CONFIGURED);
  }

  async function settingsOf(tenantId: string): Promise<TenantSettings> {
    const tenant = await forTenant(deps.db, tenantId).tenant.findFirst({ select: { settings: true } });
    if (!tenant) throw ApplicationFailure.nonRetryable(`tenant ${tenantId} not found`, 'TenantNotFound');
    return parseTenantSettings(tenant.settings, platform);
  }

  /**
   * One provider call with the breaker's bookkeeping and its metrics; a failure comes back as a
   * Temporal failure. Counted per call: a retried attempt is another call, billed again.
   */
  async function call(r: Resolved & { configured: true }, request: Parameters<ChatProvider['complete']>[0], of: { tenantId: string; route: LlmRoute; settings: TenantSettings }): Promise<ChatResult> {
    const key = r.breakerKey;
    const started = performance.now();
    const labels = { tenantId: of.tenantId, provider: r.client.name, model: request.model };
    try {
      const { privacy, locale } = of.settings;
      const result = privacy.redactPii ? await completeRedacted(request, localeCountry(locale), (req) => r.client.complete(req)) : await r.client.complete(request);
      breakers.success(key);
      metrics.llmCall({
        ...labels, outcome: of.route === 'fallback' ? 'fallback' : 'ok', seconds: (performance.now() - started) / 1000,
        inputTokens: result.promptTokens, outputTokens: result.completionTokens, costUsd: costUsd(r.client.name, request.model, result.promptTokens, result.completionTokens),
      });
      return result;
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      metrics.llmCall({ ...labels, outcome: 'error', seconds: (performance.now() - started) / 1000 });
      if (err.kind === 'throttled' || err.kind === 'transient') breakers.failure(key);
      throw err;
    }
  }

  function toFailure(err: ProviderError, deadline: number | undefined): ApplicationFailure {
    if (err.kind === 'throttled') {
      const wait = err.retryAfterMs;
      if (wait !== undefined && deadline !== undefined && Date.now() + wait > deadline) {
        return ApplicationFailure.nonRetryable(`${err.message} (asked to wait ${wait} ms, past the turn's deadline)`, LLM_THROTTLED);
      }
      return ApplicationFailure.create({ message: err.message, type: LLM_THROTTLED, ...(wait !== undefined && { nextRetryDelay: Math.max(wait, 100) }) });
    }
    if (err.kind === 'transient') return ApplicationFailure.retryable(err.message, LLM_UNAVAILABLE);
    return ApplicationFailure.nonRetryable(err.message, LLM_REJECTED);
  }

  return {
    callTenantFunction: functions.callTenantFunction,

    /** What the workflow needs to run a turn (read as a local activity at its start). */

    /** The rolling summary with `turns` folded in (by the tenant's model, else extractively); never fails. */
    async summarizeTurns(input: { tenantId: string; summary?: string; turns: Turn[] }): Promise<string> {
      const settings = await settingsOf(input.tenantId);
      const name = settings.llm.provider;
      const fallback = () => extractiveSummary(input.summary, input.turns);
      if (name === 'local') return fallback();
      const resolved = await resolve(input.tenantId, name);
      if (!resolved.configured) return fallback();
      const model = settings.llm.model ?? DEFAULT_MODELS[name];
      if (!breakers.allow(resolved.breakerKey)) {
        metrics.llmCall({ tenantId: input.tenantId, provider: name, model, outcome: 'breaker_open' });
        return fallback();
      }
      const budget = settings.llm.dailyBudgetUsd;
      if (budget !== undefined && (await usage.spentToday(input.tenantId)) >= budget) return fallback();
      try {
        const result = await call(resolved, {
          model,
          system: SUMMARY_SYSTEM_PROMPT,
          messages: [{ role: 'user', text: `Current summary:\n${input.summary ?? '(none)'}\n\nNext messages:\n${transcript(input.turns)}` }],
          tools: [],
          temperature: 0,
          maxTokens: 400,
          timeoutMs: 15_000,
          signal: Context.current().cancellationSignal,
        }, { tenantId: input.tenantId, route: 'primary', settings });
        await usage.record(input.tenantId, name, model, result.promptTokens, result.completionTokens);
        return result.text.trim().slice(0, SUMMARY_MAX_CHARS * 2) || fallback();
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        log.warn('summary by the model failed: kept extractively', { provider: name, error: err.message });
        return fallback();
      }
    },

    /**
     * One model call of a turn. The turn's first call also retrieves its passages (a failed
     * retrieval is "no passages": the reply must not wait for the database) and acknowledges the
     * user's messages meanwhile, so that the hot path is one activity instead of three.
     */
    async generateReply(input: GenerateReplyInput): Promise<GeneratedReply> {
      const acknowledged = input.acknowledge && deps.acknowledge ? acknowledgeQuietly(deps.acknowledge, input.acknowledge) : undefined;
      try {
        const resumed = await storedReply(input, acknowledged);
        if (resumed) return resumed;
        const draft = webchatDraft(input);
        const generated = await whileAlive(async () => {
          // A turn's first call reads the tenant's row once, for its settings and for retrieval.
          const tenant = input.retrieve && deps.retrieve ? await tenantRow(input.tenantId) : undefined;
          const media = input.media?.length ? await resolveTurnMedia({ db: deps.db, storage: deps.storage, fetch: deps.media }, input.tenantId, input.media) : undefined;
          const heard = media ? withTurnMedia(input, media) : input;
          const question = [input.retrieve?.question ?? '', ...(media?.transcripts ?? [])].filter((q) => q.trim()).join('\n');
          const passages = input.retrieve && question ? await retrieveQuietly(input.tenantId, question, tenant) : input.passages;
          return { ...(await reply({ ...heard, passages }, tenant?.settings, draft)), ...(input.retrieve && { passages }) } as GeneratedReply;
        }).catch(async (err: unknown) => {
          // A failed attempt's partial text must not stay up looking like an answer.
          draft?.clear();
          await draft?.close();
          throw err;
        });
        if (generated.outcome === 'tool_calls') draft?.clear();
        // Every piece is published before the reply itself, which replaces them.
        await draft?.close();
        // A person was asked for: the workflow hands the conversation over on this answer. (Should
        // the answer get lost with its worker, the retry asks the model again and may count again.)
        if (input.deliver && generated.toolCalls.some((c) => c.name === 'request_human')) metrics.handoff(input.tenantId, input.deliver.channel, 'assistant');
        // The send heartbeats its own progress (each part Meta accepted) from here on.
        if (input.deliver && deps.deliver && generated.outcome !== 'tool_calls') {
          // The read receipt and typing indicator go out before the answer, never after it
          // (bounded by ACKNOWLEDGE_WAIT_MS; it never throws).
          await acknowledged;
          const sources = sourcesOf(generated.citations, generated.passages ?? input.passages);
          generated.delivered = await deps.deliver({
            ...input.deliver, text: generated.text, author: 'assistant', assistantTurn: true, ...(generated.unanswered && { unanswered: true }), ...(sources.length > 0 && { sources }),
            ...(generated.choices && { choices: generated.choices }),
            ...(generated.attachment && { attachment: generated.attachment }),
          });
        }
        return generated;
      } finally {
        await acknowledged;
      }
    },
  };

  /**
   * The turn's reply as an earlier attempt (or the primary route) stored it, sent now: the model
   * is not asked twice for one reply. Only a retry or the fallback can find one (the workflow
   * chooses a new id per turn).
   */
  async function storedReply(input: GenerateReplyInput, acknowledged: Promise<void> | undefined): Promise<GeneratedReply | undefined> {
    const target = input.deliver;
    if (!target || !deps.deliver || (Context.current().info.attempt === 1 && input.route !== 'fallback')) return undefined;
    const row = await forTenant(deps.db, input.tenantId).message.findFirst({ where: { id: target.id, createdAt: new Date(target.createdAt) }, select: { content: true } });
    const text = (row?.content as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') return undefined;
    await acknowledged;
    // (Whether it said "I don't know" went with the attempt that stored it: not counted unanswered.)
    const delivered = await deps.deliver({ ...target, assistantTurn: true });
    return { text, citations: [], outcome: 'reply', toolCalls: [], provider: 'stored', model: 'stored', delivered };
  }

  /** The streamed draft of a web chat reply (used only if the tenant's settings allow and the provider streams). */
  function webchatDraft(input: GenerateReplyInput): WebchatDraft | undefined {
    const target = input.deliver;
    if (!target || target.channel !== 'webchat') return undefined;
    let failed = false;
    return createWebchatDraft(
      { tenantId: input.tenantId, channelId: target.channelId, visitorId: target.to, messageId: target.id, attempt: Context.current().info.attempt },
      (event) => publishWebchatEvent(deps.db, event),
      (err) => {
        if (!failed) log.warn('web chat draft not published: the reply comes whole', { error: String(err) });
        failed = true;
      },
    );
  }

  /** The documents send_file may name: only for a reply that goes to a channel taking files, when the tenant allows it. */
  async function filesToOffer(input: GenerateReplyInput, settings: TenantSettings) {
    if (!input.deliver || !settings.llm.sendFiles || !channelTakesDocuments(input.deliver.channel)) return [];
    return sendableDocuments(deps.db, input.tenantId, input.deliver.channel);
  }

  /** The offline provider's send_file: a document the customer asked for by its title, or null. */
  async function localFileReply(input: GenerateReplyInput, settings: TenantSettings): Promise<Reply & { attachment: OutboundAttachment } | null> {
    if (!input.question.trim() || !input.deliver || !settings.llm.sendFiles || !channelTakesDocuments(input.deliver.channel)) return null;
    // The documents are read only for a question that asks for something to be sent.
    if (!asksToSend(input.question)) return null;
    const document = requestedDocument(input.question, await sendableDocuments(deps.db, input.tenantId, input.deliver.channel), answerLanguage(settings));
    return document ? { text: `Here is ${document.title}.`, citations: [], attachment: document.attachment } : null;
  }

  async function tenantRow(tenantId: string): Promise<RetrievalTenant> {
    const tenant = await tenantRetrievalSettings(deps.db, tenantId, platform);
    if (!tenant) throw ApplicationFailure.nonRetryable(`tenant ${tenantId} not found`, 'TenantNotFound');
    return tenant;
  }

  async function retrieveQuietly(tenantId: string, question: string, tenant: RetrievalTenant | undefined): Promise<Passage[]> {
    if (!deps.retrieve || !tenant) return [];
    try {
      return await deps.retrieve({ tenantId, question }, tenant);
    } catch (err) {
      log.warn('retrieval failed: answering without passages', { error: String(err) });
      return [];
    }
  }

  async function reply(input: GenerateReplyInput & TurnContent, known?: TenantSettings, draft?: WebchatDraft): Promise<GeneratedReply> {
    const settings = known ?? (await settingsOf(input.tenantId));
    const route = input.route ?? 'primary';
    const name = route === 'primary' ? settings.llm.provider : settings.llm.fallbackProvider;
    // The plan's monthly messages or model spend used up: the customer gets the budget message.
    const planLimit = await turnLimitReached(deps.db, input.tenantId);
    if (planLimit) {
      log.warn('plan limit reached: no model call', { limit: planLimit.limit, plan: planLimit.planId, used: planLimit.used, max: planLimit.max });
      return { text: settings.llm.budgetExhaustedMessage, citations: [], outcome: 'budget_exhausted', toolCalls: [], provider: name, model: 'none' };
    }
    if (name === 'local') {
      const started = performance.now();
      const file = await localFileReply(input, settings);
      const local = file ?? localReply({ ...input, language: answerLanguage(settings) });
      metrics.llmCall({ tenantId: input.tenantId, provider: 'local', model: 'local', outcome: route === 'fallback' ? 'fallback' : 'ok', seconds: (performance.now() - started) / 1000 });
      return withHandoffButton<GeneratedReply>({ ...local, outcome: 'reply', toolCalls: [], provider: 'local', model: 'local' }, settings, input.handoffKeyword);
    }
    const model = (route === 'primary' ? settings.llm.model : settings.llm.fallbackModel) ?? DEFAULT_MODELS[name];

    const budget = settings.llm.dailyBudgetUsd;
    if (budget !== undefined) {
      const spent = await usage.spentToday(input.tenantId);
      if (spent >= budget) {
        await usage.noteBudgetExhausted(input.tenantId, budget, spent);
        metrics.budgetExhausted(input.tenantId);
        log.warn('daily LLM budget spent: no model call', { budgetUsd: budget, spentUsd: spent });
        return { text: settings.llm.budgetExhaustedMessage, citations: [], outcome: 'budget_exhausted', toolCalls: [], provider: name, model };
      }
    }
    const resolved = await resolve(input.tenantId, name);
    configured(name, resolved);
    if (route === 'primary' && !breakers.allow(resolved.breakerKey)) {
      metrics.llmCall({ tenantId: input.tenantId, provider: name, model, outcome: 'breaker_open' });
      throw ApplicationFailure.nonRetryable(`${name} circuit breaker is open: recent calls failed`, LLM_CIRCUIT_OPEN);
    }

    const files = input.tools === false ? [] : await filesToOffer(input, settings);
    const tools = input.tools === false ? [] : [...BUILTIN_TOOLS, ...(files.length > 0 ? [sendFileTool(files)] : []), ...(await functions.tenantTools(input.tenantId))];
    const ctx = Context.current();
    const sendReserve = input.deliver ? SEND_RESERVE_MS : 500;
    const budgetLeft = () => Math.min(CALL_TIMEOUT_MS, ctx.info.startToCloseTimeoutMs - sendReserve, (input.deadline ?? Infinity) - Date.now());
    const request = (p: PromptInput) => ({
      model,
      system: systemPrompt(p),
      messages: chatMessages(p),
      tools,
      temperature: settings.llm.temperature,
      maxTokens: settings.llm.maxTokens,
      timeoutMs: Math.max(1000, budgetLeft()),
      signal: ctx.cancellationSignal,
      // Web chat shows the answer as it is written, when the tenant lets it (a tool round's text is not shown).
      ...(draft && settings.webchat.streaming && { onText: (piece: string) => draft.text(piece), onToolCall: () => draft.clear() }),
    });
    const prompt: PromptInput = { ...input, settings, ...forModel(name, model, input) };
    let result: ChatResult;
    try {
      try {
        result = await call(resolved, request(prompt), { tenantId: input.tenantId, route, settings });
      } catch (err) {
        if (!(err instanceof ProviderError && err.kind === 'context_length')) throw err;
        log.warn('prompt too long for the model: trimmed and sent again', { provider: name, model });
        result = await call(resolved, request(trimmed(prompt)), { tenantId: input.tenantId, route, settings });
      }
    } catch (err) {
      throw err instanceof ProviderError ? toFailure(err, input.deadline) : err;
    }
    // A failed write must not fail the attempt: the retry would pay for the answer twice.
    await usage.record(input.tenantId, name, model, result.promptTokens, result.completionTokens).catch((err: unknown) => {
      log.error('usage not recorded', { provider: name, model, promptTokens: result.promptTokens, completionTokens: result.completionTokens, error: String(err) });
    });
    const spent = { promptTokens: result.promptTokens, completionTokens: result.completionTokens, costUsd: costUsd(name, model, result.promptTokens, result.completionTokens) };
    // offer_choices is the reply itself (the workflow never sees it as a tool to run).
    const offer = tools.length > 0 ? result.toolCalls.find((c) => c.name === 'offer_choices') : undefined;
    const offered = offer ? offeredChoices(offer, result.text) : null;
    if (offered) return { ...withSources(offered.text, input.passages), choices: offered.choices, outcome: 'reply', toolCalls: [], provider: name, model, usage: spent };
    // send_file is the reply too; a title the enum did not hold (a free-text one) sends no file.
    const fileCall = files.length > 0 ? result.toolCalls.find((c) => c.name === SEND_FILE) : undefined;
    if (fileCall) {
      const file = fileOfCall(fileCall, files);
      if (file) return { ...withSources(file.text, input.passages), attachment: file.document.attachment, outcome: 'reply', toolCalls: [], provider: name, model, usage: spent };
      log.warn('send_file named no document that can be sent: no file sent');
      return { text: noSuchFile(input.handoffKeyword), citations: [], unanswered: true, outcome: 'reply', toolCalls: [], provider: name, model, usage: spent };
    }
    if (result.toolCalls.length > 0 && tools.length > 0) {
      return { text: result.text, citations: [], outcome: 'tool_calls', toolCalls: result.toolCalls, provider: name, model, usage: spent };
    }
    const text = result.text.trim();
    if (!text) throw ApplicationFailure.retryable(`${name} answered with no text`, LLM_UNAVAILABLE);
    const answered = { ...withSources(text, input.passages), outcome: 'reply' as const, toolCalls: [], provider: name, model, usage: spent, ...(offersPerson(text, input.handoffKeyword) && { unanswered: true }) };
    return withHandoffButton(answered, settings, input.handoffKeyword);
  }
}

/** The reply to a send_file call that named no document that can be sent. */
function noSuchFile(handoffKeyword: string): string {
  return `Sorry, I couldn't find that file to send. Shall I get a person to help? Reply "${handoffKeyword}" and someone will take over.`;
}

/** The turn's input with its media: transcripts appended to the question, images and notes for the prompt. */
function withTurnMedia(input: GenerateReplyInput, media: TurnMedia): GenerateReplyInput & TurnContent {
  const question = [input.question, ...media.transcripts].filter((q) => q.trim()).join('\n');
  return { ...input, question, ...(media.images.length > 0 && { images: media.images }), ...(media.notes.length > 0 && { mediaNotes: media.notes }) };
}

/** A model that takes no images is told of them in words instead. */
function forModel(name: ProviderName, model: string, input: TurnContent): TurnContent {
  if (!input.images?.length || visionCapable(name, model)) return {};
  const named = input.images.map((i) => `The customer sent an image (${i.filename}), which you cannot see.`);
  return { images: [], mediaNotes: [...(input.mediaNotes ?? []), ...named] };
}

/** How much of a cited passage its reply's message keeps (enough to recognise it). */
export const SOURCE_EXCERPT_CHARS = 280;

/** The cited passages, as the reply's message records them. */
function sourcesOf(citations: Reply['citations'], passages: Passage[]): ReplySource[] {
  return citations.flatMap((c) => {
    const p = passages.find((x) => x.chunkId === c.chunkId);
    return p ? [{ documentId: p.documentId, chunkId: p.chunkId, title: p.title, page: p.page, section: p.section, excerpt: p.content.slice(0, SOURCE_EXCERPT_CHARS) }] : [];
  });
}

/**
 * Whether a model's reply is the "I don't know" the system prompt asks for (activities/llm/prompt.ts):
 * it offers the handoff keyword in quotes. A tenant's own fallback instruction may word it otherwise.
 */
function offersPerson(text: string, handoffKeyword: string): boolean {
  return text.includes(`"${handoffKeyword}"`);
}

/** Per provider, the worst state of the breakers of the platform's own endpoints (tenants' own keys have theirs). */
function platformBreakerStates(breakers: CircuitBreakers): [string, BreakerState][] {
  const rank: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
  const worst = new Map<string, BreakerState>([['openai', 'closed'], ['anthropic', 'closed']]);
  for (const key of breakers.keys()) {
    if (key.includes(':tenant:')) continue;
    const provider = key.slice(0, key.indexOf(':'));
    const state = breakers.state(key);
    if (rank[state] > rank[worst.get(provider) ?? 'closed']) worst.set(provider, state);
  }
  return [...worst];
}

/**
 * Heartbeats while `work` runs, so that a worker that dies in the middle of a model call is
 * noticed within the activity's heartbeat timeout instead of its whole start-to-close timeout.
 */
async function whileAlive<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const ticker = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}

/** The read receipt, bounded in time; its failure is logged, never thrown. */
async function acknowledgeQuietly(acknowledge: (input: AcknowledgeInput) => Promise<void>, input: AcknowledgeInput): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ACKNOWLEDGE_WAIT_MS)));
  try {
    const outcome = await Promise.race([acknowledge(input).then(() => 'done' as const), timeout]);
    if (outcome === 'timeout') log.warn('read receipt / typing indicator still pending: answering without waiting');
  } catch (err) {
    log.warn('read receipt / typing indicator failed', { error: String(err) });
  } finally {
    clearTimeout(timer);
  }
}

/** The providers' keys and base URLs, and the default daily budget, from the process configuration. */
export function llmEndpoints(config: {
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  ALLOW_INSECURE_TENANT_URLS?: boolean;
  DEFAULT_DAILY_BUDGET_USD?: number;
}) {
  return {
    openai: { apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL },
    anthropic: { apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL },
    allowInsecureFunctionEndpoints: config.ALLOW_INSECURE_TENANT_URLS ?? false,
    defaultDailyBudgetUsd: config.DEFAULT_DAILY_BUDGET_USD,
  };
}
