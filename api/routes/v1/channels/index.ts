// The tenant's channels (WhatsApp numbers, Messenger pages, web chat widgets). Secrets are
// write-only: responses show them masked (`••••abcd`), the verify token not at all.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ChannelConflictError,
  ChannelInputError,
  channelView,
  createChannel,
  createChannelSchema,
  deleteChannel,
  getChannel,
  updateChannel,
  updateChannelSchema,
  type ChannelView,
} from '../../../../lib/channels.ts';
import {
  ChannelNotOwnedError,
  ChannelOwnershipUnavailableError,
  conflictAsSeenByTenant,
  ownershipClaimOf,
  ownershipClaimOfUpdate,
  verifyChannelOwnership,
} from '../../../../lib/channel-ownership.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { invalidateChannelLookups } from '../../../webhooks/channel-lookup.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';

const channelSchema = z.object({
  id: z.uuid(),
  type: z.enum(['whatsapp', 'messenger', 'webchat']),
  name: z.string(),
  status: z.enum(['active', 'disabled']),
  phoneNumberId: z.string().nullable(),
  wabaId: z.string().nullable(),
  pageId: z.string().nullable(),
  widgetId: z.string().nullable(),
  allowedOrigins: z.array(z.string()),
  secrets: z.record(z.string(), z.string()).describe('Masked: only the last 4 characters are shown'),
  hasVerifyToken: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function out(view: ChannelView): z.infer<typeof channelSchema> {
  return { ...view, createdAt: iso(view.createdAt)!, updatedAt: iso(view.updatedAt)! };
}

function mapErrors(err: unknown): never {
  if (err instanceof ChannelConflictError) throw new HttpError(409, 'conflict', err.message);
  if (err instanceof ChannelInputError) throw new HttpError(400, 'validation_error', err.message);
  if (err instanceof ChannelNotOwnedError) throw new HttpError(422, 'channel_not_owned', err.message);
  if (err instanceof ChannelOwnershipUnavailableError) throw new HttpError(503, 'graph_unavailable', err.message);
  throw err;
}

/** Registration's answers besides the usual ones: see lib/channel-ownership.ts. */
const ownershipResponses = {
  409: errorBody.describe('This tenant already has a channel with this phone number id, page id or verify token'),
  422: errorBody.describe("The channel's token does not own the phone number id or page id (the Graph API says so), or the id cannot be registered"),
  503: errorBody.describe('The Graph API could not be asked; nothing was registered'),
};
const OWNERSHIP =
  "The phone number id (page id) must belong to the access token (page access token): the platform asks Meta's Graph API " +
  '(GET /{phone-number-id}?fields=id,display_phone_number, GET /me?fields=id) and answers 422 when it does not, or when the id cannot be ' +
  'registered for another reason; 503 when the Graph API cannot be asked.';

const channelRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['channels'];
  const keyring = app.config.SECRETS_KEYS;

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List channels, newest first',
        querystring: paginationQuery
          .extend({ type: z.enum(['whatsapp', 'messenger', 'webchat']).optional(), status: z.enum(['active', 'disabled']).optional() })
          .strict(),
        response: { 200: page(channelSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor, type, status } = request.query;
      const tdb = request.tenantDb;
      const rows = await tdb.channel.findMany({
        where: { ...(type ? { type } : {}), ...(status ? { status } : {}), ...afterCursor('createdAt', cursor, { date: true }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const p = toPage(rows, limit, (c) => c.createdAt);
      const secrets = await tdb.channelSecret.findMany({ where: { channelId: { in: p.items.map((c) => c.id) } }, orderBy: { name: 'asc' } });
      return {
        items: p.items.map((c) => out(channelView(keyring, c, secrets.filter((s) => s.channelId === c.id)))),
        nextCursor: p.nextCursor,
      };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Add a channel',
        description:
          'WhatsApp: phoneNumberId, wabaId, accessToken, appSecret, verifyToken. Messenger: pageId, pageAccessToken, appSecret, verifyToken. ' +
          'Web chat: allowedOrigins (a widgetId is generated). Secrets are stored encrypted and never returned. ' +
          OWNERSHIP,
        body: createChannelSchema,
        response: { 201: channelSchema, ...errorResponses, ...ownershipResponses },
      },
    },
    async (request, reply) => {
      const claim = ownershipClaimOf(request.body);
      if (claim) await verifyChannelOwnership(app.config.META_GRAPH_API_URL, claim).catch(mapErrors);
      const view = await createChannel(request.tenantDb, keyring, request.body)
        .catch((err: unknown) => conflictAsSeenByTenant(request.tenantDb, err, request.body))
        .catch(mapErrors);
      request.log.info({ channelId: view.id, type: view.type }, 'channel created');
      return reply.status(201).send(out(view));
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a channel', params: idParams, response: { 200: channelSchema, ...errorResponses } } },
    async (request) => {
      const view = await getChannel(request.tenantDb, keyring, request.params.id);
      if (!view) throw new HttpError(404, 'not_found', 'Channel not found');
      return out(view);
    },
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Update a channel (a secret given replaces the stored one)',
        description: `A new phone number id, page id or token is checked like a new channel's. ${OWNERSHIP}`,
        params: idParams,
        body: updateChannelSchema,
        response: { 200: channelSchema, ...errorResponses, ...ownershipResponses },
      },
    },
    async (request) => {
      const claim = await ownershipClaimOfUpdate(request.tenantDb, app.db, keyring, request.params.id, request.body);
      if (claim) await verifyChannelOwnership(app.config.META_GRAPH_API_URL, claim).catch(mapErrors);
      const view = await updateChannel(request.tenantDb, keyring, request.params.id, request.body)
        .catch(async (err: unknown) => {
          const channel = await request.tenantDb.channel.findUnique({ where: { id: request.params.id }, select: { type: true } });
          return conflictAsSeenByTenant(request.tenantDb, err, { ...request.body, type: channel?.type ?? 'webchat', exceptId: request.params.id });
        })
        .catch(mapErrors);
      // Webhooks of this instance see new secrets and ids at once (other instances within the cache TTL).
      invalidateChannelLookups({ channelId: request.params.id });
      if (!view) throw new HttpError(404, 'not_found', 'Channel not found');
      request.log.info({ channelId: view.id, fields: Object.keys(request.body) }, 'channel updated');
      return out(view);
    },
  );

  app.delete(
    '/:id',
    {
      schema: { tags, summary: 'Delete a channel with its secrets and conversations', params: idParams, response: { 204: noContent, ...errorResponses } },
    },
    async (request, reply) => {
      if (!(await deleteChannel(request.tenantDb, request.params.id))) throw new HttpError(404, 'not_found', 'Channel not found');
      invalidateChannelLookups({ channelId: request.params.id });
      request.log.info({ channelId: request.params.id }, 'channel deleted');
      return reply.status(204).send();
    },
  );
};

export default channelRoutes;
