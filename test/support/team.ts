// Team accounts for the tests: users made directly (their password hashed as the API does), and
// signed-in sessions, either through POST /api/v1/auth/session or made directly (no argon2 run)
// for the table-driven suites.
import type { App } from '../../api/app.ts';
import { SESSION_COOKIE } from '../../api/plugins/app/sessions.ts';
import type { Prisma, User, UserRole } from '../../generated/prisma/client.ts';
import { csrfTokenOf } from '../../lib/auth-tokens.ts';
import type { Db } from '../../lib/db.ts';
import { hashPassword } from '../../lib/passwords.ts';
import { createSession, sessionPolicy } from '../../lib/sessions.ts';
import { forTenant, tenantData } from '../../lib/tenant-db.ts';
import type { Config } from '../../lib/config.ts';

export const TEST_PASSWORD = 'a long and unusual passphrase';

export interface TestSession {
  /** The Cookie header's value. */
  cookie: string;
  csrfToken: string;
  sessionId: string;
  /** The session token itself (a secret: must never be logged). */
  token: string;
}

export async function createUser(db: Db, tenantId: string, input: { email: string; role: UserRole; password?: string; name?: string }): Promise<User> {
  return forTenant(db, tenantId).user.create({
    data: tenantData<Prisma.UserUncheckedCreateInput>({ email: input.email, role: input.role, name: input.name ?? null, passwordHash: await hashPassword(input.password ?? TEST_PASSWORD) }),
  });
}

/** A session made directly, as a sign-in would make it. */
export async function sessionFor(db: Db, config: Config, user: Pick<User, 'id' | 'tenantId'>): Promise<TestSession> {
  const { token, session } = await createSession(db, user, { userAgent: 'test' }, sessionPolicy(config));
  return { cookie: `${SESSION_COOKIE}=${token}`, csrfToken: csrfTokenOf(token), sessionId: session.id, token };
}

/** The headers of a request made with the session (the CSRF token included unless told otherwise). */
export function withSession(session: TestSession, csrf = true): Record<string, string> {
  return { cookie: session.cookie, ...(csrf ? { 'x-csrf-token': session.csrfToken } : {}) };
}

/** The session cookie's value from a Set-Cookie header, or undefined. */
export function sessionCookieOf(setCookie: string | string[] | undefined): string | undefined {
  const line = [setCookie ?? []].flat().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  return line?.split(';')[0]!.slice(SESSION_COOKIE.length + 1);
}

/** Signs in through the API; the answer, and the session when it succeeded. */
export async function signIn(app: App, body: { tenant: string; email: string; password: string }, remoteAddress = '127.0.0.1') {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: body, remoteAddress });
  const token = sessionCookieOf(res.headers['set-cookie']);
  const session: TestSession | undefined =
    res.statusCode === 200 && token ? { cookie: `${SESSION_COOKIE}=${token}`, csrfToken: res.json().csrfToken, sessionId: res.json().sessionId, token } : undefined;
  return { res, session };
}

/** The token of a link made by the API (`…#token=<token>`). */
export function tokenOfLink(link: string): string {
  const match = /#token=([A-Za-z0-9_-]+)$/.exec(link);
  if (!match) throw new Error(`not a link with a token: ${link}`);
  return match[1]!;
}
