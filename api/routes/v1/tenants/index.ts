// Tenants, for the platform operator (admin key). Creating a tenant returns its first API key,
// shown once.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Tenant } from '../../../../generated/prisma/client.ts';
import { createTenant, TenantSlugTakenError } from '../../../../lib/tenants.ts';
import { validateStoredSettings } from '../../../../lib/tenant-settings.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorResponses, idParams, iso, page, paginationQuery, toPage } from '../../../schemas/common.ts';
import { issuedApiKey } from '../api-keys/index.ts';

const slug = z
  .string()
  .min(2)
  .max(63)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and inner hyphens');

export const tenantSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  slug: z.string(),
  settings: z.record(z.string(), z.unknown()),
  settingsVersion: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function tenantView(t: Tenant): z.infer<typeof tenantSchema> {
  return {
    id: t.id,
    name: t.name,
    slug: t.slug,
    settings: (t.settings ?? {}) as Record<string, unknown>,
    settingsVersion: t.settingsVersion,
    createdAt: iso(t.createdAt)!,
    updatedAt: iso(t.updatedAt)!,
  };
}

function settingsOrThrow(settings: unknown): Record<string, unknown> {
  try {
    return validateStoredSettings(settings);
  } catch (err) {
    if (err instanceof z.ZodError) throw new HttpError(400, 'validation_error', `Invalid settings: ${z.prettifyError(err)}`);
    throw err;
  }
}

const tenantRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['tenants (admin)'];

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Create a tenant and its first API key (the key is shown once)',
        body: z.object({ name: z.string().trim().min(1).max(200), slug, settings: z.record(z.string(), z.unknown()).optional() }).strict(),
        response: { 201: z.object({ tenant: tenantSchema, apiKey: issuedApiKey }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const settings = settingsOrThrow(request.body.settings ?? {});
      try {
        const { tenant, apiKey } = await createTenant(app.db, { ...request.body, settings });
        request.log.info({ tenantId: tenant.id, keyPrefix: apiKey.prefix }, 'tenant created');
        return reply.status(201).send({
          tenant: tenantView(tenant),
          apiKey: { ...apiKey, createdAt: iso(apiKey.createdAt)!, expiresAt: iso(apiKey.expiresAt) },
        });
      } catch (err) {
        if (err instanceof TenantSlugTakenError) throw new HttpError(409, 'conflict', err.message);
        throw err;
      }
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List tenants, newest first',
        querystring: paginationQuery.extend({ slug: z.string().max(63).optional() }).strict(),
        response: { 200: page(tenantSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor, slug: bySlug } = request.query;
      const rows = await app.db.tenant.findMany({
        where: { ...(bySlug ? { slug: bySlug } : {}), ...afterCursor('createdAt', cursor, { date: true }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const p = toPage(rows, limit, (t) => t.createdAt);
      return { items: p.items.map(tenantView), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a tenant', params: idParams, response: { 200: tenantSchema, ...errorResponses } } },
    async (request) => {
      const tenant = await app.db.tenant.findUnique({ where: { id: request.params.id } });
      if (!tenant) throw new HttpError(404, 'not_found', 'Tenant not found');
      return tenantView(tenant);
    },
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Rename a tenant or replace its settings',
        params: idParams,
        body: z.object({ name: z.string().trim().min(1).max(200).optional(), settings: z.record(z.string(), z.unknown()).optional() }).strict(),
        response: { 200: tenantSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { name, settings } = request.body;
      const data = {
        ...(name === undefined ? {} : { name }),
        ...(settings === undefined ? {} : { settings: settingsOrThrow(settings) as object, settingsVersion: { increment: 1 } }),
      };
      const { count } = await app.db.tenant.updateMany({ where: { id: request.params.id }, data });
      if (count === 0) throw new HttpError(404, 'not_found', 'Tenant not found');
      return tenantView(await app.db.tenant.findUniqueOrThrow({ where: { id: request.params.id } }));
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Delete a tenant and all its data', params: idParams, response: { 204: z.null(), ...errorResponses } } },
    async (request, reply) => {
      const { count } = await app.db.tenant.deleteMany({ where: { id: request.params.id } });
      if (count === 0) throw new HttpError(404, 'not_found', 'Tenant not found');
      request.log.info({ tenantId: request.params.id }, 'tenant deleted');
      return reply.status(204).send(null);
    },
  );
};

export default tenantRoutes;
