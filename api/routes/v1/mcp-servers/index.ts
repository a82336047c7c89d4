// The tenant's Model Context Protocol servers, whose tools the assistant may call beside the
// tenant's functions (see lib/mcp-servers.ts for names and clashes, activities/mcp.ts for calls).
// The URL and the header values are write-only.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refreshMcpServerTools } from '../../../../lib/mcp-discovery.ts';
import { createMcpServer, MAX_MCP_SERVERS_PER_TENANT, mcpServerSchemas, mcpServerView, updateMcpServer } from '../../../../lib/mcp-servers.ts';
import { tenantDispatcher } from '../../../../lib/tenant-urls.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, idParams, noContent } from '../../../schemas/common.ts';

const mcpServerSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  /** The URL's host only: the rest of the URL may carry a token. */
  host: z.string(),
  headerNames: z.array(z.string()),
  timeoutMs: z.number(),
  enabled: z.boolean(),
  tools: z.array(z.object({ name: z.string(), offeredAs: z.string(), description: z.string() })),
  toolsError: z.string().nullable(),
  toolsRefreshedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const ABOUT =
  'Streamable HTTP transport. Tools are listed on registration, on POST /{id}/refresh and again by the assistant when the list is older than 5 minutes; ' +
  'each is offered to the model as "<server name>_<tool name>" unless a built-in tool or a tenant function has that name. ' +
  'Input schemas must be JSON Schemas with "type": "object"; tools that break the rules are left out and named in toolsError. ' +
  'HTTPS only; loopback, private and link-local addresses are refused (unless ALLOW_INSECURE_TENANT_URLS, for development). ' +
  "Registering answers 402 when the tenant's plan does not include functions (the plan feature MCP tools belong to).";

const mcpServerRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['mcp-servers'];
  const keyring = app.config.SECRETS_KEYS;
  const allowInsecure = app.config.ALLOW_INSECURE_TENANT_URLS;
  const schemas = mcpServerSchemas(allowInsecure);
  const connections = tenantDispatcher({ allowInsecure });
  app.addHook('onClose', () => connections.close());
  const notFound = () => new HttpError(404, 'not_found', 'MCP server not found');
  const discover = (request: { tenantDb: Parameters<typeof refreshMcpServerTools>[0]; log: { debug: (o: object, m: string) => void } }, server: Parameters<typeof refreshMcpServerTools>[2]) =>
    refreshMcpServerTools(request.tenantDb, keyring, server, { connections, allowInsecure, debug: (m, f) => request.log.debug(f, m) });

  app.get(
    '/',
    { schema: { tags, summary: 'List MCP servers by name', response: { 200: z.object({ items: z.array(mcpServerSchema) }), ...errorResponses } } },
    async (request) => {
      const rows = await request.tenantDb.mcpServer.findMany({ orderBy: { name: 'asc' } });
      return { items: rows.map((s) => mcpServerView(keyring, s)) };
    },
  );

  app.post(
    '/',
    { schema: { tags, summary: 'Register an MCP server and list its tools', description: ABOUT, body: schemas.input, response: { 201: mcpServerSchema, ...errorResponses, ...planFeatureResponses } } },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'functions');
      if ((await request.tenantDb.mcpServer.count()) >= MAX_MCP_SERVERS_PER_TENANT) {
        throw new HttpError(409, 'quota_exceeded', `At most ${MAX_MCP_SERVERS_PER_TENANT} MCP servers per tenant`);
      }
      const created = await createMcpServer(request.tenantDb, keyring, request.body, { allowHttp: allowInsecure }).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'P2002') throw new HttpError(409, 'conflict', `An MCP server named "${request.body.name}" exists`);
        throw err;
      });
      request.log.info({ mcpServerId: created.id, name: created.name }, 'mcp server registered');
      return reply.status(201).send(mcpServerView(keyring, await discover(request, created)));
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get an MCP server and its cached tools', params: idParams, response: { 200: mcpServerSchema, ...errorResponses } } },
    async (request) => {
      const s = await request.tenantDb.mcpServer.findFirst({ where: { id: request.params.id } });
      if (!s) throw notFound();
      return mcpServerView(keyring, s);
    },
  );

  app.post(
    '/:id/refresh',
    { schema: { tags, summary: "List the server's tools again now", params: idParams, response: { 200: mcpServerSchema, ...errorResponses } } },
    async (request) => {
      const s = await request.tenantDb.mcpServer.findFirst({ where: { id: request.params.id } });
      if (!s) throw notFound();
      return mcpServerView(keyring, await discover(request, s));
    },
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Update an MCP server (a URL or headers given replace the stored ones and list the tools again)',
        params: idParams,
        body: schemas.patch,
        response: { 200: mcpServerSchema, ...errorResponses },
      },
    },
    async (request) => {
      const s = await request.tenantDb.mcpServer.findFirst({ where: { id: request.params.id } });
      if (!s) throw notFound();
      let updated = await updateMcpServer(request.tenantDb, keyring, s, request.body);
      if (request.body.url !== undefined || request.body.headers !== undefined) updated = await discover(request, updated);
      request.log.info({ mcpServerId: s.id, fields: Object.keys(request.body) }, 'mcp server updated');
      return mcpServerView(keyring, updated);
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Delete an MCP server', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { count } = await request.tenantDb.mcpServer.deleteMany({ where: { id: request.params.id } });
      if (count === 0) throw notFound();
      request.log.info({ mcpServerId: request.params.id }, 'mcp server deleted');
      return reply.status(204).send();
    },
  );
};

export default mcpServerRoutes;
