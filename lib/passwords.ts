// Team account passwords: argon2id through node-argon2 (prebuilt binaries in its npm package,
// nothing fetched at run time) with OWASP's minimum parameters (Password Storage Cheat Sheet:
// 19 MiB of memory, 2 iterations, 1 lane; about 50 ms a hash on one core). The PHC string keeps
// the parameters, so raising them later rehashes each password at its next sign-in
// (needsRehash).
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/** False for a wrong password and for a hash that is not one (never throws). */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** The stored hash was made with other parameters than today's. */
export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, OPTIONS);
  } catch {
    return true;
  }
}

let nobody: Promise<string> | undefined;

/** Makes the hash verifyNobody compares against (call at start-up, so no sign-in waits for it). */
export function prepareNobody(): Promise<string> {
  nobody ??= hashPassword(randomBytes(32).toString('base64url'));
  return nobody;
}

/**
 * Verifies against the hash of a random password no account has: a sign-in for an email without
 * an account then takes as long as one with a wrong password.
 */
export async function verifyNobody(password: string): Promise<false> {
  await verifyPassword(await prepareNobody(), password);
  return false;
}

/** Passwords of twelve characters or more that top every breach list (the lengths filter the rest out). */
const COMMON = new Set([
  '123456789012', '1234567890123', '12345678901234', '123456789123', '111111111111', '000000000000',
  'password1234', 'password12345', 'password123!', 'passwordpassword', 'qwertyuiopas', 'qwerty123456',
  'qwertyuiop12', '1q2w3e4r5t6y', 'iloveyou1234', 'letmein12345', 'welcome12345', 'administrator',
  'changeme1234', 'abc123456789', 'football1234', 'monkey123456', 'dragon123456', 'sunshine1234',
]);

const SEQUENCES = ['0123456789012345678901234567890', 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm'];

/**
 * Why a password of the right length is still refused, or null: the cheap, offline basics of
 * NIST SP 800-63B (no breach-list lookup over the network): a well-known password, one character
 * repeated, a plain run of the keyboard or the alphabet (either way), or the account's email.
 */
export function weakPasswordReason(password: string, email: string): string | null {
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return 'is one of the most common passwords';
  if (/^(.)\1*$/su.test(password)) return 'is one character repeated';
  const reversed = [...lower].reverse().join('');
  if (SEQUENCES.some((s) => s.includes(lower) || s.includes(reversed))) return 'is a plain run of keys or letters';
  if (lower === email.toLowerCase() || lower === email.split('@')[0]!.toLowerCase()) return 'is the account\'s email';
  return null;
}
