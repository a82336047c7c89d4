// Who is calling. `Authorization: Bearer <key>` is either the platform operator's ADMIN_API_KEY
// (compared in constant time) or a tenant API key `mcp_<prefix>_<secret>` (found by prefix,
// proven by the SHA-256 of the secret). Without a Bearer header, a tenant route also takes the
// session cookie of a signed-in user (api/plugins/app/sessions.ts); when both are sent, the Bearer
// key wins and the cookie is not looked at. The route tree applies `app.authenticateAdmin` or
// `app.authenticateTenant` as an onRequest hook of a whole scope (api/routes/v1/index.ts), so no
// route can forget it. A tenant request gets `request.tenantDb`, the tenant-scoped client: the
// tenant comes from the key or the session, and handlers never see the raw db.
//
// Every key failure is the same 401 with the same message (unknown, wrong, revoked, expired), so a
// caller learns nothing about which keys exist. Failed Bearer attempts are counted per client IP
// (app.authFailures, api/plugins/external/rate-limit.ts): an IP that has used up
// RATE_LIMIT_AUTH_FAILURES_PER_MINUTE gets 429 with Retry-After, its key not even looked up. A
// session cookie that names no live session is a 401 too, not counted (a 256-bit token is not
// guessed, and a browser keeps sending an ended session's cookie until it is told to drop it).
//
// What each caller may use (route config):
//   tenant key, owner, admin   every tenant route but the ones below
//   agent key, agent           routes with `allowAgentKey: true` (conversations)
//   signed-in users only       routes with `sessionOnly: true` (their own account), any role
//   owners and admins only     routes with `teamAdmin: true` (the team), never a key
// Anything else answers 403. A state-changing request (not GET/HEAD/OPTIONS) made with the cookie
// must carry the session's CSRF token in X-CSRF-Token (403 csrf_token_invalid otherwise): it is
// derived from the session token (lib/auth-tokens.ts) and given by GET /api/v1/me and at sign-in.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyScope, UserRole } from '../../../generated/prisma/client.ts';
import { csrfTokenMatches, csrfTokenOf } from '../../../lib/auth-tokens.ts';
import { apiKeyMatches, parseApiKey, safeEqual, sha256 } from '../../../lib/crypto.ts';
import { findSession, touchSession } from '../../../lib/sessions.ts';
import { forTenant, type TenantDb } from '../../../lib/tenant-db.ts';
import { HttpError } from './errors.ts';
import { CSRF_HEADER, SESSION_COOKIE } from './sessions.ts';

export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'tenant';
      tenantId: string;
      keyId: string;
      keyPrefix: string;
      scope: ApiKeyScope;
      /** Scope `agent`: the human agent the key is bound to (null: a tenant key, or an agent key from before binding). */
      agentId: string | null;
    }
  | {
      /** A signed-in user of a tenant (the session cookie). */
      kind: 'user';
      tenantId: string;
      userId: string;
      role: UserRole;
      sessionId: string;
      csrfToken: string;
    };

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: the caller must hold ADMIN_API_KEY. */
    authenticateAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** onRequest hook: the caller must hold a live tenant API key or a signed-in user's session, allowed on the route. */
    authenticateTenant: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** The tenant-scoped client of the authenticated tenant (throws outside tenant routes). */
    readonly tenantDb: TenantDb;
    /** The authenticated tenant's id (throws outside tenant routes). */
    readonly tenantId: string;
  }
  interface FastifyContextConfig {
    /** Lets keys of scope `agent`, and signed-in users of role `agent`, call this route (default: tenant keys, owners and admins). */
    allowAgentKey?: boolean;
    /** Only signed-in users may call this route (their own account); API keys answer 403. */
    sessionOnly?: boolean;
    /** Only signed-in owners and admins may call this route (team management); keys and agents answer 403. */
    teamAdmin?: boolean;
  }
}

/** last_used_at is written at most this often per key, and never on the request's path. */
export const LAST_USED_RESOLUTION_MS = 5 * 60 * 1000;

const UNAUTHORIZED = 'Missing or invalid API key';
const SESSION_ENDED = 'The session has ended or is not valid: sign in again';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Compared against when a prefix is unknown, so that unknown and wrong keys take the same time. */
const DUMMY_HASH = sha256('not-a-key');

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header);
  return match?.[1];
}

function unauthorized(): HttpError {
  return new HttpError(401, 'unauthorized', UNAUTHORIZED);
}

const tenantDbs = new WeakMap<FastifyRequest, TenantDb>();

export default fp(
  async (app) => {
    app.decorateRequest('principal', undefined);
    app.decorateRequest('tenantDb', {
      getter(this: FastifyRequest) {
        const principal = this.principal;
        if (principal?.kind !== 'tenant' && principal?.kind !== 'user') throw new Error('request.tenantDb used outside a tenant-authenticated route');
        let tdb = tenantDbs.get(this);
        if (!tdb) {
          tdb = forTenant(app.db, principal.tenantId);
          tenantDbs.set(this, tdb);
        }
        return tdb;
      },
    });
    app.decorateRequest('tenantId', {
      getter(this: FastifyRequest) {
        const principal = this.principal;
        if (principal?.kind !== 'tenant' && principal?.kind !== 'user') throw new Error('request.tenantId used outside a tenant-authenticated route');
        return principal.tenantId;
      },
    });

    /** A request that sends credentials must come from an IP with failed attempts left. */
    async function gate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (request.headers.authorization !== undefined) await app.authFailures.assertAllowed(request, reply);
    }

    /** The 401 of a failed attempt, counted when credentials were sent (a bare request costs nothing). */
    async function refuse(request: FastifyRequest): Promise<never> {
      if (request.headers.authorization !== undefined) await app.authFailures.record(request);
      throw unauthorized();
    }

    app.decorate('authenticateAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
      await gate(request, reply);
      const key = bearer(request);
      if (!key || !safeEqual(key, app.config.ADMIN_API_KEY)) return refuse(request);
      request.principal = { kind: 'admin' };
    });

    /** A signed-in user's request: the live session the cookie names, allowed on the route. */
    async function authenticateSession(request: FastifyRequest, token: string | undefined): Promise<void> {
      const now = new Date();
      const session = await findSession(app.db, token, app.sessions.policy, now);
      if (!session || token === undefined) throw new HttpError(401, 'unauthorized', SESSION_ENDED);
      const { user } = session;
      if (!SAFE_METHODS.has(request.method) && !csrfTokenMatches(token, request.headers[CSRF_HEADER])) {
        throw new HttpError(403, 'csrf_token_invalid', `A request made with the session cookie must send the session's CSRF token in ${CSRF_HEADER} (GET /api/v1/me gives it)`);
      }
      request.principal = { kind: 'user', tenantId: user.tenantId, userId: user.id, role: user.role, sessionId: session.id, csrfToken: csrfTokenOf(token) };
      request.log = request.log.child({ tenantId: user.tenantId, userId: user.id });
      const config = request.routeOptions.config;
      if (user.role === 'agent' && !config?.allowAgentKey && !config?.sessionOnly) {
        throw new HttpError(403, 'forbidden', 'An agent can use the conversation routes and their own account only');
      }
      // Fire and forget, like a key's last use: the idle clock moves once a minute at most.
      touchSession(app.db, session, now).catch((err: unknown) => request.log.warn({ err }, 'could not record session use'));
    }

    app.decorate('authenticateTenant', async (request: FastifyRequest, reply: FastifyReply) => {
      // Bearer wins: the cookie is only read when no Authorization header is sent.
      if (request.headers.authorization === undefined && request.cookies[SESSION_COOKIE] !== undefined) {
        return authenticateSession(request, request.cookies[SESSION_COOKIE]);
      }
      await gate(request, reply);
      const key = bearer(request);
      const parsed = key ? parseApiKey(key) : undefined;
      if (!parsed) return refuse(request);
      const row = await app.db.apiKey.findUnique({ where: { prefix: parsed.prefix } });
      const matches = apiKeyMatches(parsed.secret, row?.secretHash ?? DUMMY_HASH);
      const now = new Date();
      if (!row || !matches || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return refuse(request);

      request.principal = { kind: 'tenant', tenantId: row.tenantId, keyId: row.id, keyPrefix: row.prefix, scope: row.scope, agentId: row.agentId };
      request.log = request.log.child({ tenantId: row.tenantId });
      const config = request.routeOptions.config;
      if (config?.sessionOnly || config?.teamAdmin) {
        throw new HttpError(403, 'session_required', 'This route is for signed-in users: API keys cannot use it');
      }
      if (row.scope !== 'tenant' && !config?.allowAgentKey) {
        throw new HttpError(403, 'forbidden', `A key of scope "${row.scope}" cannot use this route`);
      }

      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        // Fire and forget: the conditional update makes concurrent requests write once at most.
        const stale = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
        app.db.apiKey
          .updateMany({ where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: stale } }] }, data: { lastUsedAt: now } })
          .catch((err: unknown) => request.log.warn({ err }, 'could not record api key use'));
      }
    });
  },
  { name: 'auth', dependencies: ['errors', 'rate-limit', 'cookie', 'sessions'] },
);
