// Process configuration: every variable is validated at start-up, and a missing or malformed one
// stops the process with a message naming it (see ConfigError). Nothing else reads process.env.
import { z } from 'zod';

/** The Temporal task queues this platform uses; workers poll a subset of them. */
export const TASK_QUEUES = ['conversations', 'ingestion', 'maintenance'] as const;
export type TaskQueue = (typeof TASK_QUEUES)[number];

const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
/** MEDIA_ALLOWED_TYPES by default: what the assistant and the inbox can use (images, voice notes, clips, PDF and text). */
export const DEFAULT_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'audio/*', 'video/mp4', 'video/3gpp', 'application/pdf', 'text/plain'] as const;
export const DEFAULT_MEDIA_MAX_BYTES = 16 * 1024 * 1024;
const optionalUrl = z.string().url().optional();
/** `a:x,b:y` as { a: 'x', b: 'y' }. */
const pairList = (shape: string) =>
  z
    .string()
    .refine((raw) => raw.split(',').filter((p) => p.trim()).every((p) => /^[a-z0-9_-]+:[A-Za-z0-9_.-]+$/.test(p.trim())), `must be ${shape} pairs, comma-separated`)
    .transform((raw) => Object.fromEntries(raw.split(',').filter((p) => p.trim()).map((p) => p.trim().split(':') as [string, string])));

/**
 * SECRETS_KEYS is `id1:base64,id2:base64`: AES-256 keys by id, the first one current. Older ids
 * stay so that secrets encrypted before a rotation still decrypt.
 */
const secretsKeys = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys: { id: string; key: Buffer }[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
      const sep = part.indexOf(':');
      const id = part.slice(0, sep);
      const key = Buffer.from(part.slice(sep + 1), 'base64');
      if (sep <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
        ctx.addIssue({ code: 'custom', message: `entry "${id || part.slice(0, 8)}…" must be id:base64 with a short [A-Za-z0-9_-] id` });
        return z.NEVER;
      }
      if (key.length !== 32) {
        ctx.addIssue({ code: 'custom', message: `key "${id}" must be 32 bytes of base64 (AES-256), got ${key.length}` });
        return z.NEVER;
      }
      if (keys.some((k) => k.id === id)) {
        ctx.addIssue({ code: 'custom', message: `key id "${id}" appears twice` });
        return z.NEVER;
      }
      keys.push({ id, key });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one key is required' });
      return z.NEVER;
    }
    return keys;
  });

const taskQueues = z
  .string()
  .transform((raw) => raw.split(',').map((q) => q.trim()).filter(Boolean))
  .pipe(z.array(z.enum(TASK_QUEUES)).min(1));

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: postgresUrl,
  DATABASE_POOL_MAX: positiveInt.default(10),
  DATABASE_POOL_IDLE_TIMEOUT_MS: positiveInt.default(30_000),
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(30_000),

  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Prepended to every task queue name, so that several stacks can share one namespace. */
  TEMPORAL_TASK_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only').default(''),
  /**
   * A secured Temporal (a cluster with TLS or mTLS, Temporal Cloud): lib/temporal.ts builds the
   * connection options from these. TLS is on when TEMPORAL_TLS=true, or when any of the others is
   * set and TEMPORAL_TLS is not `false`. The files are PEM, read at start-up.
   */
  TEMPORAL_TLS: z.enum(['true', 'false']).optional().transform((v) => (v === undefined ? undefined : v === 'true')),
  TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a host name').optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** The Temporal Web UI's origin (e.g. https://temporal.example.com): the only one CORS lets call /codec. */
  TEMPORAL_UI_ORIGIN: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:\/\//.test(v) && new URL(v).origin === v.replace(/\/$/, ''), 'must be an origin: http(s)://host[:port], no path')
    .transform((v) => new URL(v).origin)
    .optional(),
  /**
   * Where people open the Temporal Web UI (e.g. http://localhost:8233, or a URL with the UI's
   * public path): the inbox links each conversation to its workflow there for owners and admins.
   * Unset: no links.
   */
  TEMPORAL_UI_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:\/\//.test(v) && !new URL(v).search && !new URL(v).hash, 'must be an http(s) URL without query or fragment')
    .transform((v) => v.replace(/\/+$/, ''))
    .optional(),
  /** Open inbox event streams (GET /api/v1/conversations/events) per tenant on one API instance. */
  INBOX_STREAMS_PER_TENANT: positiveInt.default(50),
  /** How often an open inbox event stream gets a heartbeat comment (proxies close idle streams). */
  INBOX_HEARTBEAT_MS: positiveInt.default(20_000),

  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters'),
  SECRETS_KEYS: secretsKeys,
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000),
  HEALTH_CHECK_TIMEOUT_MS: positiveInt.default(2_000),
  /** Requests per minute per API key on /api/v1 (api/plugins/external/rate-limit.ts). */
  RATE_LIMIT_API_PER_MINUTE: positiveInt.default(600),
  /** Requests per minute per client IP on everything else, webhooks included. */
  RATE_LIMIT_IP_PER_MINUTE: positiveInt.default(1200),
  /** Failed Bearer authentications per minute per client IP; beyond it every Bearer attempt from that IP answers 429 until the window ends. */
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: positiveInt.default(30),
  /**
   * Where rate-limit counters live: `memory` (each API process counts alone) or `postgres` (one
   * count across every API process, in the rate_limit_buckets table; one upsert per request).
   */
  RATE_LIMIT_STORE: z.enum(['memory', 'postgres']).default('memory'),
  /**
   * Whether to believe X-Forwarded-For for the client's IP (rate limits, logs): `false` (default:
   * the socket's peer), `true` (any proxy), a number of proxy hops, or comma-separated proxy
   * addresses/CIDRs (Fastify's trustProxy). Set it only behind a proxy that sets the header.
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[0-9A-Fa-f:./]+(\s*,\s*[0-9A-Fa-f:./]+)*)$/, 'must be true, false, a hop count or comma-separated proxy addresses')
    .default('false')
    .transform((v): boolean | number | string[] => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v.split(',').map((a) => a.trim()))),
  /**
   * Web chat limits (api/webchat/limits.ts), counted in the RATE_LIMIT_STORE: visitor messages per
   * minute per visitor token, per client IP and per widget (all its visitors together), and new
   * visitor tokens per client IP per hour.
   */
  WEBCHAT_MESSAGES_PER_MINUTE_PER_VISITOR: positiveInt.default(20),
  WEBCHAT_MESSAGES_PER_MINUTE_PER_IP: positiveInt.default(60),
  WEBCHAT_MESSAGES_PER_MINUTE_PER_WIDGET: positiveInt.default(600),
  WEBCHAT_VISITORS_PER_HOUR_PER_IP: positiveInt.default(20),
  /**
   * Team accounts (api/routes/v1/auth, me, team): a session ends SESSION_MAX_HOURS after sign-in,
   * or after SESSION_IDLE_MINUTES without a request. Sign-in attempts per minute per client IP and
   * per account (tenant and email, whether or not it exists); LOGIN_LOCKOUT_FAILURES failed
   * attempts on one account lock it for LOGIN_LOCKOUT_MINUTES. Counted in the RATE_LIMIT_STORE.
   */
  SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(12),
  SESSION_IDLE_MINUTES: z.coerce.number().int().min(5).max(24 * 60).default(60),
  LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: positiveInt.default(20),
  LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: positiveInt.default(5),
  LOGIN_LOCKOUT_FAILURES: positiveInt.default(10),
  LOGIN_LOCKOUT_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
  /** How long an invitation link and a password reset link stay valid. */
  INVITATION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(72),
  PASSWORD_RESET_TTL_MINUTES: z.coerce.number().int().min(5).max(24 * 60).default(60),
  /**
   * Invitation and reset emails go out through this SMTP server (nodemailer:
   * smtp[s]://user:pass@host:port). Unset: no email; an invitation's link is shown to whoever
   * created it in the API's answer.
   */
  SMTP_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587')
    .optional(),
  SMTP_FROM: z.string().min(3).max(200).default('Meta Chat Platform <no-reply@localhost>'),
  /**
   * The API's public origin, as browsers and Meta reach it (the web app is served by the API, so
   * it is the web app's too): emailed links, channels' webhook URLs and widget addresses start
   * with it (lib/public-urls.ts); unset: http://localhost:PORT.
   */
  APP_BASE_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:\/\//.test(v) && new URL(v).origin === v.replace(/\/$/, ''), 'must be an origin: http(s)://host[:port], no path')
    .transform((v) => v.replace(/\/$/, ''))
    .optional(),
  /**
   * USD per UTC day a tenant may spend on model calls and embeddings when its settings name no
   * `llm.dailyBudgetUsd` (read by the workers, which enforce it, and by the API, which shows it).
   */
  DEFAULT_DAILY_BUDGET_USD: z.coerce.number().min(0).max(1_000_000).default(10),
  /** Live (neither revoked nor expired) API keys a tenant may hold (409 api_key_limit beyond). */
  API_KEYS_PER_TENANT: positiveInt.default(25),
  /** Who may read GET /metrics and GET /docs: `public`, `admin` (Bearer ADMIN_API_KEY) or `off` (404). */
  METRICS_ACCESS: z.enum(['public', 'admin', 'off']).default('admin'),
  /** Tenants a process gives their own `tenant` label value in its metrics; every further tenant is counted as `other`. */
  METRICS_TENANT_LABELS: z.coerce.number().int().min(0).max(10_000).default(50),
  /**
   * The worker's GET /metrics (workers/metrics-server.ts, under METRICS_ACCESS like the API's):
   * its port (`0` or `off`: none) and the address it listens on.
   */
  WORKER_METRICS_PORT: z
    .string()
    .regex(/^(off|\d{1,5})$/, 'must be a port, or 0 / off for no metrics endpoint')
    .transform((v) => (v === 'off' ? 0 : Number(v)))
    .pipe(z.number().max(65535, 'must be a port, or 0 / off for no metrics endpoint'))
    .default(9464),
  WORKER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  DOCS_ACCESS: z.enum(['public', 'admin', 'off']).default('public'),
  /**
   * Browser origins allowed to call the REST API (/api/v1) and the other routes (comma-separated).
   * The tenants' web chat origins are allowed on the web chat routes only.
   */
  CORS_ORIGINS: z.string().transform((raw) => raw.split(',').map((o) => o.trim()).filter(Boolean)).default([]),

  META_GRAPH_API_URL: z.string().url().default('https://graph.facebook.com/v21.0'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: optionalUrl,
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: optionalUrl,

  /**
   * Where uploaded documents' original bytes live (lib/storage.ts), shared by the API and the
   * workers: `local`, one folder per tenant under DOCUMENT_STORAGE_DIR, or `s3`, one prefix per
   * tenant in S3_BUCKET (lib/s3-storage.ts; credentials from the AWS SDK's default chain).
   */
  DOCUMENT_STORAGE: z.enum(['local', 's3']).default('local'),
  DOCUMENT_STORAGE_DIR: z.string().min(1).default('.data/documents'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a bucket name: 3 to 63 lowercase letters, digits, "." and "-"').optional(),
  S3_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be a region name such as eu-west-1').optional(),
  /** An S3-compatible server (MinIO, Ceph, a test server); unset: AWS's endpoint for S3_REGION. */
  S3_ENDPOINT: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:\/\//.test(v) && !new URL(v).username && !new URL(v).password, 'must be an http(s):// URL without credentials, e.g. http://minio:9000')
    .optional(),
  /** Bucket in the path (`endpoint/bucket/key`) instead of the host name, as most S3-compatible servers need. */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** Server-side encryption asked for on every write; `aws:kms` may name its key in S3_SSE_KMS_KEY_ID. Unset: the bucket's default. */
  S3_SERVER_SIDE_ENCRYPTION: z.enum(['AES256', 'aws:kms']).optional(),
  S3_SSE_KMS_KEY_ID: z.string().min(1).max(2048).optional(),
  /** One S3 request: connecting, and the socket idle this long mid-request; attempts per call (SDK's standard retry). */
  S3_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  S3_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  S3_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /**
   * Media the end users send (activities/media): the largest file downloaded from Meta, in bytes,
   * and the MIME types taken (comma-separated, `type/*` for a whole family). Anything else is
   * refused and the message records why.
   */
  MEDIA_MAX_BYTES: positiveInt.default(DEFAULT_MEDIA_MAX_BYTES),
  MEDIA_ALLOWED_TYPES: z
    .string()
    .transform((raw) => raw.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/, 'must be MIME types such as image/jpeg or audio/*, comma-separated')).min(1))
    .default([...DEFAULT_MEDIA_TYPES]),
  /** Voice notes are transcribed by OpenAI's audio transcription API with this model (e.g. whisper-1); unset: not transcribed. Needs OPENAI_API_KEY. */
  TRANSCRIPTION_MODEL: z.string().min(1).max(100).optional(),
  /** Largest document upload, in bytes (413 above it). */
  DOCUMENT_MAX_BYTES: positiveInt.default(20 * 1024 * 1024),
  /** Per-tenant quotas: live (not deleted) documents, and chunks across them (409 when reached). */
  DOCUMENT_QUOTA_PER_TENANT: positiveInt.default(1000),
  CHUNK_QUOTA_PER_TENANT: positiveInt.default(200_000),
  /**
   * Campaign sends per second from one WhatsApp number (workflows/campaign.ts): the default of a
   * campaign that names none, and the most one may name. Meta allows 80 per second per number.
   */
  CAMPAIGN_RATE_PER_SECOND: z.coerce.number().int().min(1).max(80).default(20),
  CAMPAIGN_MAX_RATE_PER_SECOND: z.coerce.number().int().min(1).max(80).default(60),
  /** An automatic evaluation run starts once a tenant's settings and documents have not changed for this long (workflows/evaluation.ts). */
  EVALUATION_QUIET_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(120),
  /** Deleted documents (rows, chunks, stored files) are purged this many hours after deletion (document-purge schedule). */
  DOCUMENT_PURGE_AFTER_HOURS: z.coerce.number().int().min(1).max(24 * 365).default(24),
  /** Parse limits (activities/ingest/parse.ts): a PDF's pages, and what a DOCX's parts may inflate to, in bytes. */
  DOCUMENT_MAX_PDF_PAGES: positiveInt.default(2000),
  DOCUMENT_MAX_INFLATED_BYTES: positiveInt.default(32 * 1024 * 1024),
  /**
   * Parse threads (activities/ingest/parse-thread.ts): one document's wall-clock deadline, within
   * the prepare activity's 5 minutes; each thread's V8 heap; threads parsing at once per worker.
   */
  DOCUMENT_PARSE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(240).default(120),
  DOCUMENT_PARSE_MAX_HEAP_MB: z.coerce.number().int().min(64).max(16_384).default(512),
  DOCUMENT_PARSE_THREADS: z.coerce.number().int().min(1).max(64).default(2),

  WORKER_TASK_QUEUES: taskQueues.default([...TASK_QUEUES]),
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt.default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.default(40),
  /**
   * Conversations kept in the worker's sticky cache. npm run bench:idle (bench/RESULTS.md): each
   * cached one holds about 0.5 MiB over a 550–600 MiB worker, and a fast load adds 200–340 MiB
   * of garbage not collected yet: 1000 gave 1278 MiB peak, 400 at 3 replies/s 796 MiB, 200 at
   * 10/s 941 MiB (749 settled), the one measured under the 1 GiB target and the Helm chart's 1Gi
   * limit at speed. An evicted conversation costs its next reply a replay of at most
   * MAX_HISTORY_EVENTS (workflows/conversation.ts), about 100 ms: a small cache is cheap.
   */
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt.default(200),
  /**
   * After SIGTERM, in-flight activities get this long to finish before they are cancelled (then 5 s
   * more to acknowledge): longer than the longest send, a Graph API call's 10 s or a tenant
   * webhook's WEBHOOK_TIMEOUT_MS. docker-compose.yml's stop_grace_period must exceed both together.
   */
  WORKER_SHUTDOWN_GRACE_MS: positiveInt.default(20_000),

  /** Monthly partitions kept ready beyond the current month (partition-maintenance workflow). */
  MAINTENANCE_PARTITION_MONTHS_AHEAD: z.coerce.number().int().min(1).max(36).default(3),
  /** Months of partitioned data kept before the current one; unset: nothing is ever dropped. */
  MAINTENANCE_RETENTION_MONTHS: z.coerce.number().int().min(1).max(1200).optional(),

  /** Tenant webhooks (lib/tenant-webhooks.ts): one attempt's deadline, then retries with backoff. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** First retry delay, doubling up to the maximum: the defaults retry for about a day. */
  WEBHOOK_RETRY_INITIAL_MS: positiveInt.default(30_000),
  WEBHOOK_RETRY_MAX_INTERVAL_MS: positiveInt.default(3_600_000),
  WEBHOOK_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(30),
  /** Deliveries in a row that exhaust their retries before an endpoint is disabled. */
  WEBHOOK_DISABLE_AFTER_FAILURES: positiveInt.default(5),
  /**
   * Tracing (lib/tracing.ts): spans are exported over OTLP/HTTP (protobuf) to this base URL
   * (`/v1/traces` is appended, as the OpenTelemetry SDKs do). Unset: no tracing at all.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:\/\//.test(v), 'must be an http(s):// URL, e.g. http://otel-collector:4318')
    .optional(),
  /** The spans' service.name; default `metachat-api` for the API, `metachat-worker` for the worker. */
  OTEL_SERVICE_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-" only').optional(),
  /**
   * Development only: tenants may register http:// and loopback or private URLs as webhook and
   * function endpoints (a receiver on the developer's machine). `npm run dev` turns it on.
   */
  ALLOW_INSECURE_TENANT_URLS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /**
   * Billing with Stripe (lib/billing.ts): the secret key turns it on (unset: billing off, every
   * tenant on its plan as operators set it, the billing routes 404 billing_disabled), the webhook
   * signing secret verifies POST /webhooks/stripe, STRIPE_PRICES maps plans to Stripe prices
   * (`pro:price_123,business:price_456`: checkout subscribes to them, subscriptions name them) and
   * STRIPE_METER_EVENTS meters to the event names of Stripe Billing Meters for metered prices
   * (`messages:metachat_messages,model_tokens:metachat_tokens`). STRIPE_API_URL points the SDK
   * elsewhere than https://api.stripe.com (a local fake in tests).
   */
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_[A-Za-z0-9_]+$/, 'must be a Stripe secret or restricted key (sk_… or rk_…)').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=_]+$/, 'must be a Stripe webhook signing secret (whsec_…)').optional(),
  STRIPE_API_URL: z.string().refine((v) => URL.canParse(v) && /^https?:\/\/[^/]+\/?$/.test(v), 'must be an http(s) origin, e.g. http://127.0.0.1:12111').optional(),
  STRIPE_PRICES: pairList('plan:price_id').default({}),
  STRIPE_METER_EVENTS: pairList('meter:event_name').default({}),
});

/** The TLS variables that only make sense together (also applied by scripts that pick from configSchema). */
export function checkTemporalConnection(
  c: Partial<Pick<z.infer<typeof configSchema>, 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CA_FILE' | 'TEMPORAL_TLS_CERT_FILE' | 'TEMPORAL_TLS_KEY_FILE' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'>>,
  ctx: z.RefinementCtx,
): void {
  // A client certificate needs its key and the other way round (mTLS).
  if (c.TEMPORAL_TLS_CERT_FILE && !c.TEMPORAL_TLS_KEY_FILE) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_KEY_FILE'], message: 'is required with TEMPORAL_TLS_CERT_FILE (mTLS needs the certificate and its key)' });
  if (c.TEMPORAL_TLS_KEY_FILE && !c.TEMPORAL_TLS_CERT_FILE) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT_FILE'], message: 'is required with TEMPORAL_TLS_KEY_FILE (mTLS needs the certificate and its key)' });
  if (c.TEMPORAL_TLS === false) {
    for (const name of ['TEMPORAL_TLS_CA_FILE', 'TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE', 'TEMPORAL_TLS_SERVER_NAME'] as const) {
      if (c[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is set but TEMPORAL_TLS is false' });
    }
    if (c.TEMPORAL_API_KEY) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_API_KEY'], message: 'would be sent in the clear: TEMPORAL_TLS is false' });
  }
}

/** S3 PutObject's limit for one request: the S3 storage writes each file in one. */
const S3_MAX_PUT_BYTES = 5 * 1024 ** 3;

/** The S3 variables are needed together, and only with DOCUMENT_STORAGE=s3 (set without it, files would quietly stay on local disk). */
function checkDocumentStorage(c: z.infer<typeof configSchema>, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (c.DOCUMENT_STORAGE === 's3') {
    if (!c.S3_BUCKET) issue('S3_BUCKET', 'is required when DOCUMENT_STORAGE=s3');
    if (!c.S3_REGION) issue('S3_REGION', 'is required when DOCUMENT_STORAGE=s3 (any region name for an S3-compatible server that ignores it)');
    if (c.S3_SSE_KMS_KEY_ID && c.S3_SERVER_SIDE_ENCRYPTION !== 'aws:kms') issue('S3_SSE_KMS_KEY_ID', 'is set but S3_SERVER_SIDE_ENCRYPTION is not aws:kms');
    if (c.DOCUMENT_MAX_BYTES > S3_MAX_PUT_BYTES) issue('DOCUMENT_MAX_BYTES', `must be at most ${S3_MAX_PUT_BYTES} (5 GiB, one S3 PutObject) when DOCUMENT_STORAGE=s3`);
    return;
  }
  for (const name of ['S3_BUCKET', 'S3_ENDPOINT', 'S3_SERVER_SIDE_ENCRYPTION', 'S3_SSE_KMS_KEY_ID'] as const) {
    if (c[name]) issue(name, 'is set but DOCUMENT_STORAGE is not s3 (documents would be stored in DOCUMENT_STORAGE_DIR)');
  }
}

/** Rules across variables, kept off configSchema so that scripts can still pick from it. */
const checkedConfigSchema = configSchema
  .refine((c) => !(c.NODE_ENV === 'production' && c.ALLOW_INSECURE_TENANT_URLS), {
    path: ['ALLOW_INSECURE_TENANT_URLS'],
    message: 'must not be true when NODE_ENV=production (it lets tenants point the platform at http:// and private addresses)',
  })
  .refine((c) => !(c.NODE_ENV === 'production' && c.SMTP_URL && !c.APP_BASE_URL), {
    path: ['APP_BASE_URL'],
    message: 'is required with SMTP_URL when NODE_ENV=production (emailed links must point at the web app)',
  })
  .refine((c) => !c.STRIPE_SECRET_KEY === !c.STRIPE_WEBHOOK_SECRET, {
    path: ['STRIPE_WEBHOOK_SECRET'],
    message: 'and STRIPE_SECRET_KEY go together (subscription state comes from verified webhooks)',
  })
  .refine((c) => !(c.TRANSCRIPTION_MODEL && !c.OPENAI_API_KEY), {
    path: ['TRANSCRIPTION_MODEL'],
    message: 'needs OPENAI_API_KEY (voice notes are transcribed by OpenAI)',
  })
  .refine((c) => c.WORKER_SHUTDOWN_GRACE_MS > c.WEBHOOK_TIMEOUT_MS, {
    path: ['WORKER_SHUTDOWN_GRACE_MS'],
    message: 'must be longer than WEBHOOK_TIMEOUT_MS (a delivery in flight at shutdown would be cut off)',
  })
  .refine((c) => c.WEBHOOK_RETRY_MAX_INTERVAL_MS >= c.WEBHOOK_RETRY_INITIAL_MS, {
    path: ['WEBHOOK_RETRY_MAX_INTERVAL_MS'],
    message: 'must be at least WEBHOOK_RETRY_INITIAL_MS',
  })
  .superRefine(checkTemporalConnection)
  .superRefine(checkDocumentStorage);

export type Config = z.infer<typeof configSchema>;

/** Names of every variable the platform reads (docker-compose and docs are checked against it). */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof Config)[];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment; throws ConfigError naming every bad or missing variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" so that `FOO=` in a compose file falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = checkedConfigSchema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const missing = issue.code === 'invalid_type' && cleaned[name] === undefined;
      return missing ? `${name} is required but not set` : `${name}: ${issue.message}`;
    }),
  );
}

/** For entrypoints: load the config or print the problems and exit, before anything starts. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
