import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyMatches, decryptSecret, encryptSecret, generateApiKey, parseApiKey, safeEqual, SecretDecryptionError } from './crypto.ts';

const k = (id: string) => ({ id, key: randomBytes(32) });

describe('channel secrets', () => {
  const old = k('old');
  const current = k('new');

  it('round-trips under the current key and never stores the plaintext', () => {
    const sealed = encryptSecret([current, old], 'EAAG-token', 'ch1:accessToken');
    expect(sealed.keyId).toBe('new');
    expect(Buffer.from(sealed.ciphertext).toString('utf8')).not.toContain('EAAG');
    expect(decryptSecret([current, old], sealed, 'ch1:accessToken')).toBe('EAAG-token');
  });

  it('decrypts with an older key after rotation', () => {
    const sealed = encryptSecret([old], 's3cret', 'a');
    expect(decryptSecret([current, old], sealed, 'a')).toBe('s3cret');
  });

  it('refuses a tampered ciphertext, another row, or an unknown key', () => {
    const sealed = encryptSecret([current], 's3cret', 'ch1:appSecret');
    const tampered = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext).fill(1, 0, 1) };
    expect(() => decryptSecret([current], tampered, 'ch1:appSecret')).toThrow(SecretDecryptionError);
    expect(() => decryptSecret([current], sealed, 'ch2:appSecret')).toThrow(SecretDecryptionError);
    expect(() => decryptSecret([old], sealed, 'ch1:appSecret')).toThrow(/no key "new"/);
  });
});

describe('api keys', () => {
  it('are found by prefix and verified by hash', () => {
    const created = generateApiKey();
    const parsed = parseApiKey(created.key);
    expect(parsed?.prefix).toBe(created.prefix);
    expect(apiKeyMatches(parsed!.secret, created.secretHash)).toBe(true);
    expect(apiKeyMatches(`${parsed!.secret.slice(0, -1)}x`, created.secretHash)).toBe(false);
  });

  it('rejects malformed keys', () => {
    expect(parseApiKey('Bearer abc')).toBeUndefined();
    expect(parseApiKey(`${generateApiKey().key}x`)).toBeUndefined();
  });

  it('compares strings in constant time whatever their lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
