import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyMatches, decryptSecret, encryptSecret, generateApiKey, parseApiKey, reencryptRows, safeEqual, SecretDecryptionError } from './crypto.ts';

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

describe('reencryptRows', () => {
  it('walks every page of rows not under the current key, counting what does not decrypt', async () => {
    const old = k('old');
    const current = k('new');
    const rows = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}`, sealed: encryptSecret([i === 3 ? k('lost') : old], `s${i}`, `r${i}`) }));
    const pages: (string | undefined)[] = [];
    const table = {
      count: async (id: string) => ({ total: rows.length, alreadyCurrent: rows.filter((r) => r.sealed.keyId === id).length }),
      page: async (id: string, after: string | undefined, take: number) => {
        pages.push(after);
        return rows.filter((r) => r.sealed.keyId !== id && (!after || r.id > after)).slice(0, take);
      },
      reseal: async (row: (typeof rows)[number]) => {
        row.sealed = encryptSecret([current], decryptSecret([current, old], row.sealed, row.id), row.id);
        return true;
      },
    };
    expect(await reencryptRows([current, old], table, 3)).toEqual({ total: 7, alreadyCurrent: 0, reencrypted: 6, failed: 1 });
    expect(pages).toEqual([undefined, 'r2', 'r5', 'r6']); // the last page is empty: done
    expect(await reencryptRows([current, old], table, 3)).toEqual({ total: 7, alreadyCurrent: 6, reencrypted: 0, failed: 1 });
  });

  it('lets errors other than a failed decryption stop the run', async () => {
    const table = { count: async () => ({ total: 1, alreadyCurrent: 0 }), page: async () => [{ id: 'a' }], reseal: async () => { throw new Error('db down'); } };
    await expect(reencryptRows([k('new')], table)).rejects.toThrow('db down');
  });
});
