// The tenant's API keys: list (never the key itself), create and rotate (the new key is shown
// once; a rotated key keeps working for a grace period, and the new one keeps the old one's
// agent and expiry), revoke. A key of scope `agent` is bound to one human agent (`agentId`,
// required at creation): the handoff routes act as that agent only. A tenant holds at most
// API_KEYS_PER_TENANT live keys (409 api_key_limit beyond): every key has its own rate-limit
// budget, so unlimited keys would multiply it.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiKey } from '../../../../generated/prisma/client.ts';
import { ApiKeyLimitError, createApiKey, DEFAULT_ROTATION_GRACE_SECONDS, MAX_ROTATION_GRACE_SECONDS, revokeApiKey, rotateApiKey, type IssuedApiKey } from '../../../../lib/tenants.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';

const scope = z.enum(['tenant', 'agent']).describe('tenant: everything; agent: conversations only');
const boundAgent = z.string().nullable().describe('Scope agent: the human agent the key acts as on the handoff routes; null for tenant keys');

export const issuedApiKey = z.object({
  id: z.uuid(),
  key: z.string().describe('The API key. Shown once: store it now.'),
  prefix: z.string(),
  name: z.string(),
  scope,
  agentId: boundAgent,
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});

const apiKeySchema = z.object({
  id: z.uuid(),
  prefix: z.string(),
  name: z.string(),
  scope,
  agentId: boundAgent,
  status: z.enum(['active', 'expiring', 'expired', 'revoked']),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

function keyView(k: ApiKey, now = new Date()): z.infer<typeof apiKeySchema> {
  const status = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= now ? 'expired' : k.expiresAt ? 'expiring' : 'active';
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    scope: k.scope,
    agentId: k.agentId,
    status,
    createdAt: iso(k.createdAt)!,
    lastUsedAt: iso(k.lastUsedAt),
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
  };
}

function issuedView(k: IssuedApiKey): z.infer<typeof issuedApiKey> {
  return { ...k, createdAt: iso(k.createdAt)!, expiresAt: iso(k.expiresAt) };
}

const apiKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['api-keys'];
  const keyLimit = (tenantId: string) => ({ tenantId, maxLive: app.config.API_KEYS_PER_TENANT });
  const limitError = (err: unknown): never => {
    if (err instanceof ApiKeyLimitError) throw new HttpError(409, 'api_key_limit', `A tenant may hold at most ${err.limit} live API keys; revoke one first`);
    throw err;
  };

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: "List the tenant's API keys, newest first",
        querystring: paginationQuery.extend({ status: z.enum(['live', 'all']).default('live').describe('live: neither revoked nor expired') }).strict(),
        response: { 200: page(apiKeySchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor, status } = request.query;
      const now = new Date();
      const live = status === 'live' ? { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] } : {};
      const rows = await request.tenantDb.apiKey.findMany({
        where: { AND: [live, afterCursor('createdAt', cursor, { date: true })] },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const p = toPage(rows, limit, (k) => k.createdAt);
      return { items: p.items.map((k) => keyView(k, now)), nextCursor: p.nextCursor };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Create an API key (shown once)',
        body: z
          .object({
            name: z.string().trim().min(1).max(120),
            scope: scope.default('tenant'),
            agentId: z.string().trim().min(1).max(200).optional().describe('Required for scope agent: the human agent the key acts as (your system\'s id for them)'),
            expiresInDays: z.number().int().min(1).max(3650).optional().describe('Unset: the key never expires'),
          })
          .strict()
          .refine((b) => (b.scope === 'agent') === (b.agentId !== undefined), {
            path: ['agentId'],
            message: 'agentId is required for a key of scope agent, and only for one',
          }),
        description: 'At most API_KEYS_PER_TENANT live keys per tenant: 409 api_key_limit beyond (revoke one first). A key of scope agent is bound to `agentId`.',
        response: { 201: issuedApiKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name, scope: s, agentId, expiresInDays } = request.body;
      const expiresAt = expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null;
      const key = await createApiKey(request.tenantDb, { name, scope: s, agentId: agentId ?? null, expiresAt }, keyLimit(request.tenantId)).catch(limitError);
      request.log.info({ keyPrefix: key.prefix }, 'api key created');
      return reply.status(201).send(issuedView(key));
    },
  );

  app.post(
    '/:id/rotate',
    {
      schema: {
        tags,
        summary: 'Rotate a key: a new key is returned once; the old one keeps working for the grace period',
        description: 'The new key keeps the old one\'s name, scope, agent and expiry. 409 api_key_limit: the tenant\'s other live keys (those in a grace period included) already reach API_KEYS_PER_TENANT.',
        params: idParams,
        body: z
          .object({
            graceSeconds: z
              .number()
              .int()
              .min(0)
              .max(MAX_ROTATION_GRACE_SECONDS)
              .default(DEFAULT_ROTATION_GRACE_SECONDS)
              .describe('How long the old key keeps working (default 24 h, at most 7 days; 0 ends it now)'),
          })
          .strict()
          .default({ graceSeconds: DEFAULT_ROTATION_GRACE_SECONDS }),
        response: { 201: z.object({ apiKey: issuedApiKey, previous: z.object({ id: z.uuid(), expiresAt: z.string() }) }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const grace = request.body?.graceSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
      const rotated = await rotateApiKey(request.tenantDb, request.params.id, grace, new Date(), keyLimit(request.tenantId)).catch(limitError);
      if (!rotated) throw new HttpError(404, 'not_found', 'API key not found (or already revoked or expired)');
      request.log.info({ keyPrefix: rotated.apiKey.prefix, previousKeyId: rotated.previous.id }, 'api key rotated');
      return reply.status(201).send({ apiKey: issuedView(rotated.apiKey), previous: { id: rotated.previous.id, expiresAt: iso(rotated.previous.expiresAt)! } });
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Revoke a key at once', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      if (!(await revokeApiKey(request.tenantDb, request.params.id))) throw new HttpError(404, 'not_found', 'API key not found');
      request.log.info({ keyId: request.params.id }, 'api key revoked');
      return reply.status(204).send();
    },
  );
};

export default apiKeyRoutes;
