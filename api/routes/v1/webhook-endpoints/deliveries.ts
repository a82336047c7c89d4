// Redelivery of one webhook delivery from the log (e.g. after the tenant fixed its endpoint):
// the same event, the same delivery row (attempts keep counting), a fresh round of retries.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { HttpError } from '../../../plugins/app/errors.ts';
import { idParams } from '../../../schemas/common.ts';
import { apiDispatcher, deliverySchema, deliveryView, responses, temporalError } from './index.ts';

const webhookDeliveryRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['webhooks'];
  const dispatcher = apiDispatcher(app);

  app.post(
    '/:id/redeliver',
    {
      schema: {
        tags,
        summary: 'Deliver a logged event to its endpoint again (a delivered or failed one; not one still retrying)',
        params: idParams,
        response: { 202: deliverySchema, ...responses },
      },
    },
    async (request, reply) => {
      const tdb = request.tenantDb;
      const delivery = await tdb.webhookDelivery.findFirst({ where: { id: request.params.id }, include: { endpoint: { select: { status: true } } } });
      if (!delivery) throw new HttpError(404, 'not_found', 'Webhook delivery not found');
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
