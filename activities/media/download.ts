// Downloads of end users' media from Meta, within the platform's limits:
// - WhatsApp: GET /{media-id} with the number's token answers a short-lived `url` (plus MIME type,
//   size, SHA-256); a GET of that URL with the same bearer token answers the bytes. The URL
//   expires within minutes, so every attempt asks for a fresh one.
// - Messenger: the attachment's `payload.url` is a signed CDN URL, fetched as is (no token).
// Failures are the Graph API's failure types (activities/channels/graph-errors.ts), so Temporal's
// retries treat them as they treat a send: transient and throttled retry, permanent does not.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { GRAPH_TRANSIENT_ERROR, graphNetworkFailure, graphResponseFailure, type FailureContext } from '../channels/graph-errors.ts';
import { mediaRefusal, tooLarge, type MediaLimits } from './limits.ts';

export type Downloaded = { status: 'downloaded'; bytes: Buffer; mimeType: string } | { status: 'refused'; reason: string; mimeType?: string; sizeBytes?: number };

export const MEDIA_DOWNLOAD_TIMEOUT_MS = 60_000;
const LOOKUP_TIMEOUT_MS = 10_000;

/** Failure type of a file whose bytes do not match the SHA-256 Meta announced (retried: a truncated transfer). */
export const MEDIA_CHECKSUM_MISMATCH = 'MediaChecksumMismatch';

interface WhatsAppMediaInfo {
  url?: unknown;
  mime_type?: unknown;
  sha256?: unknown;
  file_size?: unknown;
}

export async function downloadWhatsAppMedia(options: {
  graphApiUrl: string;
  accessToken: string;
  mediaId: string;
  limits: MediaLimits;
  signal?: AbortSignal;
}): Promise<Downloaded> {
  const { accessToken, limits, signal } = options;
  const ctx: FailureContext = { operation: 'WhatsApp media lookup', secrets: [accessToken] };
  const lookupUrl = `${options.graphApiUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.mediaId)}`;
  const info = JSON.parse((await get(lookupUrl, accessToken, LOOKUP_TIMEOUT_MS, ctx, signal)).body.toString('utf8') || '{}') as WhatsAppMediaInfo;
  if (typeof info.url !== 'string' || !URL.canParse(info.url)) throw ApplicationFailure.retryable('WhatsApp media lookup answered no download URL', GRAPH_TRANSIENT_ERROR);
  const mimeType = typeof info.mime_type === 'string' ? info.mime_type : undefined;
  const size = typeof info.file_size === 'number' ? info.file_size : typeof info.file_size === 'string' ? Number(info.file_size) : undefined;
  const refused = mediaRefusal(limits, mimeType, Number.isFinite(size) ? size : undefined);
  if (refused) return { status: 'refused', reason: refused, ...(mimeType && { mimeType }), ...(size !== undefined && Number.isFinite(size) && { sizeBytes: size }) };
  const file = await get(info.url, accessToken, MEDIA_DOWNLOAD_TIMEOUT_MS, { operation: 'WhatsApp media download', secrets: [accessToken] }, signal, limits.maxBytes);
  if (file.tooLarge) return { status: 'refused', reason: tooLarge(limits, 'more'), mimeType: mimeType! };
  if (typeof info.sha256 === 'string' && info.sha256 && !sameDigest(createHash('sha256').update(file.body).digest(), info.sha256)) {
    throw ApplicationFailure.retryable('WhatsApp media download: the bytes do not match the announced SHA-256', MEDIA_CHECKSUM_MISMATCH);
  }
  return { status: 'downloaded', bytes: file.body, mimeType: mimeType! };
}

export async function downloadMessengerAttachment(options: { url: string; limits: MediaLimits; signal?: AbortSignal }): Promise<Downloaded> {
  const { limits } = options;
  const file = await get(options.url, undefined, MEDIA_DOWNLOAD_TIMEOUT_MS, { operation: 'Messenger attachment download' }, options.signal, limits.maxBytes, (mimeType, size) =>
    mediaRefusal(limits, mimeType, size),
  );
  if (file.refused) return { status: 'refused', reason: file.refused, ...(file.mimeType && { mimeType: file.mimeType }) };
  if (file.tooLarge) return { status: 'refused', reason: tooLarge(limits, 'more'), ...(file.mimeType && { mimeType: file.mimeType }) };
  return { status: 'downloaded', bytes: file.body, mimeType: file.mimeType! };
}

/** Meta's SHA-256, in hex or base64 (both appear in its payloads), against the bytes' digest. */
function sameDigest(digest: Buffer, announced: string): boolean {
  return announced.toLowerCase() === digest.toString('hex') || announced === digest.toString('base64');
}

interface Fetched {
  body: Buffer;
  mimeType?: string;
  /** More bytes came than `maxBytes`: the read stopped there. */
  tooLarge?: boolean;
  /** What `check` said about the response's type and length before the body was read. */
  refused?: string;
}

/**
 * One GET whose body is read up to `maxBytes` (a larger body is abandoned, not buffered), under
 * a timeout that covers the body too. `check` may refuse on the response's headers.
 */
async function get(
  url: string,
  accessToken: string | undefined,
  timeoutMs: number,
  ctx: FailureContext,
  signal: AbortSignal | undefined,
  maxBytes = 1024 * 1024,
  check?: (mimeType: string | undefined, sizeBytes: number | undefined) => string | undefined,
): Promise<Fetched> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const abort = signal ? AbortSignal.any([timeout, signal]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {}, signal: abort });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw graphNetworkFailure(timeout.aborted ? timeout.reason : err, ctx);
  }
  if (response.status < 200 || response.status >= 300) {
    throw graphResponseFailure({ status: response.status, headers: response.headers, body: await response.text().catch(() => '') }, ctx);
  }
  const mimeType = response.headers.get('content-type') ?? undefined;
  const length = response.headers.get('content-length');
  const refused = check?.(mimeType, length === null ? undefined : Number(length));
  if (refused) {
    await response.body?.cancel();
    return { body: Buffer.alloc(0), refused, ...(mimeType && { mimeType }) };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) {
        await response.body?.cancel();
        return { body: Buffer.alloc(0), tooLarge: true, ...(mimeType && { mimeType }) };
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw graphNetworkFailure(timeout.aborted ? timeout.reason : err, ctx);
  }
  return { body: Buffer.concat(chunks), ...(mimeType && { mimeType }) };
}
