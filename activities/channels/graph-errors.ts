// Turns a failed Graph API call into the Temporal failure that makes the right thing happen:
// retry soon (transient), retry later (throttled: the provider's wait becomes nextRetryDelay), or
// stop retrying (permanent: a bad token, a missing permission, a user outside the 24-hour window
// will not fix themselves) with the reason in `details` so the workflow can record it.
// postGraph, at the end, is the single HTTP call both channel clients make, so every Graph
// response goes through this classification.
//
// Sources: Graph API error handling (developers.facebook.com/docs/graph-api/guides/error-handling),
// WhatsApp Cloud API error codes (…/docs/whatsapp/cloud-api/support/error-codes) and the Messenger
// Send API error codes (…/docs/messenger-platform/error-codes).
import { ApplicationFailure } from '@temporalio/common';

/** Failure types (ApplicationFailure.type) the channel clients throw. */
export const GRAPH_TRANSIENT_ERROR = 'GraphTransientError';
export const GRAPH_THROTTLED_ERROR = 'GraphThrottledError';
export const GRAPH_PERMANENT_ERROR = 'GraphPermanentError';
export type GraphFailureType = typeof GRAPH_TRANSIENT_ERROR | typeof GRAPH_THROTTLED_ERROR | typeof GRAPH_PERMANENT_ERROR;

/** Wait before retrying a throttled call when Meta does not say how long. */
export const DEFAULT_THROTTLE_DELAY_MS = 30_000;
/** A provider's wait is honoured up to this; beyond it the retry policy's own backoff takes over. */
export const MAX_THROTTLE_DELAY_MS = 60 * 60_000;

export type GraphErrorKind = 'transient' | 'throttled' | 'permanent';

/** `details[0]` of every failure from this module: what the workflow records as the reason. */
export interface GraphErrorDetails {
  /** HTTP status; null when no response arrived (network error, timeout). */
  httpStatus: number | null;
  code: number | null;
  subcode: number | null;
  message: string;
  fbtraceId: string | null;
}

// Rate limits: app/user/page level (4, 17, 32, 613, 341), Business Use Case limits (80000–80014,
// 80007 is WhatsApp's), WhatsApp's per-number throughput and pair rate limits (130429, 131056) and
// its spam rate limit (131048). Retrying works, but not immediately.
const THROTTLING_CODES = new Set([4, 17, 32, 341, 613, 130429, 131048, 131056]);
const isThrottlingCode = (code: number) => THROTTLING_CODES.has(code) || (code >= 80000 && code <= 80014);

// Meta's own "temporary, try again": unknown/service errors (1, 2), Messenger's temporary send
// failure (1200), WhatsApp's "something went wrong" / "service unavailable" (131000, 131016) and
// "server temporarily unavailable" (133004).
const TRANSIENT_CODES = new Set([1, 2, 1200, 131000, 131016, 133004]);

// Known permanent errors, listed for the reader (any other 4xx is treated the same way): bad or
// expired token (190, 102), permissions (10, 200–299), invalid parameter (100), account
// restricted/blocked (368, 131031), user unavailable (551), undeliverable (131026), outside the
// 24-hour customer service window (131047; Messenger: code 10 subcode 2018278), unsupported message
// type (131051), media download failed (131052), recipient not in the test allow-list (131030),
// Messenger "no matching user" (100 subcode 2018001).
const PERMANENT_CODES = new Set([10, 100, 102, 190, 368, 551, 131008, 131009, 131021, 131026, 131030, 131031, 131047, 131051, 131052]);
const isPermanentCode = (code: number) => PERMANENT_CODES.has(code) || (code >= 200 && code <= 299);

/**
 * The decision itself, on the parsed fields. A known code wins over the HTTP status (Meta sends
 * some permanent errors with 500); an unknown code falls back to the status: 5xx retry, 4xx don't.
 */
export function classifyGraphError(e: { httpStatus: number | null; code: number | null; isTransient?: boolean }): GraphErrorKind {
  const { httpStatus, code } = e;
  if (httpStatus === 429 || (code !== null && isThrottlingCode(code))) return 'throttled';
  if (e.isTransient || (code !== null && TRANSIENT_CODES.has(code))) return 'transient';
  if (code !== null && isPermanentCode(code)) return 'permanent';
  if (httpStatus === null || httpStatus >= 500) return 'transient';
  return 'permanent';
}

/** Where the call was and what to keep out of failure messages. */
export interface FailureContext {
  /** e.g. "WhatsApp send": the start of the failure message. */
  operation: string;
  /** Strings (the access token) that must never appear in a message or details. */
  secrets?: readonly string[];
  /** Merged into details[0], e.g. which parts of a split message were already delivered. */
  extraDetails?: Record<string, unknown>;
}

/** A failure for a Graph API response that was not a success. `body` is the raw response text. */
export function graphResponseFailure(
  response: { status: number; headers: Headers; body: string },
  ctx: FailureContext,
): ApplicationFailure {
  const error = parseGraphErrorBody(response.body);
  const details: GraphErrorDetails = {
    httpStatus: response.status,
    code: error?.code ?? null,
    subcode: error?.error_subcode ?? null,
    message: error?.error_user_msg ?? error?.message ?? `HTTP ${response.status} without a Graph API error body`,
    fbtraceId: error?.fbtrace_id ?? null,
  };
  // WhatsApp puts the useful part ("Message failed to send because more than 24 hours have passed…")
  // in error_data.details.
  const extra = error?.error_data?.details;
  if (extra && !details.message.includes(extra)) details.message = `${details.message}: ${extra}`;

  const kind = classifyGraphError({ httpStatus: response.status, code: details.code, isTransient: error?.is_transient === true });
  const retryDelayMs = kind === 'throttled' ? throttleDelayMs(response.headers) : undefined;
  return toFailure(kind, details, ctx, retryDelayMs);
}

/** A failure for a call that got no response: connection refused/reset, DNS, or our timeout. */
export function graphNetworkFailure(err: unknown, ctx: FailureContext): ApplicationFailure {
  const timedOut = err instanceof Error && err.name === 'TimeoutError';
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const message = timedOut ? 'no response before the timeout' : `${err instanceof Error ? err.message : String(err)}${cause}`;
  return toFailure('transient', { httpStatus: null, code: null, subcode: null, message, fbtraceId: null }, ctx);
}

/**
 * The request was accepted (2xx) but the response does not say what was created. Retrying could
 * deliver the message twice, so this is permanent: the workflow records it instead of resending.
 */
export function unreadableSuccessFailure(status: number, ctx: FailureContext): ApplicationFailure {
  const message = `HTTP ${status} but the response could not be read; not retried because the message may have been delivered`;
  return toFailure('permanent', { httpStatus: status, code: null, subcode: null, message, fbtraceId: null }, ctx);
}

function toFailure(kind: GraphErrorKind, details: GraphErrorDetails, ctx: FailureContext, retryDelayMs?: number): ApplicationFailure {
  const safe: GraphErrorDetails = { ...details, message: redact(details.message, ctx.secrets) };
  const codes = [safe.httpStatus !== null && `HTTP ${safe.httpStatus}`, safe.code !== null && `code ${safe.code}`, safe.subcode !== null && `subcode ${safe.subcode}`]
    .filter(Boolean)
    .join(', ');
  const type = { transient: GRAPH_TRANSIENT_ERROR, throttled: GRAPH_THROTTLED_ERROR, permanent: GRAPH_PERMANENT_ERROR }[kind];
  return ApplicationFailure.create({
    message: `${ctx.operation} failed${codes ? ` (${codes})` : ''}: ${safe.message}`,
    type,
    nonRetryable: kind === 'permanent',
    details: [{ ...safe, ...ctx.extraDetails }],
    // Only throttling overrides the retry policy's backoff; transient errors use the policy as is.
    ...(retryDelayMs !== undefined && { nextRetryDelay: retryDelayMs }),
  });
}

interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  error_user_msg?: string;
  is_transient?: boolean;
  fbtrace_id?: string;
  error_data?: { details?: string };
}

/** `{ error: {...} }` from the body, or undefined if the body is not one (HTML from a proxy, empty). */
function parseGraphErrorBody(body: string): GraphErrorBody | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = (parsed as { error?: unknown } | null)?.error;
    if (typeof error !== 'object' || error === null) return undefined;
    const e = error as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    const data = typeof e.error_data === 'object' && e.error_data !== null ? (e.error_data as Record<string, unknown>) : undefined;
    return {
      message: str(e.message),
      type: str(e.type),
      code: num(e.code),
      error_subcode: num(e.error_subcode),
      error_user_msg: str(e.error_user_msg),
      is_transient: e.is_transient === true,
      fbtrace_id: str(e.fbtrace_id),
      error_data: { details: str(data?.details) },
    };
  } catch {
    return undefined;
  }
}

/**
 * How long Meta asks us to wait: `Retry-After` (seconds or an HTTP date), else the longest
 * `estimated_time_to_regain_access` (minutes) in the Business Use Case usage header, else the default.
 */
export function throttleDelayMs(headers: Headers, now = Date.now()): number {
  const clamp = (ms: number) => Math.min(Math.max(ms, 1000), MAX_THROTTLE_DELAY_MS);
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return clamp(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return clamp(date - now);
  }
  const minutes = regainAccessMinutes(headers.get('x-business-use-case-usage'));
  if (minutes !== undefined && minutes > 0) return clamp(minutes * 60_000);
  return DEFAULT_THROTTLE_DELAY_MS;
}

/** `{"<business id>": [{ "type": "whatsapp", "estimated_time_to_regain_access": 5, … }]}` */
function regainAccessMinutes(header: string | null): number | undefined {
  if (!header) return undefined;
  try {
    const usage = JSON.parse(header) as Record<string, { estimated_time_to_regain_access?: unknown }[]>;
    const minutes = Object.values(usage)
      .flat()
      .map((u) => u?.estimated_time_to_regain_access)
      .filter((m): m is number => typeof m === 'number');
    return minutes.length ? Math.max(...minutes) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the given secrets and anything shaped like a Meta access token (they start with "EAA")
 * from a message. Meta does not echo tokens in errors, but a proxy or a future message might.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(/\bEAA[A-Za-z0-9]{20,}/g, '[redacted]');
}

export const DEFAULT_GRAPH_TIMEOUT_MS = 10_000;

export interface GraphPost {
  url: string;
  accessToken: string;
  body: unknown;
  timeoutMs: number;
  /** Aborts the call from outside, e.g. the activity's cancellation signal. */
  signal?: AbortSignal;
  ctx: FailureContext;
}

/**
 * POSTs JSON to the Graph API and returns the parsed success body; every failure it throws is
 * already classified. This is the one place a Graph response becomes a failure, so the clients
 * stay a list of request shapes.
 *
 * The token travels in the Authorization header, never in the URL: URLs end up in logs, proxies
 * and error messages, headers don't.
 */
export async function postGraph({ url, accessToken, body, timeoutMs, signal, ctx }: GraphPost): Promise<unknown> {
  const safeCtx = { ...ctx, secrets: [...(ctx.secrets ?? []), accessToken] };
  const timeout = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  let headers: Headers;
  try {
    // The timeout covers reading the body too: a server that sends headers and then stalls still fails.
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    ({ status, headers } = response);
    text = await response.text();
  } catch (err) {
    // Cancelled by the caller: not a Graph failure, let the caller's own error through.
    if (signal?.aborted) throw err;
    // A timeout while reading the body surfaces as some other error; the signal's reason says what happened.
    throw graphNetworkFailure(timeout.aborted ? timeout.reason : err, safeCtx);
  }
  if (status < 200 || status >= 300) throw graphResponseFailure({ status, headers, body: text }, safeCtx);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw unreadableSuccessFailure(status, safeCtx);
  }
}
