// The tenant's team, for signed-in owners and admins (`teamAdmin`: API keys and agents answer
// 403): its users (change a role, remove one: their sessions end at once), invitations (invite,
// list pending, revoke) and, for a user who cannot get a reset email, a reset link. Only an owner
// manages owners (403 owner_required), and the last owner stays (409 last_owner) — lib/team.ts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appLink, passwordResetMail } from '../../../../lib/mailer.ts';
import { createPasswordReset } from '../../../../lib/password-resets.ts';
import { changeRole, listPendingInvitations, listUsers, mayManage, removeUser, revokeInvitation } from '../../../../lib/team.ts';
import { issueInvitation, teamRuleError } from '../../../invitations.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import type { Principal } from '../../../plugins/app/auth.ts';
import { errorBody, errorResponses, idParams, iso, noContent } from '../../../schemas/common.ts';
import { email, invitationSchema, invitationView, issuedInvitation, role, userSchema, userView } from '../../../schemas/team.ts';
import { enforcePlanLimit, planLimitResponses } from '../../../plan-limits.ts';

const teamRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['team'];
  const config = { teamAdmin: true };
  const actorOf = (principal: Principal | undefined) => {
    if (principal?.kind !== 'user') throw new Error('a teamAdmin route without a signed-in user');
    return principal;
  };
  const userNotFound = () => new HttpError(404, 'not_found', 'User not found');

  app.get(
    '/users',
    { config, schema: { tags, summary: 'The team: every user of the tenant, oldest first', response: { 200: z.object({ items: z.array(userSchema) }), ...errorResponses } } },
    async (request) => ({ items: (await listUsers(request.tenantDb)).map(userView) }),
  );

  app.patch(
    '/users/:id',
    {
      config,
      schema: {
        tags,
        summary: "Change a user's role",
        description: 'Only an owner makes or unmakes an owner (403 owner_required); the last owner cannot be demoted (409 last_owner). The user\'s sessions carry the new role from their next request.',
        params: idParams,
        body: z.object({ role }).strict(),
        response: { 200: userSchema, ...errorResponses },
      },
    },
    async (request) => {
      const actor = actorOf(request.principal);
      const user = await changeRole(request.tenantDb, request.tenantId, actor.role, request.params.id, request.body.role).catch(teamRuleError);
      if (!user) throw userNotFound();
      request.log.info({ targetUserId: user.id, role: user.role }, 'user role changed');
      return userView(user);
    },
  );

  app.delete(
    '/users/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Remove a user from the team (their sessions end at once)',
        description: 'Only an owner removes an owner (403 owner_required); the last owner stays (409 last_owner).',
        params: idParams,
        response: { 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request.principal);
      if (!(await removeUser(request.tenantDb, request.tenantId, actor.role, request.params.id).catch(teamRuleError))) throw userNotFound();
      request.log.info({ targetUserId: request.params.id }, 'user removed');
      return reply.code(204).send();
    },
  );

  app.post(
    '/users/:id/password-reset',
    {
      config,
      schema: {
        tags,
        summary: "Make a password reset link for a team member (emailed, or shown once without SMTP)",
        description: 'For a user who cannot sign in. Only an owner makes one for an owner (403 owner_required). 503 email_unavailable when SMTP is configured but the email could not be sent.',
        params: idParams,
        response: {
          201: z.object({ delivery: z.enum(['email', 'link']), link: z.string().optional().describe('Only with delivery `link`: the single-use link, shown once'), expiresAt: z.string() }),
          ...errorResponses,
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request.principal);
      const user = await request.tenantDb.user.findUnique({ where: { id: request.params.id }, include: { tenant: { select: { name: true } } } });
      if (!user) throw userNotFound();
      if (!mayManage(actor.role, user.role)) throw new HttpError(403, 'owner_required', 'Only an owner can manage owners');
      const { token, expiresAt } = await createPasswordReset(app.db, user, app.config.PASSWORD_RESET_TTL_MINUTES * 60_000);
      const link = appLink(app.config, 'reset-password', token);
      request.log.info({ targetUserId: user.id, delivery: app.mailer ? 'email' : 'link' }, 'password reset link made');
      if (!app.mailer) return reply.code(201).send({ delivery: 'link' as const, link, expiresAt: iso(expiresAt)! });
      try {
        await app.mailer.send(passwordResetMail(user.email, user.tenant.name, link, expiresAt));
      } catch (err) {
        request.log.warn({ err, targetUserId: user.id }, 'could not send a password reset email');
        throw new HttpError(503, 'email_unavailable', 'The reset email could not be sent; retry later');
      }
      return reply.code(201).send({ delivery: 'email' as const, expiresAt: iso(expiresAt)! });
    },
  );

  app.get(
    '/invitations',
    { config, schema: { tags, summary: 'Pending invitations (neither accepted, revoked nor expired), newest first', response: { 200: z.object({ items: z.array(invitationSchema) }), ...errorResponses } } },
    async (request) => ({ items: (await listPendingInvitations(request.tenantDb)).map(invitationView) }),
  );

  app.post(
    '/invitations',
    {
      config,
      schema: {
        tags,
        summary: 'Invite someone to the team with a role',
        description:
          'The single-use link, valid for INVITATION_TTL_HOURS, is emailed when SMTP is configured (delivery `email`; 503 email_unavailable and no invitation when sending fails), else shown here once (delivery `link`). ' +
          'An earlier pending invitation for the same email stops working. 402 plan_limit_reached: the plan\'s seats (members and pending invitations) are taken. 409 user_exists: the email is already in the team; 403 owner_required: only an owner invites an owner.',
        body: z.object({ email, role }).strict(),
        response: { 201: issuedInvitation, ...errorResponses, 503: errorBody, ...planLimitResponses },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request.principal);
      if (!mayManage(actor.role, request.body.role)) throw new HttpError(403, 'owner_required', 'Only an owner can manage owners');
      await enforcePlanLimit(app, request, reply, 'seats');
      const tenant = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId }, select: { id: true, name: true } });
      return reply.code(201).send(await issueInvitation(app, request, tenant, { ...request.body, invitedBy: actor.userId }));
    },
  );

  app.delete(
    '/invitations/:id',
    { config, schema: { tags, summary: 'Revoke a pending invitation (its link stops working)', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const actor = actorOf(request.principal);
      if (!(await revokeInvitation(request.tenantDb, actor.role, request.params.id).catch(teamRuleError))) throw new HttpError(404, 'not_found', 'Invitation not found');
      request.log.info({ invitationId: request.params.id }, 'invitation revoked');
      return reply.code(204).send();
    },
  );
};

export default teamRoutes;
