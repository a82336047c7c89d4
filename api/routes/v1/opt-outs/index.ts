// Customers' choice about proactive messages (templates from the API, campaigns), by WhatsApp id
// or phone number. Customers set it themselves by writing STOP or START (lib/opt-outs.ts); these
// routes let the tenant's systems read and set it (e.g. from their CRM's unsubscribe list).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recordOptOut } from '../../../../lib/opt-outs.ts';
import { phoneNumberSchema } from '../../../../lib/whatsapp-templates.ts';
import { errorResponses, iso } from '../../../schemas/common.ts';

const optOutSchema = z.object({
  externalUserId: z.string().describe('The WhatsApp id (digits)'),
  optedOut: z.boolean(),
  source: z.string().nullable().describe('keyword (the customer wrote STOP or START) or api; null: never set'),
  changedAt: z.string().nullable(),
});

const params = z.object({ phone: phoneNumberSchema });

const optOutRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['templates'];

  app.get(
    '/:phone',
    { schema: { tags, summary: 'Whether the customer opted out of proactive messages', params, response: { 200: optOutSchema, ...errorResponses } } },
    async (request) => {
      const row = await request.tenantDb.customerOptOut.findFirst({ where: { externalUserId: request.params.phone } });
      return { externalUserId: request.params.phone, optedOut: row?.optedOut ?? false, source: row?.source ?? null, changedAt: iso(row?.changedAt ?? null) };
    },
  );

  app.put(
    '/:phone',
    {
      schema: {
        tags,
        summary: 'Opts the customer out of proactive messages (templates through the API, campaigns), or back in',
        params,
        body: z.strictObject({ optedOut: z.boolean() }),
        response: { 200: optOutSchema, ...errorResponses },
      },
    },
    async (request) => {
      const at = new Date();
      await recordOptOut(request.tenantDb, { externalUserId: request.params.phone, optedOut: request.body.optedOut, source: 'api', at });
      const row = await request.tenantDb.customerOptOut.findFirst({ where: { externalUserId: request.params.phone } });
      return { externalUserId: request.params.phone, optedOut: row?.optedOut ?? request.body.optedOut, source: row?.source ?? 'api', changedAt: iso(row?.changedAt ?? at) };
    },
  );
};

export default optOutRoutes;
