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
import { classifyGraphError, parseGraphErrorBody, redact, type GraphErrorKind } from '../../lib/graph-api.ts';

// The classification is shared with the API's connection test (lib/graph-api.ts).
export { classifyGraphError, redact, type GraphErrorKind };

/** Failure types (ApplicationFailure.type) the channel clients throw. */
export const GRAPH_TRANSIENT_ERROR = 'GraphTransientError';
export const GRAPH_THROTTLED_ERROR = 'GraphThrottledError';
export const GRAPH_PERMANENT_ERROR = 'GraphPermanentError';
export type GraphFailureType = typeof GRAPH_TRANSIENT_ERROR | typeof GRAPH_THROTTLED_ERROR | typeof GRAPH_PERMANENT_ERROR;

/** Wait before retrying a throttled call when Meta does not say how long. */
export const DEFAULT_THROTTLE_DELAY_MS = 30_000;
/** A provider's wait is honoured up to this; beyond it the retry policy's own backoff takes over. */
export const MAX_THROTTLE_DELAY_MS = 60 * 60_000;

/** `details[0]` of every failure from this module: what the workflow records as the reason. */
export interface GraphErrorDetails {
  /** HTTP status; null when no response arrived (network error, timeout). */
  httpStatus: number | null;
  code: number | null;
  subcode: number | null;
  message: string;
  fbtraceId: string | null;
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

export const DEFAULT_GRAPH_TIMEOUT_MS = 10_000;

export interface GraphPost {
  url: string;
  accessToken: string;
  /** Sent as JSON; a FormData as multipart/form-data (the media upload endpoints). */
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
      // fetch writes a FormData's multipart content type (with its boundary) itself.
      headers: { authorization: `Bearer ${accessToken}`, ...(!(body instanceof FormData) && { 'content-type': 'application/json' }), accept: 'application/json' },
      body: body instanceof FormData ? body : JSON.stringify(body),
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
