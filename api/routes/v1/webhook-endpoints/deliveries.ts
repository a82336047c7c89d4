// One webhook delivery of the log: read it with the event body it POSTs (what the receiver got,
// byte for byte, before signing), and redeliver it (e.g. after the tenant fixed its endpoint):
// the same event, the same delivery row (attempts keep counting), a fresh round of retries.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { webhookEnvelope } from '../../../../lib/tenant-events.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, idParams } from '../../../schemas/common.ts';
import { apiDispatcher, deliverySchema, deliveryView, responses, temporalError } from './index.ts';

const withEvent = deliverySchema.extend({
  event: z
    .object({ id: z.uuid(), type: z.string(), createdAt: z.string(), tenantId: z.string(), data: z.unknown() })
    .describe('The body POSTed to the endpoint (JSON.stringify of it is the signed raw body)'),
});

const webhookDeliveryRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['webhooks'];
  const dispatcher = apiDispatcher(app);
  const notFound = () => new HttpError(404, 'not_found', 'Webhook delivery not found');

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a delivery with the event body it POSTs', params: idParams, response: { 200: withEvent, ...errorResponses } } },
    async (request) => {
      const delivery = await request.tenantDb.webhookDelivery.findFirst({ where: { id: request.params.id }, include: { event: true } });
      if (!delivery) throw notFound();
      return { ...deliveryView(delivery), event: webhookEnvelope(delivery.event) };
    },
  );

  app.post(
    '/:id/redeliver',
    {
      schema: {
        tags,
        summary: 'Deliver a logged event to its endpoint again (a delivered or failed one; not one still retrying)',
        description: "402 when the tenant's plan does not include webhooks.",
        params: idParams,
        response: { 202: deliverySchema, ...responses, ...planFeatureResponses },
      },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'webhooks');
      const tdb = request.tenantDb;
      const delivery = await tdb.webhookDelivery.findFirst({ where: { id: request.params.id }, include: { endpoint: { select: { status: true } } } });
      if (!delivery) throw notFound();
      if (delivery.status === 'pending') throw new HttpError(409, 'delivery_in_progress', 'This delivery is still being attempted');
      if (delivery.endpoint.status !== 'active') throw new HttpError(409, 'endpoint_disabled', 'The endpoint is disabled: re-enable it first (PATCH status "active")');

      // Pending before the new run starts, so its first attempt does not take it as done.
      const { count } = await tdb.webhookDelivery.updateMany({ where: { id: delivery.id, status: delivery.status }, data: { status: 'pending' } });
      if (count === 0) throw new HttpError(409, 'delivery_in_progress', 'This delivery is being redelivered already');
      const restore = () => tdb.webhookDelivery.updateMany({ where: { id: delivery.id, status: 'pending' }, data: { status: delivery.status } });
      let started: boolean;
      try {
        ({ started } = await dispatcher.deliver({ id: delivery.eventId, tenantId: request.tenantId, type: delivery.eventType }, delivery.endpointId, { again: true }));
      } catch (err) {
        await restore();
        throw temporalError(err);
      }
      if (!started) {
        await restore();
        throw new HttpError(409, 'delivery_in_progress', 'The previous delivery of this event is still finishing; retry in a moment');
      }
      request.log.info({ deliveryId: delivery.id, endpointId: delivery.endpointId }, 'webhook redelivery started');
      const fresh = await tdb.webhookDelivery.findFirstOrThrow({ where: { id: delivery.id } });
      return reply.status(202).send(deliveryView(fresh));
    },
  );
};

export default webhookDeliveryRoutes;
