// The Graph API calls the API makes itself (the connection test of a channel), and the error
// classification it shares with the worker's channel clients (activities/channels/graph-errors.ts
// turns the same classes into Temporal failures). Every call goes through META_GRAPH_API_URL with
// the token in the Authorization header, never in the URL.
//
// Sources: Graph API error handling (developers.facebook.com/docs/graph-api/guides/error-handling),
// WhatsApp Cloud API error codes (…/docs/whatsapp/cloud-api/support/error-codes) and the Messenger
// Send API error codes (…/docs/messenger-platform/error-codes).

export type GraphErrorKind = 'transient' | 'throttled' | 'permanent';

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

/** The fields of a Graph API error envelope (`{ error: {...} }`). */
export interface GraphErrorBody {
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
export function parseGraphErrorBody(body: string): GraphErrorBody | undefined {
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
 * Removes the given secrets and anything shaped like a Meta access token (they start with "EAA")
 * from a message. Meta does not echo tokens in errors, but a proxy or a future message might.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(/\bEAA[A-Za-z0-9]{20,}/g, '[redacted]');
}


/** A Graph API call that did not succeed, without any token in its message. */
export interface GraphCallFailure {
  /** HTTP status; null when no response arrived (no connection, timeout). */
  httpStatus: number | null;
  code: number | null;
  subcode: number | null;
  message: string;
  fbtraceId: string | null;
  kind: GraphErrorKind;
}

export type GraphGetResult = { ok: true; body: unknown } | { ok: false; failure: GraphCallFailure };

/**
 * GETs `path` (with its query string) from the Graph API with `accessToken`. Never throws for
 * what the Graph API or the network did: the answer says what happened, classified. Redirects
 * are refused: the token must not follow one to another host.
 */
export async function getGraph(options: { graphApiUrl: string; path: string; accessToken: string; timeoutMs: number }): Promise<GraphGetResult> {
  const { graphApiUrl, path, accessToken, timeoutMs } = options;
  const fail = (failure: GraphCallFailure): GraphGetResult => ({
    ok: false,
    failure: { ...failure, message: redact(failure.message, [accessToken]) },
  });
  const timeout = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  try {
    // The timeout covers reading the body too.
    const response = await fetch(`${graphApiUrl.replace(/\/+$/, '')}${path}`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      redirect: 'error',
      signal: timeout,
    });
    status = response.status;
    text = await response.text();
  } catch {
    // Which network error it was stays out: it would describe the operator's network to whoever asked.
    const message = timeout.aborted ? `no response within ${timeoutMs / 1000} s` : 'no connection';
    return fail({ httpStatus: null, code: null, subcode: null, fbtraceId: null, kind: 'transient', message });
  }
  if (status >= 200 && status < 300) {
    try {
      return { ok: true, body: JSON.parse(text) as unknown };
    } catch {
      return fail({ httpStatus: status, code: null, subcode: null, fbtraceId: null, kind: 'transient', message: `HTTP ${status} with a body that is not JSON` });
    }
  }
  const error = parseGraphErrorBody(text);
  const code = error?.code ?? null;
  return fail({
    httpStatus: status,
    code,
    subcode: error?.error_subcode ?? null,
    fbtraceId: error?.fbtrace_id ?? null,
    kind: classifyGraphError({ httpStatus: status, code, isTransient: error?.is_transient === true }),
    message: error?.error_user_msg ?? error?.message ?? `HTTP ${status} without a Graph API error body`,
  });
}

/**
 * The `metadata` attached to every Messenger message the platform sends. Meta echoes it back
 * (`is_echo`), which tells the platform's own messages from the ones people send from the Page
 * inbox (api/webhooks/normalize.ts): the channel does not record which Meta app id is the
 * platform's, so the echo's `app_id` alone cannot say it.
 */
export const PLATFORM_SEND_METADATA = 'metachat';
