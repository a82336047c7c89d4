// `POST /webhooks/stripe`: Stripe's webhook deliveries, verified with Stripe's signature scheme
// (Stripe-Signature over the raw body, `stripe.webhooks.constructEvent`, which also refuses a
// timestamp older than five minutes). The event is stored once by its id, its workflow started
// (one per event id: workflows/stripe-events.ts), then acknowledged; a redelivery of an event
// already stored only makes sure its workflow exists. Without billing configured: 404.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { HANDLED_STRIPE_EVENTS } from '../../lib/billing-accounts.ts';
import { billingOf } from '../../lib/billing.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { stripeEvent, stripeEventWorkflowId } from '../../workflows/stripe-events.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { errorBody } from '../schemas/common.ts';
import { WEBHOOK_RATE_LIMIT_FACTOR } from './meta-webhook.ts';

export const STRIPE_SIGNATURE_HEADER = 'stripe-signature';

export const stripeWebhookRoutes: FastifyPluginAsync = async (app) => {
  const billing = billingOf(app.config);
  const taskQueue = taskQueueName(app.config, 'maintenance');

  app.post(
    '/',
    {
      // Stripe delivers in bursts from a few addresses, like Meta: the same raised per-IP limit.
      config: { rateLimit: { max: app.config.RATE_LIMIT_IP_PER_MINUTE * WEBHOOK_RATE_LIMIT_FACTOR, timeWindow: 60_000 } },
      schema: {
        tags: ['webhooks', 'billing'],
        summary: "Stripe's webhook deliveries (signed with Stripe-Signature)",
        description:
          'Subscription events (checkout.session.completed, customer.subscription.*) set the tenant\'s plan (STRIPE_PRICES names the price of each plan); other types are acknowledged and ignored. 200 `{ received: true }` once the event is stored ' +
          '(a redelivery answers the same and changes nothing); 400 invalid_signature when the signature or its timestamp does not verify; ' +
          '404 billing_disabled without STRIPE_SECRET_KEY; 503 when the event could not be stored or handed on (Stripe delivers it again).',
        response: {
          200: z.object({ received: z.literal(true) }),
          400: errorBody,
          404: errorBody,
          413: errorBody,
          415: errorBody,
          429: errorBody,
          503: errorBody,
        },
      },
    },
    async (request) => {
      if (!billing) throw new HttpError(404, 'billing_disabled', 'Billing is not configured on this platform');
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) throw new HttpError(415, 'unsupported_media_type', 'Webhook bodies must be application/json');
      const header = request.headers[STRIPE_SIGNATURE_HEADER];
      let event;
      try {
        event = billing.stripe.webhooks.constructEvent(raw, typeof header === 'string' ? header : '', billing.webhookSecret);
      } catch (err) {
        request.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'stripe webhook signature did not verify');
        throw new HttpError(400, 'invalid_signature', 'Stripe-Signature does not verify for this body');
      }
      if (!HANDLED_STRIPE_EVENTS.has(event.type)) {
        // Invoices and payments are read from Stripe when listed: nothing here depends on them.
        request.log.debug({ eventId: event.id, type: event.type }, 'stripe event of a type not handled: acknowledged');
        return { received: true as const };
      }
      try {
        await app.db.stripeEvent.createMany({
          data: [{ id: event.id, type: event.type, payload: JSON.parse(raw.toString('utf8')), createdAt: new Date(event.created * 1000) }],
          skipDuplicates: true,
        });
        await app.temporal.workflow.start(stripeEvent, { taskQueue, workflowId: stripeEventWorkflowId(event.id), args: [{ eventId: event.id }] });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          request.log.error({ err, eventId: event.id }, 'stripe event not handed on');
          throw new HttpError(503, 'unavailable', 'The event could not be taken right now; Stripe delivers it again');
        }
      }
      request.log.info({ eventId: event.id, type: event.type }, 'stripe event received');
      return { received: true as const };
    },
  );
};
