// Tenants, for the platform operator (admin key). Creating a tenant returns its first API key,
// shown once. Deleting one removes its rows at once and starts workflows/tenant-cleanup.ts for
// what lies outside Postgres (running workflows, stored files).
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Tenant } from '../../../../generated/prisma/client.ts';
import { replaceSettings } from '../../../../lib/settings-versions.ts';
import { forTenant } from '../../../../lib/tenant-db.ts';
import { createTenant, TenantSlugTakenError } from '../../../../lib/tenants.ts';
import { validateStoredSettings } from '../../../../lib/tenant-settings.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { tenantCleanup, tenantCleanupWorkflowId } from '../../../../workflows/tenant-cleanup.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';
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
      const id = request.params.id;
      const stored = settings === undefined ? undefined : settingsOrThrow(settings);
      if (!(await app.db.tenant.findUnique({ where: { id }, select: { id: true } }))) throw new HttpError(404, 'not_found', 'Tenant not found');
      // Through the settings' history (author: platform), like the tenant's own writes.
      try {
        if (stored !== undefined) await replaceSettings(forTenant(app.db, id), id, stored);
        if (name !== undefined) await app.db.tenant.update({ where: { id }, data: { name } });
        return tenantView(await app.db.tenant.findUniqueOrThrow({ where: { id } }));
      } catch (err) {
        // Deleted meanwhile.
        if ((err as { code?: string }).code === 'P2025') throw new HttpError(404, 'not_found', 'Tenant not found');
        throw err;
      }
    },
  );

  /** How long deleting a tenant waits for Temporal to take its cleanup. */
  const CLEANUP_START_DEADLINE_MS = 5_000;

  app.delete(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Delete a tenant and all its data',
        description:
          'Its rows go at once; its running workflows are terminated and its stored files deleted in the background (workflow `tenant-cleanup:{id}`). ' +
          '503 when Temporal cannot take that cleanup: nothing is deleted, retry later.',
        params: idParams,
        response: { 204: noContent, ...errorResponses, 503: errorBody },
      },
    },
    async (request, reply) => {
      const tenantId = request.params.id;
      // The cleanup starts inside the deleting transaction: if Temporal cannot take it, the rows
      // stay (rollback), and a cleanup started for a transaction that then fails finds the
      // tenant still there and touches nothing.
      const deleted = await app.db.$transaction(
        async (tx) => {
          const { count } = await tx.tenant.deleteMany({ where: { id: tenantId } });
          if (count === 0) return false;
          try {
            await app.temporal.connection.withDeadline(Date.now() + CLEANUP_START_DEADLINE_MS, () =>
              app.temporal.workflow.start(tenantCleanup, {
                workflowId: tenantCleanupWorkflowId(tenantId),
                taskQueue: taskQueueName(app.config, 'maintenance'),
                args: [{ tenantId }],
                // A cleanup left by an earlier attempt whose transaction failed gives way.
                workflowIdConflictPolicy: 'TERMINATE_EXISTING',
              }),
            );
          } catch (err) {
            request.log.warn({ err, tenantId }, 'could not start the cleanup of a deleted tenant');
            if (err instanceof ServiceError || isGrpcServiceError(err)) throw new HttpError(503, 'temporal_unavailable', 'The tenant could not be deleted right now; nothing was deleted; retry later');
            throw err;
          }
          return true;
        },
        { timeout: app.config.DATABASE_STATEMENT_TIMEOUT_MS + CLEANUP_START_DEADLINE_MS },
      );
      if (!deleted) throw new HttpError(404, 'not_found', 'Tenant not found');
      request.log.info({ tenantId }, 'tenant deleted');
      return reply.status(204).send();
    },
  );
};

export default tenantRoutes;
