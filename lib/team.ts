// A tenant's team: its users, their roles, and invitations to join. Roles:
//   owner — everything, the team included, owners too;
//   admin — everything a tenant API key can do, and the team except owners;
//   agent — conversations only (the routes agent-scope keys may use).
// Only an owner invites, promotes, demotes or removes an owner, and a tenant never loses its last
// owner (changes to owners run under a lock on the tenant's row, so two concurrent demotions
// cannot both pass the count). An invitation is a single-use link that expires; only its token's
// SHA-256 is stored; accepting it creates the user with the password given.
import type { Prisma, User, UserInvitation, UserRole } from '../generated/prisma/client.ts';
import { isToken, newToken, tokenHash } from './auth-tokens.ts';
import type { Db } from './db.ts';
import { hashPassword } from './passwords.ts';
import { endUserSessions } from './sessions.ts';
import { forTenant, tenantData, type TenantDb } from './tenant-db.ts';

export const ROLES = ['owner', 'admin', 'agent'] as const satisfies readonly UserRole[];

/** The actor may invite, change or remove a user of this role (only owners manage owners). */
export function mayManage(actor: UserRole, role: UserRole): boolean {
  return actor === 'owner' || (actor === 'admin' && role !== 'owner');
}

export class TeamRuleError extends Error {
  constructor(
    readonly code: 'owner_required' | 'last_owner' | 'user_exists',
    message: string,
  ) {
    super(message);
    this.name = 'TeamRuleError';
  }
}

/** An invitation or reset token that is unknown, used, revoked or expired: one answer for all. */
export class InvalidTokenError extends Error {
  constructor() {
    super('The link is invalid or has expired');
    this.name = 'InvalidTokenError';
  }
}

const ownerRequired = () => new TeamRuleError('owner_required', 'Only an owner can manage owners');
const lastOwner = () => new TeamRuleError('last_owner', 'The tenant must keep at least one owner');
const userExists = () => new TeamRuleError('user_exists', 'A user with this email is already in the team');

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';
}

/** Serialises changes to the tenant's owners (and its invitations for one email) for the transaction. */
async function lockTenant(tx: Pick<TenantDb, 'tenant'>, tenantId: string): Promise<void> {
  await tx.tenant.update({ where: { id: tenantId }, data: { updatedAt: new Date() }, select: { id: true } });
}

/** Refuses a change that would leave the tenant without an owner. */
async function assertOwnerRemains(tx: Pick<TenantDb, 'user'>, target: User): Promise<void> {
  if (target.role !== 'owner') return;
  if ((await tx.user.count({ where: { role: 'owner' } })) <= 1) throw lastOwner();
}

export function listUsers(tdb: TenantDb): Promise<User[]> {
  return tdb.user.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: 1000 });
}

/** The user with the new role, or null when the tenant has no such user. */
export async function changeRole(tdb: TenantDb, tenantId: string, actor: UserRole, userId: string, role: UserRole): Promise<User | null> {
  return tdb.$transaction(async (tx) => {
    await lockTenant(tx, tenantId);
    const target = await tx.user.findUnique({ where: { id: userId } });
    if (!target) return null;
    if (!mayManage(actor, target.role) || !mayManage(actor, role)) throw ownerRequired();
    if (role !== 'owner') await assertOwnerRemains(tx, target);
    return tx.user.update({ where: { id: userId }, data: { role } });
  });
}

/** Removes the user and with it every session and reset link of theirs; false when there is none. */
export async function removeUser(tdb: TenantDb, tenantId: string, actor: UserRole, userId: string): Promise<boolean> {
  return tdb.$transaction(async (tx) => {
    await lockTenant(tx, tenantId);
    const target = await tx.user.findUnique({ where: { id: userId } });
    if (!target) return false;
    if (!mayManage(actor, target.role)) throw ownerRequired();
    await assertOwnerRemains(tx, target);
    await endUserSessions(tx, userId);
    await tx.user.delete({ where: { id: userId } });
    return true;
  });
}

export interface NewInvitation {
  email: string;
  role: UserRole;
  /** The inviting user; null: the platform operator. */
  invitedBy: string | null;
  ttlMs: number;
}

/**
 * A new invitation and its token (shown once: in the email, or to the inviter). An earlier
 * pending invitation for the same email is revoked: the newest link is the only one that works.
 */
export async function createInvitation(tdb: TenantDb, tenantId: string, input: NewInvitation, now = new Date()): Promise<{ invitation: UserInvitation; token: string }> {
  const { token, hash } = newToken();
  return tdb.$transaction(async (tx) => {
    await lockTenant(tx, tenantId);
    if ((await tx.user.count({ where: { email: input.email } })) > 0) throw userExists();
    await tx.userInvitation.updateMany({ where: { email: input.email, acceptedAt: null, revokedAt: null }, data: { revokedAt: now } });
    const invitation = await tx.userInvitation.create({
      data: tenantData<Prisma.UserInvitationUncheckedCreateInput>({
        email: input.email,
        role: input.role,
        tokenHash: hash,
        invitedBy: input.invitedBy,
        createdAt: now,
        expiresAt: new Date(now.getTime() + input.ttlMs),
      }),
    });
    return { invitation, token };
  });
}

/** Invitations neither accepted, revoked nor expired. */
export const pendingInvitations = (now: Date) => ({ acceptedAt: null, revokedAt: null, expiresAt: { gt: now } });

export function listPendingInvitations(tdb: TenantDb, now = new Date()): Promise<UserInvitation[]> {
  return tdb.userInvitation.findMany({ where: pendingInvitations(now), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 1000 });
}

/** Revokes a pending invitation; false when there is none with that id. */
export async function revokeInvitation(tdb: TenantDb, actor: UserRole, id: string, now = new Date()): Promise<boolean> {
  const invitation = await tdb.userInvitation.findFirst({ where: { id, ...pendingInvitations(now) } });
  if (!invitation) return false;
  if (!mayManage(actor, invitation.role)) throw ownerRequired();
  const { count } = await tdb.userInvitation.updateMany({ where: { id, ...pendingInvitations(now) }, data: { revokedAt: now } });
  return count > 0;
}

/** The pending invitation a link's token names (any tenant's), or InvalidTokenError. */
export async function findPendingInvitation(db: Db, token: unknown, now = new Date()): Promise<UserInvitation> {
  if (!isToken(token)) throw new InvalidTokenError();
  const invitation = await db.userInvitation.findFirst({ where: { tokenHash: tokenHash(token), ...pendingInvitations(now) } });
  if (!invitation) throw new InvalidTokenError();
  return invitation;
}

/**
 * Accepts an invitation: marks it accepted (once: a second use finds it used) and creates its
 * user, in one transaction. InvalidTokenError for a link that is not pending; TeamRuleError
 * user_exists when the email joined the team meanwhile.
 */
export async function acceptInvitation(db: Db, token: unknown, account: { password: string; name: string | null }, now = new Date()): Promise<User> {
  const invitation = await findPendingInvitation(db, token, now);
  // Hashed once the link is known to be good: an unknown token costs no argon2 run.
  const passwordHash = await hashPassword(account.password);
  const tdb = forTenant(db, invitation.tenantId);
  try {
    return await tdb.$transaction(async (tx) => {
      const { count } = await tx.userInvitation.updateMany({ where: { id: invitation.id, ...pendingInvitations(now) }, data: { acceptedAt: now } });
      if (count === 0) throw new InvalidTokenError();
      return tx.user.create({
        data: tenantData<Prisma.UserUncheckedCreateInput>({ email: invitation.email, name: account.name, role: invitation.role, passwordHash }),
      });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw userExists();
    throw err;
  }
}
