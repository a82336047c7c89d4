// Web chat visitor tokens: the visitor id is the server's. POST /webchat/visitors chooses a random
// id and signs it, with the widget's channel and the issue time, into a token the widget keeps in
// localStorage; the socket takes the visitor id from a valid token for its widget and from nothing
// else. Shape: `wt1.<keyId>.<payload>.<signature>`, payload base64url JSON {v, c, iat},
// signature HMAC-SHA256 (base64url) over everything before it.
//
// Why HMAC with node:crypto and not a JWT library: none is installed, the token has one fixed
// algorithm and three claims, and a fixed format leaves nothing to negotiate (no `alg` header to
// get wrong). The signing key is HKDF-SHA256 of a SECRETS_KEYS key under a label of its own, so it
// is never the key that encrypts secrets and payloads, and it rotates with them: tokens are signed
// with the current (first) key and verify under any key still listed.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { signingKeys, type Keyring } from '../../lib/crypto.ts';
import { visitorIdSchema } from '../../lib/webchat-bus.ts';

const VERSION = 'wt1';
const HKDF_INFO = 'metachat webchat visitor token v1';

/** A token older than this is refused (the visitor starts afresh). */
export const TOKEN_MAX_AGE_MS = 90 * 24 * 3600_000;
/** A socket opened with a token older than this gets a fresh one in `ready`, so a returning visitor never reaches the maximum age. */
export const TOKEN_RENEW_AFTER_MS = 24 * 3600_000;
/** Issue times this far ahead of the clock are accepted (clock skew between API processes). */
const FUTURE_SKEW_MS = 5 * 60_000;

const payloadSchema = z.object({ v: visitorIdSchema, c: z.uuid(), iat: z.number().int().nonnegative() }).strict();

export interface VisitorClaims {
  visitorId: string;
  channelId: string;
  issuedAt: Date;
}

export interface IssuedToken extends VisitorClaims {
  token: string;
  expiresAt: Date;
}

export type TokenVerdict = { ok: true; claims: VisitorClaims } | { ok: false; reason: string };

/** A new visitor id: `wv_` and 128 random bits. */
export function newVisitorId(): string {
  return `wv_${randomBytes(16).toString('base64url')}`;
}

export class VisitorTokens {
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;
  readonly #now: () => number;

  constructor(keyring: Keyring, now: () => number = Date.now) {
    ({ keys: this.#keys, current: this.#current } = signingKeys(keyring, HKDF_INFO));
    this.#now = now;
  }

  /** A token for this visitor of this channel, issued now (a new visitor id unless one is given: renewal). */
  issue(channelId: string, visitorId: string = newVisitorId()): IssuedToken {
    const iat = Math.floor(this.#now() / 1000);
    const payload = Buffer.from(JSON.stringify({ v: visitorId, c: channelId, iat })).toString('base64url');
    const signed = `${VERSION}.${this.#current}.${payload}`;
    const issuedAt = new Date(iat * 1000);
    return { token: `${signed}.${this.#sign(this.#current, signed)}`, visitorId, channelId, issuedAt, expiresAt: new Date(issuedAt.getTime() + TOKEN_MAX_AGE_MS) };
  }

  /** The claims of a token this server signed for `channelId`, unexpired; else why not. */
  verify(token: string, channelId: string): TokenVerdict {
    const parts = token.length <= 512 ? token.split('.') : [];
    if (parts.length !== 4 || parts[0] !== VERSION) return { ok: false, reason: 'not a visitor token' };
    const [, keyId, payload, signature] = parts as [string, string, string, string];
    if (!this.#keys.has(keyId)) return { ok: false, reason: 'signed with a key this server does not hold' };
    const expected = Buffer.from(this.#sign(keyId, `${VERSION}.${keyId}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'not a visitor token' };
    }
    const claims = payloadSchema.safeParse(json);
    if (!claims.success) return { ok: false, reason: 'not a visitor token' };
    if (claims.data.c !== channelId) return { ok: false, reason: 'issued for another widget' };
    const issuedAt = claims.data.iat * 1000;
    const now = this.#now();
    if (issuedAt > now + FUTURE_SKEW_MS || now - issuedAt > TOKEN_MAX_AGE_MS) return { ok: false, reason: 'expired' };
    return { ok: true, claims: { visitorId: claims.data.v, channelId, issuedAt: new Date(issuedAt) } };
  }

  /** Whether a socket opened with this token should be handed a fresh one. */
  dueForRenewal(claims: VisitorClaims): boolean {
    return this.#now() - claims.issuedAt.getTime() > TOKEN_RENEW_AFTER_MS;
  }

  #sign(keyId: string, text: string): string {
    return createHmac('sha256', this.#keys.get(keyId)!).update(text).digest('base64url');
  }
}
