// /api/v1. Two authenticated scopes, each by one onRequest hook for its whole subtree, so no
// route can forget authentication, and one without:
// - admin (ADMIN_API_KEY): tenants, and platform operations (register admin routes here);
// - tenant (a tenant API key, or a signed-in user's session cookie): everything a tenant
//   manages. Handlers use `request.tenantDb`, the tenant-scoped client; agent keys and agents
//   reach only routes with `config: { allowAgentKey: true }`, the signed-in user's own account
//   is `sessionOnly`, the team `teamAdmin` (api/plugins/app/auth.ts);
// - auth: signing in and the links that set a password, taken without credentials and limited
//   per IP and per account instead (api/routes/v1/auth).
// Each scope documents its own security in the OpenAPI document.
// Bodies are limited to 64 KiB unless a route sets its own bodyLimit (e.g. document uploads);
// text containing NUL is refused with a 400 (Postgres cannot store it).
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { HttpError } from '../../plugins/app/errors.ts';
import { errorBody } from '../../schemas/common.ts';
import integrityRoutes from './admin/integrity.ts';
import analyticsRoutes from './analytics/index.ts';
import apiKeyRoutes from './api-keys/index.ts';
import billingRoutes from './billing/index.ts';
import operatorBillingRoutes from './billing/operators.ts';
import campaignRoutes from './campaigns/index.ts';
import authRoutes from './auth/index.ts';
import channelRoutes from './channels/index.ts';
import conversationRoutes from './conversations/index.ts';
import documentRoutes from './documents/index.ts';
import endUserRoutes from './end-users/index.ts';
import evaluationRoutes from './evaluations/index.ts';
import functionRoutes from './functions/index.ts';
import mcpServerRoutes from './mcp-servers/index.ts';
import llmCredentialRoutes from './llm-credentials/index.ts';
import handoffRoutes from './handoff/index.ts';
import meRoutes from './me/index.ts';
import optOutRoutes from './opt-outs/index.ts';
import playgroundRoutes from './playground/index.ts';
import settingsRoutes from './settings/index.ts';
import teamRoutes from './team/index.ts';
import templateMessageRoutes from './template-messages/index.ts';
import templateRoutes from './templates/index.ts';
import tenantRoutes from './tenants/index.ts';
import tenantInvitationRoutes from './tenants/invitations.ts';
import usageRoutes from './usage/index.ts';
import webhookDeliveryRoutes from './webhook-endpoints/deliveries.ts';
import webhookEndpointRoutes from './webhook-endpoints/index.ts';

export const API_BODY_LIMIT = 64 * 1024;

type Security = Record<string, string[]>[];
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A tenant route's security: a key, or the session cookie (with its CSRF header when it changes anything). */
function tenantSecurity(method: string | string[], config: { sessionOnly?: boolean; teamAdmin?: boolean } | undefined): Security {
  const session: Record<string, string[]> = [method].flat().some((m) => UNSAFE_METHODS.has(m)) ? { session: [], csrf: [] } : { session: [] };
  return config?.sessionOnly || config?.teamAdmin ? [session] : [{ bearer: [] }, session];
}

/** Documents the scope's security on each of its routes that has a schema (and is not hidden). */
function documentSecurity(scope: { addHook: FastifyInstance['addHook'] }, security: (route: RouteOptions) => Security): void {
  scope.addHook('onRoute', (route) => {
    if (route.schema && !route.schema.hide) route.schema = { security: security(route), ...route.schema };
  });
}

/** Postgres text and jsonb cannot hold U+0000: such input is refused up front, not by a 500. */
function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  for (const [k, v] of Object.entries(value)) if (k.includes('\u0000') || containsNul(v, depth + 1)) return true;
  return false;
}

const v1: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= API_BODY_LIMIT;
    // The router answers 414 for a path parameter over its length limit (frameworkErrorReply).
    if (route.schema?.response && route.url.includes(':')) {
      route.schema.response = { 414: errorBody.describe('A path parameter is too long'), ...(route.schema.response as object) };
    }
  });

  app.addHook('preValidation', async (request) => {
    if (containsNul(request.params) || containsNul(request.query) || containsNul(request.body)) {
      throw new HttpError(400, 'bad_request', 'Text must not contain NUL (U+0000) characters');
    }
  });

  await app.register(async (auth) => {
    documentSecurity(auth, () => []);
    await auth.register(authRoutes, { prefix: '/auth' });
  });

  await app.register(async (admin) => {
    documentSecurity(admin, () => [{ bearer: [] }]);
    admin.addHook('onRequest', admin.authenticateAdmin);
    await admin.register(tenantRoutes, { prefix: '/tenants' });
    await admin.register(tenantInvitationRoutes, { prefix: '/tenants' });
    await admin.register(integrityRoutes, { prefix: '/admin' });
    await admin.register(operatorBillingRoutes, { prefix: '/admin' });
  });

  await app.register(async (tenant) => {
    documentSecurity(tenant, (route) => tenantSecurity(route.method, route.config));
    tenant.addHook('onRequest', tenant.authenticateTenant);
    await tenant.register(meRoutes, { prefix: '/me' });
    await tenant.register(teamRoutes, { prefix: '/team' });
    await tenant.register(apiKeyRoutes, { prefix: '/api-keys' });
    await tenant.register(channelRoutes, { prefix: '/channels' });
    await tenant.register(conversationRoutes, { prefix: '/conversations' });
    await tenant.register(documentRoutes, { prefix: '/documents' });
    await tenant.register(handoffRoutes, { prefix: '/conversations' });
    await tenant.register(settingsRoutes, { prefix: '/settings' });
    await tenant.register(playgroundRoutes, { prefix: '/playground' });
    await tenant.register(evaluationRoutes, { prefix: '/evaluations' });
    await tenant.register(usageRoutes, { prefix: '/usage' });
    await tenant.register(billingRoutes, { prefix: '/billing' });
    await tenant.register(analyticsRoutes, { prefix: '/analytics' });
    await tenant.register(endUserRoutes, { prefix: '/end-users' });
    await tenant.register(functionRoutes, { prefix: '/functions' });
    await tenant.register(mcpServerRoutes, { prefix: '/mcp-servers' });
    await tenant.register(llmCredentialRoutes, { prefix: '/llm-credentials' });
    await tenant.register(webhookEndpointRoutes, { prefix: '/webhook-endpoints' });
    await tenant.register(webhookDeliveryRoutes, { prefix: '/webhook-deliveries' });
    await tenant.register(templateRoutes, { prefix: '/channels' });
    await tenant.register(templateMessageRoutes);
    await tenant.register(optOutRoutes, { prefix: '/opt-outs' });
    await tenant.register(campaignRoutes, { prefix: '/campaigns' });
  });
};

export default v1;
