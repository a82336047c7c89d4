// Secrets at rest and API keys. Channel secrets are AES-256-GCM under a key id from SECRETS_KEYS
// (the first key is current; older ids stay to decrypt until re-encrypted). API keys are stored
// as a public prefix plus the SHA-256 of the secret part, never the key itself.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from './config.ts';

export type Keyring = Config['SECRETS_KEYS'];

/**
 * HMAC keys for one purpose, derived from every key of the keyring (HKDF-SHA256, `info` naming the
 * purpose, so a token of one kind never verifies as another): sign with `current`, verify with
 * the key id a token names, so tokens signed before a rotation stay valid while their key is kept.
 */
export function signingKeys(keyring: Keyring, info: string): { keys: Map<string, Buffer>; current: string } {
  if (!keyring[0]) throw new Error('SECRETS_KEYS has no key');
  return { keys: new Map(keyring.map((k) => [k.id, Buffer.from(hkdfSync('sha256', k.key, Buffer.alloc(0), info, 32))])), current: keyring[0].id };
}

export interface EncryptedSecret {
  ciphertext: Uint8Array;
  iv: Uint8Array;
  authTag: Uint8Array;
  keyId: string;
}

export class SecretDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretDecryptionError';
  }
}

/**
 * `aad` binds the ciphertext to where it belongs (e.g. `${channelId}:${name}`), so a ciphertext
 * copied onto another row does not decrypt there.
 */
export function encryptSecret(keyring: Keyring, plaintext: string, aad: string): EncryptedSecret {
  const current = keyring[0];
  if (!current) throw new Error('SECRETS_KEYS has no key');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag(), keyId: current.id };
}

export function decryptSecret(keyring: Keyring, secret: EncryptedSecret, aad: string): string {
  const entry = keyring.find((k) => k.id === secret.keyId);
  if (!entry) throw new SecretDecryptionError(`no key "${secret.keyId}" in SECRETS_KEYS`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, secret.iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(secret.authTag);
    return Buffer.concat([decipher.update(secret.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptionError(`secret does not decrypt with key "${secret.keyId}"`);
  }
}

/** How a table keeps one signing secret (tenant functions, webhook endpoints): four columns. */
export interface SecretColumns {
  secretCiphertext: Uint8Array;
  secretIv: Uint8Array;
  secretAuthTag: Uint8Array;
  secretKeyId: string;
}

export function sealSecretColumns(keyring: Keyring, secret: string, aad: string) {
  const e = encryptSecret(keyring, secret, aad);
  return { secretCiphertext: Buffer.from(e.ciphertext), secretIv: Buffer.from(e.iv), secretAuthTag: Buffer.from(e.authTag), secretKeyId: e.keyId } satisfies SecretColumns;
}

export function openSecretColumns(keyring: Keyring, row: SecretColumns, aad: string): string {
  return decryptSecret(keyring, { ciphertext: row.secretCiphertext, iv: row.secretIv, authTag: row.secretAuthTag, keyId: row.secretKeyId }, aad);
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time equality of two strings (of any lengths) through their digests. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** API keys look like `mcp_<prefix>_<secret>`; the prefix finds the row, the secret proves it. */
const API_KEY = /^mcp_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  key: string;
  prefix: string;
  secretHash: Buffer;
}

export function generateApiKey(): NewApiKey {
  const prefix = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  return { key: `mcp_${prefix}_${secret}`, prefix, secretHash: sha256(secret) };
}

export function parseApiKey(key: string): { prefix: string; secret: string } | undefined {
  const match = API_KEY.exec(key);
  return match ? { prefix: match[1]!, secret: match[2]! } : undefined;
}

export function apiKeyMatches(secret: string, secretHash: Uint8Array): boolean {
  const hash = sha256(secret);
  return hash.length === secretHash.length && timingSafeEqual(hash, secretHash);
}

export interface RotationResult {
  total: number;
  alreadyCurrent: number;
  reencrypted: number;
  failed: number;
}

/** One table's sealed rows, as `reencryptRows` walks them. */
export interface SealedTable<Row extends { id: string }> {
  count(currentKeyId: string): Promise<{ total: number; alreadyCurrent: number }>;
  /** Rows not under `currentKeyId` with an id above `after`, by id, at most `take`. */
  page(currentKeyId: string, after: string | undefined, take: number): Promise<Row[]>;
  /**
   * Decrypts the row and writes it back under the current key only if it still holds what was
   * read (a concurrent update wins); returns whether it wrote. Throws SecretDecryptionError
   * when the row does not decrypt.
   */
  reseal(row: Row): Promise<boolean>;
}

/**
 * Re-encrypts, a page at a time, every row of a table not under the current key (the first of
 * SECRETS_KEYS). Idempotent: a second run finds everything current. A row that does not decrypt
 * (its key was removed, or it was tampered with) is counted as failed and left alone.
 */
export async function reencryptRows<Row extends { id: string }>(keyring: Keyring, table: SealedTable<Row>, batchSize = 500): Promise<RotationResult> {
  const current = keyring[0]?.id;
  if (!current) throw new Error('SECRETS_KEYS has no key');
  const result: RotationResult = { ...(await table.count(current)), reencrypted: 0, failed: 0 };
  for (let after: string | undefined; ; ) {
    const rows = await table.page(current, after, batchSize);
    if (rows.length === 0) return result;
    for (const row of rows) {
      try {
        if (await table.reseal(row)) result.reencrypted++;
      } catch (err) {
        if (!(err instanceof SecretDecryptionError)) throw err;
        result.failed++;
      }
    }
    after = rows.at(-1)!.id;
  }
}
