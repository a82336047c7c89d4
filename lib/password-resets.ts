// Password reset links: single use, expiring (PASSWORD_RESET_TTL_MINUTES), only the token's
// SHA-256 stored. A new link makes the user's earlier unused ones useless, and using one sets the
// password and ends every session of the user.
import type { PasswordReset, Prisma, User } from '../generated/prisma/client.ts';
import { isToken, newToken, tokenHash } from './auth-tokens.ts';
import type { Db } from './db.ts';
import { hashPassword } from './passwords.ts';
import { endUserSessions } from './sessions.ts';
import { InvalidTokenError } from './team.ts';
import { forTenant, tenantData } from './tenant-db.ts';

/** A reset link's token for the user (shown once: in the email, or to the admin who asked for it). */
export async function createPasswordReset(db: Db, user: Pick<User, 'id' | 'tenantId'>, ttlMs: number, now = new Date()): Promise<{ token: string; expiresAt: Date }> {
  const { token, hash } = newToken();
  const expiresAt = new Date(now.getTime() + ttlMs);
  await forTenant(db, user.tenantId).$transaction(async (tx) => {
    await tx.passwordReset.updateMany({ where: { userId: user.id, usedAt: null }, data: { usedAt: now } });
    await tx.passwordReset.create({ data: tenantData<Prisma.PasswordResetUncheckedCreateInput>({ userId: user.id, tokenHash: hash, createdAt: now, expiresAt }) });
  });
  return { token, expiresAt };
}

/** The unused, unexpired reset a link's token names, with its user, or InvalidTokenError. */
export async function findPasswordReset(db: Db, token: unknown, now = new Date()): Promise<PasswordReset & { user: User }> {
  if (!isToken(token)) throw new InvalidTokenError();
  const reset = await db.passwordReset.findUnique({ where: { tokenHash: tokenHash(token) }, include: { user: true } });
  if (!reset || reset.usedAt || reset.expiresAt <= now) throw new InvalidTokenError();
  return reset;
}

/**
 * Sets the password the link's owner chose, once: InvalidTokenError for a link that is unknown,
 * used or expired. Every session of the user ends.
 */
export async function confirmPasswordReset(db: Db, token: unknown, password: string, now = new Date()): Promise<User> {
  const reset = await findPasswordReset(db, token, now);
  // Hashed once the link is known to be good: an unknown token costs no argon2 run.
  const passwordHash = await hashPassword(password);
  return forTenant(db, reset.tenantId).$transaction(async (tx) => {
    const { count } = await tx.passwordReset.updateMany({ where: { id: reset.id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
    if (count === 0) throw new InvalidTokenError();
    const user = await tx.user.update({ where: { id: reset.userId }, data: { passwordHash, passwordChangedAt: now } });
    await endUserSessions(tx, user.id);
    return user;
  });
}
