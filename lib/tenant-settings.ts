// A tenant's settings (tenants.settings JSON). The database keeps what the tenant set (validated
// on write); readers parse it with `parseTenantSettings`, which fills every default, so a default
// changed here applies to every tenant that did not set the value. Writes are versioned:
// tenants.settings_version must match the caller's version and is bumped on every write.
import { z } from 'zod';
import { DEFAULT_EMBEDDING_MODEL, EMBEDDING_MODEL_NAMES } from './embedding-models.ts';

const systemPromptSchema = z
  .object({
    /** Who the assistant is ("You are the assistant of ACME Bikes…"). */
    persona: z.string().max(4000).optional(),
    /** House rules appended to every prompt. */
    instructions: z.string().max(8000).optional(),
    /** What to say when the documents do not answer the question. */
    fallback: z.string().max(2000).optional(),
    /** The brand the assistant speaks for ("ACME Bikes"). */
    brand: z.string().max(200).optional(),
    /** How it speaks ("friendly and brief", "formal"). */
    tone: z.string().max(500).optional(),
  })
  .strict();

/** A browser origin (scheme, host, optional port), as web chat allow-lists hold them. */
export const webOriginSchema = z
  .string()
  .max(255)
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be an origin such as https://shop.example.com (scheme, host, optional port)');

/**
 * The text search configurations that ship with Postgres 17 (`SELECT cfgname FROM pg_ts_config`):
 * the language a tenant's documents are indexed and searched in. `simple` only lower-cases
 * (no stemming, no stop words), the others stem ("runs" and "running" both become "run").
 */
export const TEXT_SEARCH_LANGUAGES = [
  'simple', 'arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english', 'finnish', 'french', 'german', 'greek', 'hindi',
  'hungarian', 'indonesian', 'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese', 'romanian', 'russian', 'serbian',
  'spanish', 'swedish', 'tamil', 'turkish', 'yiddish',
] as const;
export type TextSearchLanguage = (typeof TEXT_SEARCH_LANGUAGES)[number];

/** Who handles an order or a completed Flow (workflows/commerce-routing.ts). */
const commerceRouteSchema = z
  .discriminatedUnion('handledBy', [
    z.object({ handledBy: z.literal('assistant') }).strict(),
    z.object({ handledBy: z.literal('human') }).strict(),
    z.object({ handledBy: z.literal('function'), function: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must be a function name') }).strict(),
  ])
  .default({ handledBy: 'assistant' });

export const tenantSettingsSchema = z
  .object({
    /** BCP 47 language tag used for system messages and as the assistant's default language. */
    locale: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 tag such as en or pt-BR').default('en'),
    handoff: z
      .object({
        /** Words in an inbound message that ask for a human (case-insensitive, whole words). */
        keywords: z.array(z.string().min(1).max(64)).max(50).default(['human', 'agent', 'person']),
        /** A conversation assigned to a human goes back to the assistant after this silence. */
        agentInactivityMinutes: z.number().int().min(1).max(7 * 24 * 60).default(30),
      })
      .strict()
      .prefault({}),
    conversation: z
      .object({
        /** Inbound messages arriving within this window are answered together. */
        quietWindowMs: z.number().int().min(0).max(60_000).default(1500),
        /** A conversation without messages for this long is closed. */
        idleCloseHours: z.number().int().min(1).max(24 * 90).default(24),
        /** Inbound messages per minute above which the assistant stops answering (flood guard). */
        floodMaxPerMinute: z.number().int().min(1).max(1000).default(20),
      })
      .strict()
      .prefault({}),
    llm: z
      .object({
        provider: z.enum(['local', 'openai', 'anthropic']).default('local'),
        model: z.string().min(1).max(128).optional(),
        temperature: z.number().min(0).max(2).default(0.2),
        maxTokens: z.number().int().min(1).max(32_000).default(512),
        systemPrompt: systemPromptSchema.prefault({}),
        /**
         * Answers when the provider fails for good (rejected, retries or the turn's time budget
         * spent, or its circuit breaker open). `local` (the offline provider) never fails.
         * Provider keys and base URLs come from the platform's configuration, or from the
         * tenant's own (encrypted, /api/v1/llm-credentials) — never from these settings.
         */
        fallbackProvider: z.enum(['local', 'openai', 'anthropic']).default('local'),
        fallbackModel: z.string().min(1).max(128).optional(),
        /** Wall-clock budget of one assistant turn (every model call and tool call in it). */
        turnBudgetSeconds: z.number().int().min(5).max(300).default(60),
        /**
         * Spend per UTC day on model calls and embeddings (estimated from the price table). Unset:
         * the platform's DEFAULT_DAILY_BUDGET_USD (parseTenantSettings fills it in); there is no
         * "unlimited", a tenant that needs more raises it.
         */
        dailyBudgetUsd: z.number().min(0).max(1_000_000).optional(),
        /** Sent instead of an answer once the day's budget is spent. */
        budgetExhaustedMessage: z.string().min(1).max(1000).default("Sorry, I can't answer right now. Please try again later, or ask for a person."),
        /** Sent when every provider failed: never silence. */
        unavailableMessage: z.string().min(1).max(1000).default("Sorry, I'm having trouble answering right now. Please try again in a moment, or ask for a person."),
        /** Model calls per turn when the model keeps calling tools. */
        maxToolIterations: z.number().int().min(1).max(20).default(5),
        /** Turns sent verbatim; older ones reach the model as a rolling summary. */
        historyTurns: z.number().int().min(2).max(40).default(12),
        /**
         * A reply that offers a person (the "I don't know" of any provider) carries a button with
         * the first handoff keyword, whose tap asks for the person (WhatsApp and Messenger).
         */
        handoffButton: z.boolean().default(false),
        /**
         * The assistant may send the original file of one of the tenant's knowledge documents (a
         * price list, a brochure) when a customer asks for it (the send_file tool), on WhatsApp,
         * Messenger, Instagram (PDFs) and web chat. Off: it only answers from their text.
         */
        sendFiles: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * WhatsApp catalog orders and completed Flows: answered by the assistant (from a readable
     * rendering), handed to a person, or to one of the tenant's functions (called with the
     * message; a `{"reply": "..."}` result is sent to the customer, a failure hands over to a person).
     */
    commerce: z
      .object({ order: commerceRouteSchema, flow: commerceRouteSchema })
      .strict()
      .prefault({}),
    rag: z
      .object({
        /**
         * The embedding model wanted for the tenant's documents. Changing it re-embeds in the
         * background (workflow embeddingModelSwitch); retrieval keeps using the previous model
         * until every ready document has chunks for the new one (tenants.embedding_model).
         */
        embeddingModel: z.enum(EMBEDDING_MODEL_NAMES).default(DEFAULT_EMBEDDING_MODEL),
        /**
         * The full-text language (a Postgres text search configuration) of the tenant's chunks
         * and questions. Changing it re-indexes the tenant's chunks in the background (workflow
         * textSearchReindex); meanwhile full text finds only the chunks already re-indexed.
         */
        language: z.enum(TEXT_SEARCH_LANGUAGES).default('simple'),
        /** Passages handed to the assistant (exactly this many when enough match). */
        topK: z.number().int().min(1).max(20).default(5),
        /** Reciprocal rank fusion: score = Σ weight / (rrfK + rank) over the vector and full-text lists. */
        vectorWeight: z.number().min(0).max(10).default(1),
        textWeight: z.number().min(0).max(10).default(1),
        rrfK: z.number().int().min(1).max(1000).default(60),
        /** Passages whose fused score (normalised to 0..1) is below this are dropped. */
        minScore: z.number().min(0).max(1).default(0),
        /** Vector candidates less similar than this (cosine) are not candidates at all. */
        minSimilarity: z.number().min(-1).max(1).default(0.05),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /**
         * Customers' email addresses, phone numbers, card numbers and IBANs are replaced by
         * placeholders before any text reaches a model or embedding provider, and restored in
         * the reply and in tool call arguments (lib/pii.ts). Tenants created before the setting
         * existed have it off (migration), new tenants on.
         */
        redactPii: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    webchat: z
      .object({
        /** Origins whose pages may embed the web chat widget and call the API from a browser. */
        allowedOrigins: z.array(webOriginSchema).max(50).default([]),
        /**
         * The assistant's reply appears in the widget as the model writes it (OpenAI and
         * Anthropic stream; the offline provider answers at once), replaced by the stored reply
         * when it is sent. Off: the reply appears whole.
         */
        streaming: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type TenantSettings = z.infer<typeof tenantSettingsSchema>;
/** What a tenant may set: every field optional (defaults fill the rest). */
export type TenantSettingsInput = z.input<typeof tenantSettingsSchema>;

export const DEFAULT_TENANT_SETTINGS: TenantSettings = tenantSettingsSchema.parse({});

/** Defaults that are the operator's to choose (lib/config.ts), for what a tenant did not set. */
export interface PlatformDefaults {
  /** DEFAULT_DAILY_BUDGET_USD: `llm.dailyBudgetUsd` of a tenant that set none. */
  dailyBudgetUsd?: number;
}

/**
 * Settings as the platform uses them, the operator's defaults filled in. A stored value that no
 * longer validates (an older shape) falls back to the defaults field by field rather than failing
 * the conversation that reads it.
 */
export function parseTenantSettings(stored: unknown, platform: PlatformDefaults = {}): TenantSettings {
  const settings = parseStored(stored);
  if (settings.llm.dailyBudgetUsd !== undefined || platform.dailyBudgetUsd === undefined) return settings;
  return { ...settings, llm: { ...settings.llm, dailyBudgetUsd: platform.dailyBudgetUsd } };
}

function parseStored(stored: unknown): TenantSettings {
  const parsed = tenantSettingsSchema.safeParse(stored ?? {});
  if (parsed.success) return parsed.data;
  const raw = stored && typeof stored === 'object' ? (stored as Record<string, unknown>) : {};
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(tenantSettingsSchema.shape) as (keyof TenantSettings)[]) {
    const one = tenantSettingsSchema.shape[key].safeParse(raw[key]);
    result[key] = one.success ? one.data : DEFAULT_TENANT_SETTINGS[key];
  }
  return result as TenantSettings;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge for PATCH: objects merge, anything else (arrays included) replaces; null removes. */
export function mergeSettings(stored: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const base = isPlainObject(stored) ? { ...stored } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else if (isPlainObject(value) && isPlainObject(base[key])) base[key] = mergeSettings(base[key], value);
    else base[key] = value;
  }
  return base;
}

/**
 * Validates what a tenant stores: the result must parse, and what is stored is the tenant's own
 * input (not the filled-in defaults). Throws the ZodError for the caller to report.
 */
export function validateStoredSettings(input: unknown): Record<string, unknown> {
  tenantSettingsSchema.parse(input ?? {});
  return isPlainObject(input) ? input : {};
}
