// Issuing an invitation, for the team routes (an owner or admin) and the operator's route (a
// tenant's first owner): the invitation row, then its link by email when SMTP is configured, else
// in the answer to whoever created it. A failed delivery revokes the invitation and answers 503,
// so no link exists that nobody received.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { UserRole } from '../generated/prisma/client.ts';
import { appLink, invitationMail } from '../lib/mailer.ts';
import { createInvitation, TeamRuleError } from '../lib/team.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { HttpError } from './plugins/app/errors.ts';
import { invitationView, type issuedInvitation } from './schemas/team.ts';

/** Team rules as HTTP errors (403 owner_required, 409 last_owner and user_exists); anything else is rethrown. */
export function teamRuleError(err: unknown): never {
  if (err instanceof TeamRuleError) throw new HttpError(err.code === 'owner_required' ? 403 : 409, err.code, err.message);
  throw err;
}

export async function issueInvitation(
  app: FastifyInstance,
  request: FastifyRequest,
  tenant: { id: string; name: string },
  input: { email: string; role: UserRole; invitedBy: string | null },
): Promise<z.infer<typeof issuedInvitation>> {
  const tdb = forTenant(app.db, tenant.id);
  const ttlMs = app.config.INVITATION_TTL_HOURS * 3_600_000;
  const { invitation, token } = await createInvitation(tdb, tenant.id, { ...input, ttlMs }).catch(teamRuleError);
  const link = appLink(app.config, 'accept-invitation', token);
  request.log.info({ invitationId: invitation.id, role: invitation.role, delivery: app.mailer ? 'email' : 'link' }, 'invitation created');
  if (!app.mailer) return { invitation: invitationView(invitation), delivery: 'link', link };
  try {
    await app.mailer.send(invitationMail(invitation.email, tenant.name, invitation.role, link, invitation.expiresAt));
  } catch (err) {
    request.log.warn({ err, invitationId: invitation.id }, 'could not send an invitation email');
    await tdb.userInvitation.updateMany({ where: { id: invitation.id }, data: { revokedAt: new Date() } });
    throw new HttpError(503, 'email_unavailable', 'The invitation email could not be sent, so no invitation was made; retry later');
  }
  return { invitation: invitationView(invitation), delivery: 'email' };
}
