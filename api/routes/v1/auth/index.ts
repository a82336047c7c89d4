// Signing in, and the two links that set a password: a password reset and an invitation. These
// routes take no key or session (they are how one is had), so they are limited instead
// (api/plugins/app/login-limits.ts): per client IP, and per account (tenant and email) with a
// lockout after repeated failures. Nothing they answer tells whether an email has an account: a
// wrong password and an unknown email (or tenant) are the same 401 after the same argon2 work, a
// lockout counts and answers alike for both, and a reset request is 202 either way (its work
// happens after the answer).
//
// The body is JSON only (415 otherwise), so a cross-site HTML form cannot sign a browser in to
// someone else's account: a cross-origin fetch with JSON needs a CORS preflight, which only
// CORS_ORIGINS pass.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appLink, passwordResetMail } from '../../../../lib/mailer.ts';
import { hashPassword, needsRehash, prepareNobody, verifyNobody, verifyPassword } from '../../../../lib/passwords.ts';
import { confirmPasswordReset, createPasswordReset, findPasswordReset } from '../../../../lib/password-resets.ts';
import { acceptInvitation, findPendingInvitation, InvalidTokenError } from '../../../../lib/team.ts';
import { teamRuleError } from '../../../invitations.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, noContent } from '../../../schemas/common.ts';
import { assertStrongPassword, email, givenPassword, meSchema, password, tenantSlug, token, userView } from '../../../schemas/team.ts';

const SIGNED_IN = 'Sets the session cookie `__Host-metachat_session` (HttpOnly, Secure, SameSite=Lax). Send `csrfToken` in X-CSRF-Token with every state-changing request made with it.';

const invalidLink = () => new HttpError(400, 'invalid_token', 'The link is invalid, already used or expired');

const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['sign-in'];
  // The hash unknown emails are checked against is made before the first sign-in, not during it.
  await prepareNobody();

  app.post(
    '/session',
    {
      schema: {
        tags,
        summary: 'Sign in with email and password',
        description: `${SIGNED_IN} 401 invalid_credentials for a wrong tenant, email or password alike; 429 when the address or the account has made too many attempts (the account locks for a while after repeated failures).`,
        body: z.object({ tenant: tenantSlug, email, password: givenPassword }).strict(),
        response: { 200: meSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenant: slug, email: address, password: given } = request.body;
      await app.loginLimits.attemptFromIp(request, reply);
      await app.loginLimits.attemptOnAccount(request, reply, slug, address);
      // The platform-wide client, as for an API key: the tenant is what the request names, not yet a caller's.
      const user = await app.db.user.findFirst({ where: { email: address, tenant: { slug } }, include: { tenant: true } });
      const ok = user ? await verifyPassword(user.passwordHash, given) : await verifyNobody(given);
      if (!user || !ok) {
        await app.loginLimits.failedOnAccount(request, slug, address);
        request.log.info({ outcome: 'failed' }, 'sign-in');
        throw new HttpError(401, 'invalid_credentials', 'The tenant, email or password is wrong');
      }
      const rehash = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(given) } : {};
      const signedIn = await app.db.user.update({ where: { id: user.id }, data: { lastSignInAt: new Date(), ...rehash } });
      const session = await app.sessions.start(request, reply, user);
      request.log.info({ tenantId: user.tenantId, userId: user.id, sessionId: session.sessionId }, 'sign-in');
      return reply.code(200).send({ user: userView(signedIn), tenant: { id: user.tenant.id, name: user.tenant.name, slug: user.tenant.slug }, ...session });
    },
  );

  app.post(
    '/password-reset',
    {
      schema: {
        tags,
        summary: 'Ask for a password reset link by email',
        description:
          'Always 202, whether or not the email has an account. With an account and SMTP configured, a single-use link that expires is emailed; without SMTP nothing is sent (an owner or admin can make a link: POST /api/v1/team/users/{id}/password-reset).',
        body: z.object({ tenant: tenantSlug, email }).strict(),
        response: { 202: z.object({ accepted: z.literal(true) }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenant: slug, email: address } = request.body;
      await app.loginLimits.attemptFromIp(request, reply);
      await app.loginLimits.attemptOnAccount(request, reply, slug, address);
      // After the answer, so that its timing says nothing about the account.
      setImmediate(() => {
        sendResetLink(slug, address).catch((err: unknown) => request.log.warn({ err }, 'could not send a password reset link'));
      });
      return reply.code(202).send({ accepted: true as const });

      async function sendResetLink(tenantSlugGiven: string, to: string): Promise<void> {
        const mailer = app.mailer;
        if (!mailer) return;
        const user = await app.db.user.findFirst({ where: { email: to, tenant: { slug: tenantSlugGiven } }, include: { tenant: true } });
        if (!user) return;
        const { token: secret, expiresAt } = await createPasswordReset(app.db, user, app.config.PASSWORD_RESET_TTL_MINUTES * 60_000);
        await mailer.send(passwordResetMail(user.email, user.tenant.name, appLink(app.config, 'reset-password', secret), expiresAt));
        request.log.info({ tenantId: user.tenantId, userId: user.id }, 'password reset link sent');
      }
    },
  );

  app.post(
    '/password-reset/confirm',
    {
      schema: {
        tags,
        summary: 'Set a new password with a reset link',
        description: 'The link works once and expires (400 invalid_token). Every session of the user ends: sign in with the new password.',
        body: z.object({ token, password }).strict(),
        response: { 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await app.loginLimits.attemptFromIp(request, reply);
      const reset = await findPasswordReset(app.db, request.body.token).catch(rethrowLink);
      assertStrongPassword(request.body.password, reset.user.email);
      const user = await confirmPasswordReset(app.db, request.body.token, request.body.password).catch(rethrowLink);
      request.log.info({ tenantId: user.tenantId, userId: user.id }, 'password reset');
      app.sessions.clearCookie(reply);
      return reply.code(204).send();
    },
  );

  app.post(
    '/invitation/accept',
    {
      schema: {
        tags,
        summary: 'Join a team with an invitation link, choosing a password (signs in)',
        description: `The link works once and expires (400 invalid_token); 409 user_exists when the email joined the team meanwhile. ${SIGNED_IN}`,
        body: z.object({ token, password, name: z.string().trim().min(1).max(200).optional() }).strict(),
        response: { 201: meSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      await app.loginLimits.attemptFromIp(request, reply);
      const invitation = await findPendingInvitation(app.db, request.body.token).catch(rethrowLink);
      assertStrongPassword(request.body.password, invitation.email);
      const user = await acceptInvitation(app.db, request.body.token, { password: request.body.password, name: request.body.name ?? null })
        .catch(rethrowLink)
        .catch(teamRuleError);
      const tenant = await app.db.tenant.findUniqueOrThrow({ where: { id: user.tenantId }, select: { id: true, name: true, slug: true } });
      const session = await app.sessions.start(request, reply, user);
      request.log.info({ tenantId: user.tenantId, userId: user.id, role: user.role, invitationId: invitation.id }, 'invitation accepted');
      return reply.code(201).send({ user: userView(user), tenant, ...session });
    },
  );
};

function rethrowLink(err: unknown): never {
  if (err instanceof InvalidTokenError) throw invalidLink();
  throw err;
}

export default authRoutes;
