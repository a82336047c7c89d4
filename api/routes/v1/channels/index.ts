// The tenant's channels (WhatsApp numbers, Messenger pages, Instagram accounts, web chat widgets). Secrets are
// write-only: responses show them masked (`••••`), the verify token not at all. Each channel
// carries the address to paste elsewhere (its webhook URL, its widget's page), and WhatsApp,
// Messenger and Instagram channels can be tested against the Graph API with their stored token.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CHANNEL_TYPES,
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
import { CONNECTION_PROBLEMS, testChannelConnection } from '../../../../lib/channel-connection-test.ts';
import { channelFeature } from '../../../../lib/plan-features.ts';
import { publicBaseUrl, webhookUrlOf, widgetUrlOf } from '../../../../lib/public-urls.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { invalidateChannelLookups } from '../../../webhooks/channel-lookup.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';
import { enforcePlanFeature, planFeatureResponses, planLimitOrFeatureResponses } from '../../../plan-features.ts';
import { enforcePlanLimit } from '../../../plan-limits.ts';

const channelSchema = z.object({
  id: z.uuid(),
  type: z.enum(CHANNEL_TYPES),
  name: z.string(),
  status: z.enum(['active', 'disabled']),
  phoneNumberId: z.string().nullable(),
  wabaId: z.string().nullable(),
  pageId: z.string().nullable().describe('Messenger: the page; Instagram: the Facebook Page the Instagram account is linked to'),
  instagramAccountId: z.string().nullable().describe('Instagram: the professional account id, which Instagram webhooks name'),
  widgetId: z.string().nullable(),
  allowedOrigins: z.array(z.string()),
  secrets: z.record(z.string(), z.string()).describe('Masked: only the last 4 characters are shown'),
  hasVerifyToken: z.boolean(),
  webhookUrl: z.string().nullable().describe("WhatsApp, Messenger and Instagram: the callback URL to enter in the Meta app's webhook settings (APP_BASE_URL + /webhooks/<type>)"),
  widgetUrl: z.string().nullable().describe("Web chat: the widget's page, to frame on the tenant's site (APP_BASE_URL + /webchat/widget/<widgetId>)"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const connectionTestSchema = z.object({
  ok: z.boolean(),
  found: z
    .object({ id: z.string(), displayPhoneNumber: z.string().nullable(), verifiedName: z.string().nullable(), name: z.string().nullable() })
    .nullable()
    .describe('What the Graph API answered: the number (WhatsApp), the page the token belongs to (Messenger), or the Instagram account linked to that page (Instagram)'),
  problem: z
    .object({
      kind: z.enum(CONNECTION_PROBLEMS),
      message: z.string(),
      httpStatus: z.number().int().nullable(),
      graphCode: z.number().int().nullable(),
      graphSubcode: z.number().int().nullable(),
      fbtraceId: z.string().nullable(),
    })
    .nullable(),
  durationMs: z.number().int(),
});

/** Tests of one channel per minute: each is a Graph API call counted against the tenant's Meta app. */
export const CONNECTION_TESTS_PER_MINUTE = 10;

function mapErrors(err: unknown): never {
  if (err instanceof ChannelConflictError) throw new HttpError(409, 'conflict', err.message);
  if (err instanceof ChannelInputError) throw new HttpError(400, 'validation_error', err.message);
  if (err instanceof ChannelNotOwnedError) throw new HttpError(422, 'channel_not_owned', err.message);
  if (err instanceof ChannelOwnershipUnavailableError) throw new HttpError(503, 'graph_unavailable', err.message);
  throw err;
}

/** Registration's answers besides the usual ones: see lib/channel-ownership.ts. */
const ownershipResponses = {
  409: errorBody.describe('This tenant already has a channel with this phone number id, page id, Instagram account id or verify token'),
  422: errorBody.describe("The channel's token does not own the phone number id, page id or Instagram account (the Graph API says so), or the id cannot be registered"),
  503: errorBody.describe('The Graph API could not be asked; nothing was registered'),
};
const OWNERSHIP =
  "The phone number id (page id) must belong to the access token (page access token): the platform asks Meta's Graph API " +
  '(GET /{phone-number-id}?fields=id,display_phone_number, GET /me?fields=id; Instagram: GET /me?fields=id,instagram_business_account, which ' +
  'must name the page and the Instagram account linked to it) and answers 422 when it does not, or when the id cannot be ' +
  'registered for another reason; 503 when the Graph API cannot be asked.';

const channelRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['channels'];
  const keyring = app.config.SECRETS_KEYS;
  const baseUrl = publicBaseUrl(app.config);
  const out = (view: ChannelView): z.infer<typeof channelSchema> => ({
    ...view,
    webhookUrl: webhookUrlOf(baseUrl, view.type),
    widgetUrl: widgetUrlOf(baseUrl, view.widgetId),
    createdAt: iso(view.createdAt)!,
    updatedAt: iso(view.updatedAt)!,
  });
  const connectionTests = app.createRateLimit({
    max: CONNECTION_TESTS_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => `channel-test:${(request.params as { id: string }).id}`,
  });

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List channels, newest first',
        querystring: paginationQuery
          .extend({ type: z.enum(CHANNEL_TYPES).optional(), status: z.enum(['active', 'disabled']).optional() })
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
          'Instagram: instagramAccountId, pageId (the Facebook Page the account is linked to), pageAccessToken (that page\'s), appSecret, verifyToken. ' +
          'Web chat: allowedOrigins (a widgetId is generated). Secrets are stored encrypted and never returned. ' +
          "402 when the tenant's plan does not include the channel's type (each type is a plan feature) or allows no more channels. " +
          OWNERSHIP,
        body: createChannelSchema,
        response: { 201: channelSchema, ...errorResponses, ...ownershipResponses, ...planLimitOrFeatureResponses },
      },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, channelFeature(request.body.type));
      await enforcePlanLimit(app, request, reply, 'channels');
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
        description:
          `A new phone number id, page id or token is checked like a new channel's. ${OWNERSHIP} ` +
          "Enabling a disabled channel (status active) answers 402 when the tenant's plan does not include its type; channels left active keep working.",
        params: idParams,
        body: updateChannelSchema,
        response: { 200: channelSchema, ...errorResponses, ...ownershipResponses, ...planFeatureResponses },
      },
    },
    async (request) => {
      if (request.body.status === 'active') {
        const current = await request.tenantDb.channel.findUnique({ where: { id: request.params.id }, select: { type: true, status: true } });
        if (current?.status === 'disabled') await enforcePlanFeature(app, request, channelFeature(current.type));
      }
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

  app.post(
    '/:id/test',
    {
      schema: {
        tags,
        summary: "Test a WhatsApp, Messenger or Instagram channel's connection with its stored token",
        description:
          'Asks the Graph API with the stored token: WhatsApp GET /{phone-number-id}?fields=display_phone_number,verified_name, ' +
          'Messenger GET /me?fields=id,name (which must be the page), Instagram GET /me?fields=id,name,instagram_business_account{id,username} ' +
          '(which must be the page, linked to the channel\'s Instagram account). 200 with ok and what was found, or ok false and the problem ' +
          '(invalid_token, missing_permission, wrong_id, throttled, unreachable, token_unreadable, graph_error) with what Meta said. ' +
          `Waits at most 5 s for Meta; ${CONNECTION_TESTS_PER_MINUTE} tests per channel per minute (429 with Retry-After beyond).`,
        params: idParams,
        response: {
          200: connectionTestSchema,
          ...errorResponses,
          409: errorBody.describe('A web chat channel has no Graph API connection to test'),
        },
      },
    },
    async (request, reply) => {
      const channel = await request.tenantDb.channel.findUnique({ where: { id: request.params.id } });
      if (!channel) throw new HttpError(404, 'not_found', 'Channel not found');
      if (channel.type === 'webchat') throw new HttpError(409, 'not_testable', 'A web chat channel has no Graph API connection to test');
      const limit = await connectionTests(request);
      if (!limit.isAllowed && limit.isExceeded) {
        const after = Math.max(1, limit.ttlInSeconds);
        reply.header('retry-after', String(after));
        throw new HttpError(429, 'rate_limited', `At most ${CONNECTION_TESTS_PER_MINUTE} connection tests of a channel per minute; retry in ${after} s`);
      }
      const started = performance.now();
      const result = await testChannelConnection(app.db, keyring, app.config.META_GRAPH_API_URL, { ...channel, type: channel.type });
      const durationMs = Math.round(performance.now() - started);
      request.log.info({ channelId: channel.id, ok: result.ok, problem: result.problem?.kind, durationMs }, 'channel connection tested');
      return { ...result, durationMs };
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
