// Tenant webhook endpoints: where the platform POSTs the tenant's events (lib/tenant-events.ts),
// signed with the endpoint's secret, delivered with retries (workflows/webhook-delivery.ts). The
// signing secret is returned by create and rotate-secret only. Each endpoint's delivery log is
// readable, newest first.
import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { WebhookDelivery } from '../../../../generated/prisma/client.ts';
import { PING_EVENT, recordTenantEvent, TENANT_EVENT_TYPES } from '../../../../lib/tenant-events.ts';
import {
  createWebhookDispatcher,
  createWebhookEndpoint,
  MAX_WEBHOOK_ENDPOINTS_PER_TENANT,
  rotateWebhookSecret,
  webhookEndpointSchemas,
  webhookEndpointView,
  webhookOptionsFrom,
  type WebhookDispatcher,
} from '../../../../lib/tenant-webhooks.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';

export const endpointSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()).describe('Event types delivered; empty: all'),
  status: z.enum(['active', 'disabled']),
  consecutiveFailures: z.number().int().describe('Deliveries in a row that failed after every retry'),
  disabledAt: z.string().nullable(),
  disabledReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const withSecret = endpointSchema.extend({
  secret: z.string().describe('The signing secret: shown only in this answer, store it now'),
});

export const deliverySchema = z.object({
  id: z.uuid(),
  endpointId: z.uuid(),
  eventId: z.uuid(),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable().describe('HTTP status of the last attempt; null when there was no answer'),
  lastError: z.string().nullable(),
  lastDurationMs: z.number().int().nullable(),
  lastAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function deliveryView(d: WebhookDelivery): z.infer<typeof deliverySchema> {
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    lastDurationMs: d.lastDurationMs,
    lastAttemptAt: iso(d.lastAttemptAt),
    deliveredAt: iso(d.deliveredAt),
    createdAt: iso(d.createdAt)!,
    updatedAt: iso(d.updatedAt)!,
  };
}

export const SIGNING =
  'Each delivery is a POST of {"id", "type", "createdAt", "tenantId", "data"} with headers x-metachat-event, x-metachat-delivery, ' +
  'x-metachat-timestamp and x-metachat-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>. Verify v1 over the raw ' +
  'body in constant time and refuse a t older than your replay window (e.g. 5 minutes); deduplicate on "id". Answer 2xx quickly; ' +
  'anything else is retried with backoff for about a day, and 410 Gone disables the endpoint.';

export const responses = { ...errorResponses, 503: errorBody } as const;

/** Temporal unreachable → 503; anything else is rethrown. */
export function temporalError(err: unknown): unknown {
  if (err instanceof ServiceError || isGrpcServiceError(err)) {
    return new HttpError(503, 'temporal_unavailable', 'Webhook delivery is unavailable right now; retry later');
  }
  return err;
}

/** The API's dispatcher: starts deliveries for test pings and redeliveries. */
export function apiDispatcher(app: Parameters<FastifyPluginAsyncZod>[0]): WebhookDispatcher {
  return createWebhookDispatcher({ db: app.db, temporal: app.temporal, logger: app.log, options: webhookOptionsFrom(app.config) });
}

const deliveryQuery = paginationQuery.extend({ status: z.enum(['pending', 'delivered', 'failed']).optional() });

const webhookEndpointRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['webhooks'];
  const keyring = app.config.SECRETS_KEYS;
  const schemas = webhookEndpointSchemas(app.config.ALLOW_INSECURE_TENANT_URLS);
  const dispatcher = apiDispatcher(app);
  const notFound = () => new HttpError(404, 'not_found', 'Webhook endpoint not found');

  app.get(
    '/',
    { schema: { tags, summary: 'List webhook endpoints, oldest first', response: { 200: z.object({ items: z.array(endpointSchema) }), ...errorResponses } } },
    async (request) => {
      const rows = await request.tenantDb.webhookEndpoint.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return { items: rows.map(webhookEndpointView) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register a webhook endpoint (its signing secret is returned once)',
        description:
          `HTTPS only; loopback, private and link-local addresses are refused (unless ALLOW_INSECURE_TENANT_URLS, for development). Event types: ${TENANT_EVENT_TYPES.join(', ')}. ${SIGNING} ` +
          "402 when the tenant's plan does not include webhooks (on such a plan no delivery is sent: each is logged failed, not sent).",
        body: schemas.input,
        response: { 201: withSecret, ...errorResponses, ...planFeatureResponses },
      },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'webhooks');
      if ((await request.tenantDb.webhookEndpoint.count()) >= MAX_WEBHOOK_ENDPOINTS_PER_TENANT) {
        throw new HttpError(409, 'quota_exceeded', `At most ${MAX_WEBHOOK_ENDPOINTS_PER_TENANT} webhook endpoints per tenant`);
      }
      const { endpoint, secret } = await createWebhookEndpoint(request.tenantDb, keyring, request.body, { allowHttp: app.config.ALLOW_INSECURE_TENANT_URLS });
      request.log.info({ endpointId: endpoint.id, events: endpoint.events }, 'webhook endpoint registered');
      return reply.status(201).send({ ...webhookEndpointView(endpoint), secret });
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a webhook endpoint', params: idParams, response: { 200: endpointSchema, ...errorResponses } } },
    async (request) => {
      const e = await request.tenantDb.webhookEndpoint.findFirst({ where: { id: request.params.id } });
      if (!e) throw notFound();
      return webhookEndpointView(e);
    },
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Update a webhook endpoint; status "active" re-enables a disabled one and resets its failure count',
        params: idParams,
        body: schemas.patch,
        response: { 200: endpointSchema, ...errorResponses },
      },
    },
    async (request) => {
      const existing = await request.tenantDb.webhookEndpoint.findFirst({ where: { id: request.params.id } });
      if (!existing) throw notFound();
      const { status, ...fields } = request.body;
      const statusChange =
        status === 'active' ? { status, consecutiveFailures: 0, disabledAt: null, disabledReason: null }
        : status === 'disabled' && existing.status !== 'disabled' ? { status, disabledAt: new Date(), disabledReason: 'disabled through the API' }
        : {};
      const e = await request.tenantDb.webhookEndpoint.update({ where: { id: existing.id }, data: { ...fields, ...statusChange } });
      request.log.info({ endpointId: e.id, fields: Object.keys(request.body) }, 'webhook endpoint updated');
      return webhookEndpointView(e);
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Delete a webhook endpoint and its delivery log', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { count } = await request.tenantDb.webhookEndpoint.deleteMany({ where: { id: request.params.id } });
      if (count === 0) throw notFound();
      request.log.info({ endpointId: request.params.id }, 'webhook endpoint deleted');
      return reply.status(204).send();
    },
  );

  app.post(
    '/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Replace the signing secret (the old one stops at once); the new one is returned once',
        params: idParams,
        response: { 200: withSecret, ...errorResponses },
      },
    },
    async (request) => {
      const exists = await request.tenantDb.webhookEndpoint.findFirst({ where: { id: request.params.id }, select: { id: true } });
      if (!exists) throw notFound();
      const { endpoint, secret } = await rotateWebhookSecret(request.tenantDb, keyring, exists.id);
      request.log.info({ endpointId: endpoint.id }, 'webhook signing secret rotated');
      return { ...webhookEndpointView(endpoint), secret };
    },
  );

  app.post(
    '/:id/test',
    {
      schema: {
        tags,
        summary: 'Send a "ping" event to this endpoint (delivered like any event; see its delivery log)',
        description: "402 when the tenant's plan does not include webhooks.",
        params: idParams,
        response: { 202: z.object({ eventId: z.uuid(), deliveryId: z.uuid() }), ...responses, ...planFeatureResponses },
      },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'webhooks');
      const endpoint = await request.tenantDb.webhookEndpoint.findFirst({ where: { id: request.params.id } });
      if (!endpoint) throw notFound();
      if (endpoint.status !== 'active') throw new HttpError(409, 'endpoint_disabled', 'The endpoint is disabled: re-enable it first (PATCH status "active")');
      const tenantId = request.tenantId;
      const eventId = randomUUID();
      // A ping goes to this endpoint only: written as dispatched, so the outbox sweep ignores it.
      await recordTenantEvent(
        request.tenantDb,
        { id: eventId, tenantId, type: PING_EVENT, subjectType: 'webhook_endpoint', subjectId: endpoint.id, data: { endpointId: endpoint.id, message: 'Webhook test from Meta Chat Platform' } },
        { audit: true },
      );
      const { deliveryId } = await dispatcher.deliver({ id: eventId, tenantId, type: PING_EVENT }, endpoint.id).catch((err: unknown) => {
        throw temporalError(err);
      });
      request.log.info({ endpointId: endpoint.id, deliveryId }, 'webhook test ping started');
      return reply.status(202).send({ eventId, deliveryId });
    },
  );

  app.get(
    '/:id/deliveries',
    {
      schema: {
        tags,
        summary: "The endpoint's delivery log, newest first",
        params: idParams,
        querystring: deliveryQuery,
        response: { 200: page(deliverySchema), ...errorResponses },
      },
    },
    async (request) => {
      const endpoint = await request.tenantDb.webhookEndpoint.findFirst({ where: { id: request.params.id }, select: { id: true } });
      if (!endpoint) throw notFound();
      const { limit, cursor, status } = request.query;
      const rows = await request.tenantDb.webhookDelivery.findMany({
        where: { endpointId: endpoint.id, ...(status && { status }), ...afterCursor('createdAt', cursor, { date: true }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const { items, nextCursor } = toPage(rows, limit, (d) => d.createdAt);
      return { items: items.map(deliveryView), nextCursor };
    },
  );
};

export default webhookEndpointRoutes;
