// The signed-in user's own account, for every role: who am I (with the session's CSRF token),
// sign out, change the password, and the list of their sessions with a way to end each. Sessions
// only: an API key has no user, and answers 403 session_required.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hashPassword, verifyPassword } from '../../../../lib/passwords.ts';
import { endSession, endUserSessions, listSessions } from '../../../../lib/sessions.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import type { Principal } from '../../../plugins/app/auth.ts';
import { errorResponses, idParams, noContent } from '../../../schemas/common.ts';
import { assertStrongPassword, givenPassword, meSchema, password, sessionSchema, sessionView, userView } from '../../../schemas/team.ts';

type UserPrincipal = Extract<Principal, { kind: 'user' }>;

const meRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['account'];
  const config = { sessionOnly: true };
  const userOf = (principal: Principal | undefined): UserPrincipal => {
    if (principal?.kind !== 'user') throw new Error('a sessionOnly route without a signed-in user');
    return principal;
  };

  app.get(
    '/',
    { config, schema: { tags, summary: 'Who am I: the signed-in user, their role and tenant, and the CSRF token', response: { 200: meSchema, ...errorResponses } } },
    async (request) => {
      const me = userOf(request.principal);
      const [user, tenant] = await Promise.all([
        request.tenantDb.user.findUniqueOrThrow({ where: { id: me.userId } }),
        request.tenantDb.tenant.findUniqueOrThrow({ where: { id: me.tenantId }, select: { id: true, name: true, slug: true } }),
      ]);
      return { user: userView(user), tenant, sessionId: me.sessionId, csrfToken: me.csrfToken };
    },
  );

  app.delete(
    '/session',
    { config, schema: { tags, summary: 'Sign out: end this session', response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const me = userOf(request.principal);
      await endSession(request.tenantDb, me.userId, me.sessionId);
      app.sessions.clearCookie(reply);
      request.log.info({ sessionId: me.sessionId }, 'signed out');
      return reply.code(204).send();
    },
  );

  app.put(
    '/password',
    {
      config,
      schema: {
        tags,
        summary: 'Change my password (every other session of mine ends)',
        description: '403 wrong_password when currentPassword is not the password; failures count towards the account\'s lockout like failed sign-ins (429).',
        body: z.object({ currentPassword: givenPassword, newPassword: password }).strict(),
        response: { 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const me = userOf(request.principal);
      const user = await request.tenantDb.user.findUniqueOrThrow({ where: { id: me.userId }, include: { tenant: { select: { slug: true } } } });
      await app.loginLimits.attemptOnAccount(request, reply, user.tenant.slug, user.email);
      if (!(await verifyPassword(user.passwordHash, request.body.currentPassword))) {
        await app.loginLimits.failedOnAccount(request, user.tenant.slug, user.email);
        throw new HttpError(403, 'wrong_password', 'currentPassword is not your password');
      }
      assertStrongPassword(request.body.newPassword, user.email, 'newPassword');
      const passwordHash = await hashPassword(request.body.newPassword);
      await request.tenantDb.$transaction(async (tx) => {
        await tx.user.update({ where: { id: user.id }, data: { passwordHash, passwordChangedAt: new Date() } });
        await endUserSessions(tx, user.id, me.sessionId);
      });
      request.log.info('password changed');
      return reply.code(204).send();
    },
  );

  app.get(
    '/sessions',
    { config, schema: { tags, summary: 'My live sessions, most recently used first', response: { 200: z.object({ items: z.array(sessionSchema) }), ...errorResponses } } },
    async (request) => {
      const me = userOf(request.principal);
      const sessions = await listSessions(request.tenantDb, me.userId, app.sessions.policy);
      return { items: sessions.map((s) => sessionView(s, me.sessionId)) };
    },
  );

  app.delete(
    '/sessions/:id',
    { config, schema: { tags, summary: 'End one of my sessions (ending this one signs out)', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const me = userOf(request.principal);
      if (!(await endSession(request.tenantDb, me.userId, request.params.id))) throw new HttpError(404, 'not_found', 'Session not found');
      if (request.params.id === me.sessionId) app.sessions.clearCookie(reply);
      request.log.info({ sessionId: request.params.id }, 'session ended');
      return reply.code(204).send();
    },
  );
};

export default meRoutes;
