// Sessions of team accounts (model UserSession). The browser holds a random token in an HttpOnly
// cookie; the row holds its SHA-256. A session is live until its absolute expiry (set at sign-in,
// SESSION_MAX_HOURS) and while requests keep coming (SESSION_IDLE_MINUTES since last_seen_at,
// which is written at most once a minute: idle expiry is precise to that minute). Ending a
// session deletes its row, so nothing can bring it back.
import type { Prisma, User, UserSession } from '../generated/prisma/client.ts';
import { isToken, newToken, tokenHash } from './auth-tokens.ts';
import type { Config } from './config.ts';
import type { Db } from './db.ts';
import { forTenant, tenantData, type TenantDb } from './tenant-db.ts';

export interface SessionPolicy {
  maxAgeMs: number;
  idleMs: number;
}

export function sessionPolicy(config: Pick<Config, 'SESSION_MAX_HOURS' | 'SESSION_IDLE_MINUTES'>): SessionPolicy {
  return { maxAgeMs: config.SESSION_MAX_HOURS * 3_600_000, idleMs: config.SESSION_IDLE_MINUTES * 60_000 };
}

/** last_seen_at is written at most this often per session, and never on the request's path. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;

export interface SessionClient {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

export async function createSession(db: Db, user: Pick<User, 'id' | 'tenantId'>, client: SessionClient, policy: SessionPolicy, now = new Date()): Promise<{ token: string; session: UserSession }> {
  const { token, hash } = newToken();
  const session = await forTenant(db, user.tenantId).userSession.create({
    data: tenantData<Prisma.UserSessionUncheckedCreateInput>({
      userId: user.id,
      tokenHash: hash,
      userAgent: client.userAgent?.slice(0, 256) ?? null,
      ip: client.ip ?? null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + policy.maxAgeMs),
    }),
  });
  return { token, session };
}

/** Neither past its absolute expiry nor idle for longer than the policy allows. */
export function isLive(session: Pick<UserSession, 'expiresAt' | 'lastSeenAt'>, policy: SessionPolicy, now = new Date()): boolean {
  return session.expiresAt > now && session.lastSeenAt.getTime() + policy.idleMs > now.getTime();
}

/** The live session a cookie's token names, with its user; null for anything else. */
export async function findSession(db: Db, token: unknown, policy: SessionPolicy, now = new Date()): Promise<(UserSession & { user: User }) | null> {
  if (!isToken(token)) return null;
  const row = await db.userSession.findUnique({ where: { tokenHash: tokenHash(token) }, include: { user: true } });
  return row && isLive(row, policy, now) ? row : null;
}

/** Moves the idle clock, once per LAST_SEEN_RESOLUTION_MS at most (concurrent requests write once). */
export async function touchSession(db: Db, session: Pick<UserSession, 'id' | 'lastSeenAt'>, now = new Date()): Promise<void> {
  if (now.getTime() - session.lastSeenAt.getTime() < LAST_SEEN_RESOLUTION_MS) return;
  await db.userSession.updateMany({ where: { id: session.id, lastSeenAt: { lt: new Date(now.getTime() - LAST_SEEN_RESOLUTION_MS) } }, data: { lastSeenAt: now } });
}

/** A user's live sessions, most recently used first. */
export function listSessions(tdb: TenantDb, userId: string, policy: SessionPolicy, now = new Date()): Promise<UserSession[]> {
  return tdb.userSession.findMany({
    where: { userId, expiresAt: { gt: now }, lastSeenAt: { gt: new Date(now.getTime() - policy.idleMs) } },
    orderBy: [{ lastSeenAt: 'desc' }, { id: 'desc' }],
    take: 100,
  });
}

/** Ends one of the user's sessions; false when the user has no such session. */
export async function endSession(tdb: TenantDb, userId: string, sessionId: string): Promise<boolean> {
  const { count } = await tdb.userSession.deleteMany({ where: { id: sessionId, userId } });
  return count > 0;
}

/** Ends every session of the user but `keep` (a password change keeps the one that made it). */
export async function endUserSessions(tdb: Pick<TenantDb, 'userSession'>, userId: string, keep?: string): Promise<number> {
  const { count } = await tdb.userSession.deleteMany({ where: { userId, ...(keep ? { id: { not: keep } } : {}) } });
  return count;
}

/** Deletes the rows of ended sessions, platform-wide (the API runs it at most once a minute). */
export async function deleteEndedSessions(db: Db, policy: SessionPolicy, now = new Date()): Promise<number> {
  const { count } = await db.userSession.deleteMany({ where: { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lte: new Date(now.getTime() - policy.idleMs) } }] } });
  return count;
}
