// Who is calling. `Authorization: Bearer <key>` is either the platform operator's ADMIN_API_KEY
// (compared in constant time) or a tenant API key `mcp_<prefix>_<secret>` (found by prefix,
// proven by the SHA-256 of the secret). The route tree applies `app.authenticateAdmin` or
// `app.authenticateTenant` as an onRequest hook of a whole scope (api/routes/v1/index.ts), so no
// route can forget it. A tenant request gets `request.tenantDb`, the tenant-scoped client: the
// tenant comes from the key and handlers never see the raw db.
//
// Every failure is the same 401 with the same message (unknown, wrong, revoked, expired), so a
// caller learns nothing about which keys exist. Failed Bearer attempts are counted per client IP
// (app.authFailures, api/plugins/external/rate-limit.ts): an IP that has used up
// RATE_LIMIT_AUTH_FAILURES_PER_MINUTE gets 429 with Retry-After, its key not even looked up. Keys with scope `agent` may only use routes whose
// config says `allowAgentKey: true` (conversations); everything else answers 403.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyScope } from '../../../generated/prisma/client.ts';
import { apiKeyMatches, parseApiKey, safeEqual, sha256 } from '../../../lib/crypto.ts';
import { forTenant, type TenantDb } from '../../../lib/tenant-db.ts';
import { HttpError } from './errors.ts';

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
    };

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: the caller must hold ADMIN_API_KEY. */
    authenticateAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** onRequest hook: the caller must hold a live tenant API key. */
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
    /** Lets keys of scope `agent` call this route (default: only `tenant` keys). */
    allowAgentKey?: boolean;
  }
}

/** last_used_at is written at most this often per key, and never on the request's path. */
export const LAST_USED_RESOLUTION_MS = 5 * 60 * 1000;

const UNAUTHORIZED = 'Missing or invalid API key';
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
        if (principal?.kind !== 'tenant') throw new Error('request.tenantDb used outside a tenant-authenticated route');
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
        if (principal?.kind !== 'tenant') throw new Error('request.tenantId used outside a tenant-authenticated route');
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

    app.decorate('authenticateTenant', async (request: FastifyRequest, reply: FastifyReply) => {
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
      if (row.scope !== 'tenant' && !request.routeOptions.config?.allowAgentKey) {
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
  { name: 'auth', dependencies: ['errors', 'rate-limit'] },
);
