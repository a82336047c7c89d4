// The secrets of team accounts: session tokens (the session cookie's value), invitation and
// password reset tokens (in their links). Each is 32 random bytes, base64url; only its SHA-256 is
// stored, so a read of the database yields nothing to sign in with.
//
// The CSRF token of a session is derived from the session token (HMAC-SHA256 under a fixed label)
// rather than stored: it is bound to the session, changes with it, cannot be computed without the
// HttpOnly cookie, and costs no column (OWASP's HMAC-based synchronizer token).
import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual, sha256 } from './crypto.ts';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface NewToken {
  token: string;
  hash: Uint8Array<ArrayBuffer>;
}

export function newToken(): NewToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(sha256(token));
}

/** A token of the shape this module makes (anything else is not looked up). */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

export function csrfTokenOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('metachat csrf v1').digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, sent: unknown): boolean {
  return typeof sent === 'string' && safeEqual(sent, csrfTokenOf(sessionToken));
}
