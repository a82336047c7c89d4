import { describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, verifyNobody, verifyPassword, weakPasswordReason } from './passwords.ts';

describe('passwords', () => {
  it('hashes with argon2id at OWASP\'s parameters and verifies', async () => {
    const hash = await hashPassword('a long and unusual passphrase');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPassword(hash, 'a long and unusual passphrase')).toBe(true);
    expect(await verifyPassword(hash, 'a long and unusual passphrasE')).toBe(false);
    expect(await verifyPassword('not a hash', 'anything')).toBe(false);
    expect(needsRehash(hash)).toBe(false);
    expect(await verifyNobody('anything')).toBe(false);
  });

  it('asks for a rehash of a hash made with weaker parameters', async () => {
    const argon2 = (await import('argon2')).default;
    expect(needsRehash(await argon2.hash('x', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 }))).toBe(true);
  });

  it('refuses the offline basics and accepts the rest', () => {
    expect(weakPasswordReason('Password1234', 'ann@example.com')).toMatch(/most common/);
    expect(weakPasswordReason('zzzzzzzzzzzzzz', 'ann@example.com')).toMatch(/repeated/);
    expect(weakPasswordReason('abcdefghijklmn', 'ann@example.com')).toMatch(/run/);
    expect(weakPasswordReason('6543210987654', 'ann@example.com')).toMatch(/run/);
    expect(weakPasswordReason('asdfghjklzxcv', 'ann@example.com')).toMatch(/run/);
    expect(weakPasswordReason('ANN@example.com', 'ann@example.com')).toMatch(/email/);
    expect(weakPasswordReason('correct horse battery staple', 'ann@example.com')).toBeNull();
  });
});
