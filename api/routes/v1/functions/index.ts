// The tenant's own functions the assistant may call (tool calling). The signing secret is
// write-only; every call the platform makes is signed with it (see activities/llm/functions.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  functionSchemas,
  functionView,
  createTenantFunction,
  MAX_FUNCTIONS_PER_TENANT,
  updateTenantFunction,
} from '../../../../lib/tenant-functions.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, idParams, noContent } from '../../../schemas/common.ts';

const functionSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  endpoint: z.string(),
  timeoutMs: z.number(),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const SIGNING =
  'Each call is a POST of {"function", "callId", "arguments"} with headers X-MetaChat-Timestamp (unix seconds) and ' +
  'X-MetaChat-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>. callId is stable across retries.';

const functionRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['functions'];
  const keyring = app.config.SECRETS_KEYS;
  const schemas = functionSchemas(app.config.ALLOW_INSECURE_TENANT_URLS);
  const notFound = () => new HttpError(404, 'not_found', 'Function not found');

  app.get(
    '/',
    { schema: { tags, summary: 'List functions by name', response: { 200: z.object({ items: z.array(functionSchema) }), ...errorResponses } } },
    async (request) => {
      const rows = await request.tenantDb.tenantFunction.findMany({ orderBy: { name: 'asc' } });
      return { items: rows.map(functionView) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register a function the assistant may call',
        description:
          `Arguments the model produces are validated against \`parameters\` (JSON Schema, type object) before any call. ${SIGNING} ` +
          "402 when the tenant's plan does not include functions (then no function or MCP tool is offered to the model either).",
        body: schemas.input,
        response: { 201: functionSchema, ...errorResponses, ...planFeatureResponses },
      },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'functions');
      if ((await request.tenantDb.tenantFunction.count()) >= MAX_FUNCTIONS_PER_TENANT) {
        throw new HttpError(409, 'quota_exceeded', `At most ${MAX_FUNCTIONS_PER_TENANT} functions per tenant`);
      }
      const created = await createTenantFunction(request.tenantDb, keyring, request.body, { allowHttp: app.config.ALLOW_INSECURE_TENANT_URLS }).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'P2002') throw new HttpError(409, 'conflict', `A function named "${request.body.name}" exists`);
        throw err;
      });
      request.log.info({ functionId: created.id, name: created.name }, 'function registered');
      return reply.status(201).send(functionView(created));
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a function', params: idParams, response: { 200: functionSchema, ...errorResponses } } },
    async (request) => {
      const f = await request.tenantDb.tenantFunction.findFirst({ where: { id: request.params.id } });
      if (!f) throw notFound();
      return functionView(f);
    },
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Update a function (a secret given replaces the stored one)',
        params: idParams,
        body: schemas.patch,
        response: { 200: functionSchema, ...errorResponses },
      },
    },
    async (request) => {
      const exists = await request.tenantDb.tenantFunction.findFirst({ where: { id: request.params.id }, select: { id: true } });
      if (!exists) throw notFound();
      const f = await updateTenantFunction(request.tenantDb, keyring, request.params.id, request.body);
      request.log.info({ functionId: f.id, fields: Object.keys(request.body) }, 'function updated');
      return functionView(f);
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Delete a function', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { count } = await request.tenantDb.tenantFunction.deleteMany({ where: { id: request.params.id } });
      if (count === 0) throw notFound();
      request.log.info({ functionId: request.params.id }, 'function deleted');
      return reply.status(204).send();
    },
  );
};

export default functionRoutes;
