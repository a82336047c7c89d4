// Who is calling. `Authorization: Bearer <key>` is either the platform operator's ADMIN_API_KEY
// (compared in constant time) or a tenant API key `mcp_<prefix>_<secret>` (found by prefix,
// proven by the SHA-256 of the secret). The route tree applies `app.authenticateAdmin` or
// `app.authenticateTenant` as an onRequest hook of a whole scope (api/routes/v1/index.ts), so no
// route can forget it. A tenant request gets `request.tenantDb`, the tenant-scoped client: the
// tenant comes from the key and handlers never see the raw db.
//
// Every failure is the same 401 with the same message (unknown, wrong, revoked, expired), so a
// caller learns nothing about which keys exist. Keys with scope `agent` may only use routes whose
// config says `allowAgentKey: true` (conversations); everything else answers 403.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyScope } from '../../../generated/prisma/client.ts';
import { apiKeyMatches, parseApiKey, safeEqual, sha256 } from '../../../lib/crypto.ts';
import { forTenant, type TenantDb } from '../../../lib/tenant-db.ts';
import { HttpError } from './errors.ts';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenantId: string; keyId: string; keyPrefix: string; scope: ApiKeyScope };

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

    app.decorate('authenticateAdmin', async (request: FastifyRequest) => {
      const key = bearer(request);
      if (!key || !safeEqual(key, app.config.ADMIN_API_KEY)) throw unauthorized();
      request.principal = { kind: 'admin' };
    });

    app.decorate('authenticateTenant', async (request: FastifyRequest) => {
      const key = bearer(request);
      const parsed = key ? parseApiKey(key) : undefined;
      if (!parsed) throw unauthorized();
      const row = await app.db.apiKey.findUnique({ where: { prefix: parsed.prefix } });
      const matches = apiKeyMatches(parsed.secret, row?.secretHash ?? DUMMY_HASH);
      const now = new Date();
      if (!row || !matches || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) throw unauthorized();

      request.principal = { kind: 'tenant', tenantId: row.tenantId, keyId: row.id, keyPrefix: row.prefix, scope: row.scope };
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
  { name: 'auth', dependencies: ['errors'] },
);
