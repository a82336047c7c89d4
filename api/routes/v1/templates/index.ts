// A WhatsApp channel's message templates: the list as last synced (agents read it for the inbox
// composer) and a sync on demand, which reads every page of the business account's templates from
// the Graph API now. An hourly schedule syncs too, and template status webhooks keep statuses
// current between syncs (api/webhooks/template-status.ts).
//
//   channel not the tenant's                 → 404
//   not a WhatsApp channel                   → 409 not_whatsapp
//   the Graph API refused (token, permission, WABA id)  → 409 template_sync_refused (its message says why)
//   the Graph API did not answer / throttled            → 503 graph_unavailable
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { syncTemplates } from '../../../../lib/template-sync.ts';
import { placeholdersOf, type TemplateComponent } from '../../../../lib/whatsapp-templates.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, idParams, iso } from '../../../schemas/common.ts';

const templateSchema = z.object({
  id: z.uuid(),
  externalId: z.string().describe("Meta's template id"),
  name: z.string(),
  language: z.string(),
  status: z.string().describe('As Meta says: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …; only APPROVED ones can be sent'),
  category: z.string().nullable().describe('MARKETING, UTILITY or AUTHENTICATION'),
  parameterFormat: z.enum(['POSITIONAL', 'NAMED']),
  components: z.array(z.unknown()).describe("Meta's components (HEADER, BODY, FOOTER, BUTTONS) as listed by the Graph API"),
  placeholders: z
    .object({ header: z.array(z.string()), body: z.array(z.string()) })
    .describe('The placeholders to fill, in order: ["1", "2"] (positional) or names'),
  reason: z.string().nullable().describe('Why Meta rejected, paused or disabled it'),
  statusAt: z.string(),
  syncedAt: z.string().nullable().describe('Null for a template only a status webhook has told of yet: sync to read its components'),
});

const notWhatsApp = () => new HttpError(409, 'not_whatsapp', 'Templates exist for WhatsApp channels only');

const templateRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['templates'];

  app.get(
    '/:id/templates',
    {
      config: { allowAgentKey: true },
      schema: {
        tags,
        summary: "The channel's WhatsApp message templates, as last synced (every one, by name and language)",
        params: idParams,
        querystring: z.object({ status: z.string().trim().min(1).max(40).optional().describe('Only templates in this status, e.g. APPROVED') }),
        response: { 200: z.object({ data: z.array(templateSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const channel = await request.tenantDb.channel.findUnique({ where: { id: request.params.id }, select: { type: true } });
      if (!channel) throw new HttpError(404, 'not_found', 'Channel not found');
      if (channel.type !== 'whatsapp') throw notWhatsApp();
      const status = request.query.status?.toUpperCase();
      const rows = await request.tenantDb.messageTemplate.findMany({
        where: { channelId: request.params.id, ...(status && { status }) },
        orderBy: [{ name: 'asc' }, { language: 'asc' }],
      });
      return {
        data: rows.map((t) => {
          const components = t.components as TemplateComponent[];
          const text = (type: string) => components.find((c) => c.type.toUpperCase() === type)?.text;
          return {
            id: t.id, externalId: t.externalId, name: t.name, language: t.language, status: t.status, category: t.category,
            parameterFormat: t.parameterFormat === 'NAMED' ? ('NAMED' as const) : ('POSITIONAL' as const), components,
            placeholders: { header: placeholdersOf(text('HEADER')), body: placeholdersOf(text('BODY')) },
            reason: t.reason, statusAt: iso(t.statusAt)!, syncedAt: iso(t.syncedAt),
          };
        }),
      };
    },
  );

  app.post(
    '/:id/templates/sync',
    {
      schema: {
        tags,
        summary: "Reads the channel's templates from the Graph API now (every page of GET /{waba-id}/message_templates)",
        description:
          '409 not_whatsapp: not a WhatsApp channel; 409 channel_incomplete: no wabaId or access token; 409 template_sync_refused: the Graph API refused ' +
          '(e.g. the token lacks whatsapp_business_management, or the wabaId is not its business account). 503 graph_unavailable: it did not answer or throttled.',
        params: idParams,
        response: {
          200: z.object({ synced: z.number().int(), removed: z.number().int().describe('Templates no longer listed, deleted'), skipped: z.number().int().describe('Listed entries not in the expected shape') }),
          ...errorResponses,
          503: errorBody,
        },
      },
    },
    async (request) => {
      const result = await syncTemplates({ db: app.db, keyring: app.config.SECRETS_KEYS, graphApiUrl: app.config.META_GRAPH_API_URL }, request.tenantId, request.params.id);
      if (result.ok) {
        request.log.info({ channelId: request.params.id, synced: result.synced, removed: result.removed }, 'templates synced');
        return { synced: result.synced, removed: result.removed, skipped: result.skipped };
      }
      if (result.reason === 'not_whatsapp') {
        const exists = await request.tenantDb.channel.count({ where: { id: request.params.id } });
        throw exists ? notWhatsApp() : new HttpError(404, 'not_found', 'Channel not found');
      }
      if (result.reason === 'graph_error') {
        request.log.warn({ channelId: request.params.id, graph: result.failure }, 'template sync failed');
        // Refused for good (token, permission, WABA id): the channel's configuration must change.
        if (result.failure.kind === 'permanent') throw new HttpError(409, 'template_sync_refused', `The Graph API refused to list the templates: ${result.failure.message}`);
        throw new HttpError(503, 'graph_unavailable', `The Graph API did not list the templates; retry later (${result.failure.message})`);
      }
      throw new HttpError(409, 'channel_incomplete', result.reason === 'no_waba_id' ? 'The channel has no WhatsApp Business Account id (wabaId): set it first' : 'The channel has no access token: set it first');
    },
  );
};

export default templateRoutes;
