// Meta signs every webhook POST: `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw
// request body under the app secret. Verified over the exact bytes received (never a re-serialised
// body) and compared in constant time on equal-length buffers.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hub-signature-256';

const HEADER = /^sha256=([0-9a-fA-F]{64})$/;

/** The 32-byte digest a well-formed header carries, or undefined for a missing or malformed one. */
export function parseSignatureHeader(header: string | string[] | undefined): Buffer | undefined {
  if (typeof header !== 'string') return undefined;
  const match = HEADER.exec(header.trim());
  return match ? Buffer.from(match[1]!, 'hex') : undefined;
}

/** HMAC-SHA256 of the raw body under the app secret. */
export function bodyDigest(rawBody: Buffer, appSecret: string): Buffer {
  return createHmac('sha256', appSecret).update(rawBody).digest();
}

/** Whether `digest` (from parseSignatureHeader) is the body's HMAC under `appSecret`; constant time. */
export function signatureMatches(rawBody: Buffer, appSecret: string, digest: Buffer): boolean {
  const expected = bodyDigest(rawBody, appSecret);
  return digest.length === expected.length && timingSafeEqual(digest, expected);
}

/** The header value Meta would send for this body (for tests, fakes and replay tools). */
export function signatureHeader(rawBody: Buffer | string, appSecret: string): string {
  return `sha256=${bodyDigest(Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8'), appSecret).toString('hex')}`;
}
