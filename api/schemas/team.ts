// Schemas of team accounts: emails (normalised: trimmed, lower-case), passwords (12 to 256
// characters; lib/passwords.ts refuses the well-known ones), users, sessions and invitations.
import { z } from 'zod';
import type { User, UserInvitation, UserSession } from '../../generated/prisma/client.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, weakPasswordReason } from '../../lib/passwords.ts';
import { ROLES } from '../../lib/team.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { iso } from './common.ts';

export const email = z.string().trim().toLowerCase().max(254).check(z.email()).describe('Compared without case and surrounding spaces');
export const password = z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH).describe(`${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters; the most common passwords, one character repeated, a run of keys and the account's email are refused`);
/** What a sign-in takes: any password up to the maximum (one set before a rule changed still signs in). */
export const givenPassword = z.string().min(1).max(PASSWORD_MAX_LENGTH);
export const tenantSlug = z.string().min(2).max(63).describe("The tenant's slug");
export const role = z.enum(ROLES).describe('owner: everything; admin: everything but managing owners; agent: conversations only');
export const token = z.string().min(1).max(200).describe('The token from the link (after #token=)');

/** 400 for a password of the right length that is still too easy to guess. */
export function assertStrongPassword(value: string, accountEmail: string, field = 'password'): void {
  const reason = weakPasswordReason(value, accountEmail);
  if (reason) throw new HttpError(400, 'weak_password', `Invalid body: /${field} ${reason}; choose another`);
}

export const userSchema = z.object({
  id: z.uuid().describe('Also the agent id the user acts as on the handoff routes'),
  email: z.string(),
  name: z.string().nullable(),
  role,
  createdAt: z.string(),
  lastSignInAt: z.string().nullable(),
});

export function userView(u: User): z.infer<typeof userSchema> {
  return { id: u.id, email: u.email, name: u.name, role: u.role, createdAt: iso(u.createdAt)!, lastSignInAt: iso(u.lastSignInAt) };
}

export const meSchema = z.object({
  user: userSchema,
  tenant: z.object({ id: z.uuid(), name: z.string(), slug: z.string() }),
  sessionId: z.uuid(),
  csrfToken: z.string().describe('Send it in X-CSRF-Token with every POST, PUT, PATCH and DELETE made with the session cookie'),
});

export const sessionSchema = z.object({
  id: z.uuid(),
  current: z.boolean().describe('The session making this request'),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.string(),
  lastSeenAt: z.string().describe('Written at most once a minute'),
  expiresAt: z.string().describe('The absolute end; it ends earlier after the idle time without a request'),
});

export function sessionView(s: UserSession, currentId: string): z.infer<typeof sessionSchema> {
  return { id: s.id, current: s.id === currentId, userAgent: s.userAgent, ip: s.ip, createdAt: iso(s.createdAt)!, lastSeenAt: iso(s.lastSeenAt)!, expiresAt: iso(s.expiresAt)! };
}

export const invitationSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role,
  invitedBy: z.uuid().nullable().describe('The inviting user; null: the platform operator'),
  createdAt: z.string(),
  expiresAt: z.string(),
});

export function invitationView(i: UserInvitation): z.infer<typeof invitationSchema> {
  return { id: i.id, email: i.email, role: i.role, invitedBy: i.invitedBy, createdAt: iso(i.createdAt)!, expiresAt: iso(i.expiresAt)! };
}

/** A new invitation: emailed (SMTP_URL set) or its link shown here, once. */
export const issuedInvitation = z.object({
  invitation: invitationSchema,
  delivery: z.enum(['email', 'link']).describe('email: sent to the invitee; link: no SMTP is configured, pass `link` on yourself'),
  link: z.string().optional().describe('Only with delivery `link`: the single-use link, shown once'),
});
