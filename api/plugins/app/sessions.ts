// Sessions of signed-in users, as the browser sees them: the `__Host-metachat_session` cookie
// (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain: the __Host- prefix makes browsers refuse it
// otherwise, so no subdomain can set or overwrite it), its CSRF token, and the periodic deletion of
// ended sessions' rows. Authentication by the cookie is in auth.ts; the rows in lib/sessions.ts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { User } from '../../../generated/prisma/client.ts';
import { csrfTokenOf } from '../../../lib/auth-tokens.ts';
import { createSession, deleteEndedSessions, sessionPolicy, type SessionPolicy } from '../../../lib/sessions.ts';

export const SESSION_COOKIE = '__Host-metachat_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Rows of ended sessions are deleted at most this often per process (at a sign-in). */
const SWEEP_EVERY_MS = 60_000;

declare module 'fastify' {
  interface FastifyInstance {
    sessions: {
      policy: SessionPolicy;
      /** Signs the user in: a new session, its cookie on the reply; returns the session's id and CSRF token. */
      start(request: FastifyRequest, reply: FastifyReply, user: Pick<User, 'id' | 'tenantId'>): Promise<{ sessionId: string; csrfToken: string }>;
      /** Tells the browser to drop the cookie. */
      clearCookie(reply: FastifyReply): void;
    };
  }
}

export default fp(
  async (app) => {
    const policy = sessionPolicy(app.config);
    let lastSweep = 0;

    function sweep(request: FastifyRequest): void {
      if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
      lastSweep = Date.now();
      deleteEndedSessions(app.db, policy).catch((err: unknown) => {
        lastSweep = 0;
        request.log.warn({ err }, 'could not delete ended sessions');
      });
    }

    app.decorate('sessions', {
      policy,
      async start(request: FastifyRequest, reply: FastifyReply, user: Pick<User, 'id' | 'tenantId'>) {
        const userAgent = request.headers['user-agent'];
        const { token, session } = await createSession(app.db, user, { userAgent, ip: request.ip }, policy);
        reply.setCookie(SESSION_COOKIE, token, {
          path: '/',
          httpOnly: true,
          secure: true,
          sameSite: 'lax',
          maxAge: Math.floor(policy.maxAgeMs / 1000),
        });
        sweep(request);
        return { sessionId: session.id, csrfToken: csrfTokenOf(token) };
      },
      clearCookie(reply: FastifyReply) {
        reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'lax' });
      },
    });
  },
  { name: 'sessions', dependencies: ['cookie'] },
);
