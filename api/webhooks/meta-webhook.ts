// The two routes every Meta channel type has, `GET` and `POST /webhooks/<type>`. A delivery is
// verified, validated, handed to Temporal and acknowledged; nothing slow happens here (no LLM,
// no Graph API call): the conversation workflow does the work.
//
// POST, in order — each step answers before the next one runs:
//   1. no well-formed X-Hub-Signature-256                        → 401
//   2. body not JSON                                             → 400
//   3. envelope malformed (envelopes.ts)                         → 400
//      (a message's timestamp outside the platform's window is no reason to refuse it: the
//      receive time replaces it, timestamps.ts)
//   4. more than MAX_CHANNELS_PER_DELIVERY distinct channel ids     → 400 too_many_channels
//      (Meta sends one entry per business account or page; only a forged body names dozens)
//   5. channels named by the delivery looked up (channel-lookup.ts: cached answers, negative
//      ones included, cost nothing; the rest one query together); the raw body's HMAC must
//      match the app secret of EVERY known one, else             → 401, nothing processed
//      Channels we do not serve are skipped with a warning (a 4xx would make Meta retry forever).
//   6. end-user messages grouped by (channel, user), one signalWithStart per user, in parallel;
//      the business's own messages (echoes, normalize.ts) likewise, with their own signal;
//      delivery statuses applied to stored outbound messages (statuses.ts); WhatsApp template
//      statuses (template-status.ts, signed by the business account's channels) and customers'
//      STOP / START words (opt-out-keywords.ts) recorded
//      Temporal unreachable or failing                           → 503 (Meta redelivers; the
//      workflow and the store dedupe by message id, so a redelivery is harmless)
//   7.                                                           → 200 (`EVENT_RECEIVED` for Messenger)
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sha256 } from '../../lib/crypto.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { conversationWorkflowId } from '../../workflows/ids.ts';
import type { BusinessEcho, InboundMessage } from '../../workflows/types.ts';
import { signalBusinessEchoes, signalInbound } from '../conversation-signal.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { errorBody } from '../schemas/common.ts';
import type { ChannelLookup, MetaChannelType, ResolvedChannel } from './channel-lookup.ts';
import { groupByUser, type NormalizedDelivery, type StatusItem } from './normalize.ts';
import { parseSignatureHeader, SIGNATURE_HEADER, signatureMatches } from './signature.ts';
import { recordOptOutKeywords } from './opt-out-keywords.ts';
import { applyStatuses } from './statuses.ts';
import { withAcceptedTimestamps } from './timestamps.ts';

/** One channel type's payload handling (whatsapp.ts, messenger.ts). */
export interface WebhookProvider {
  type: MetaChannelType;
  /** Validates parsed JSON against the envelope and normalises it; failure means malformed. */
  read(json: unknown): z.ZodSafeParseResult<NormalizedDelivery>;
  /** The text/plain body of a successful POST. */
  ack: string;
  /**
   * Changes that name a business account rather than a channel (WhatsApp template statuses):
   * checked against those channels' own app secrets and applied before the 200.
   */
  accountChanges?: (app: FastifyInstance, delivery: { json: unknown; raw: Buffer; digest: Buffer }) => Promise<void>;
}

export interface MetaWebhookOptions {
  provider: WebhookProvider;
  lookup: ChannelLookup;
}

/** How long a delivery waits for Temporal to take its signals before answering 503. */
export { SIGNAL_DEADLINE_MS } from '../conversation-signal.ts';

/**
 * Meta delivers from few addresses at high volume, so webhooks get a much larger per-IP budget
 * than the rest of the API (a forged flood still costs one HMAC per request at most).
 */
export const WEBHOOK_RATE_LIMIT_FACTOR = 10;

/**
 * The most distinct channel ids (phone_number_id / page id) one delivery may name. Meta batches a
 * delivery per business account (WhatsApp) or page (Messenger), so a real one names one or a few;
 * every id must be looked up before the signature can be checked, so a body naming more is
 * refused unread.
 */
export const MAX_CHANNELS_PER_DELIVERY = 10;

const verifyQuery = z.looseObject({
  'hub.mode': z.string().optional(),
  'hub.verify_token': z.string().optional(),
  'hub.challenge': z.string().optional(),
});

/** A raw body, as the webhooks plugin's content-type parser keeps it. */
function rawBody(request: FastifyRequest): Buffer {
  const body = request.body;
  if (!Buffer.isBuffer(body)) throw new HttpError(415, 'unsupported_media_type', 'Webhook bodies must be application/json');
  return body;
}

function zodSummary(error: z.ZodError): { message: string; details: { path: string; message: string }[] } {
  const details = error.issues.slice(0, 20).map((i) => ({ path: i.path.length ? `/${i.path.join('/')}` : '/', message: i.message }));
  return { message: details.map((d) => `${d.path} ${d.message}`).join('; '), details };
}

interface UserBatch {
  channel: ResolvedChannel;
  userId: string;
  messages: InboundMessage[];
  echoes: BusinessEcho[];
}

async function signalConversation(app: FastifyInstance, batch: UserBatch): Promise<void> {
  const { channel, userId, messages, echoes } = batch;
  const to = { tenantId: channel.tenantId, channel: channel.type, channelId: channel.channelId, externalUserId: userId };
  // The customer's messages first: a business reply echoed in the same delivery answers them.
  if (messages.length > 0) await signalInbound(app, { ...to, messages });
  if (echoes.length > 0) await signalBusinessEchoes(app, { ...to, echoes });
}

export const metaWebhookRoutes: FastifyPluginAsyncZod<MetaWebhookOptions> = async (app, { provider, lookup }) => {
  const { type } = provider;
  const tags = ['webhooks'];
  const rateLimit = { max: app.config.RATE_LIMIT_IP_PER_MINUTE * WEBHOOK_RATE_LIMIT_FACTOR, timeWindow: 60_000 };

  app.get(
    '/',
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: `Meta's ${type} webhook verification: echoes hub.challenge when hub.verify_token is a ${type} channel's verify token`,
        querystring: verifyQuery,
        response: { 200: z.string().describe('hub.challenge, as text/plain'), 403: errorBody, 429: errorBody },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const token = q['hub.verify_token'];
      const challenge = q['hub.challenge'];
      const forbidden = () => new HttpError(403, 'forbidden', 'Verification failed: hub.mode must be "subscribe" and hub.verify_token a channel\'s verify token');
      if (q['hub.mode'] !== 'subscribe' || !token || token.length > 256 || !challenge || challenge.length > 1024) throw forbidden();
      // Found by the token's digest through a unique index: no comparison of secrets in our code.
      const channel = await app.db.channel.findUnique({ where: { type_verifyTokenHash: { type, verifyTokenHash: new Uint8Array(sha256(token)) } } });
      if (!channel) throw forbidden();
      request.log.info({ tenantId: channel.tenantId, channelId: channel.id, channel: type }, 'webhook subscription verified');
      return reply.type('text/plain; charset=utf-8').send(challenge);
    },
  );

  app.post(
    '/',
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: `Meta's ${type} webhook deliveries (signed with X-Hub-Signature-256)`,
        description: `400 too_many_channels: the body names more than ${MAX_CHANNELS_PER_DELIVERY} distinct channel ids (refused before any is looked up).`,
        response: {
          200: z.string().describe(`"${provider.ack}", as text/plain`),
          400: errorBody,
          401: errorBody,
          413: errorBody,
          415: errorBody,
          429: errorBody,
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      const digest = parseSignatureHeader(request.headers[SIGNATURE_HEADER]);
      if (!digest) throw new HttpError(401, 'invalid_signature', 'Missing or malformed X-Hub-Signature-256 header');
      const raw = rawBody(request);

      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'invalid_json', 'Body is not valid JSON');
      }
      const parsed = provider.read(json);
      if (!parsed.success) {
        const { message, details } = zodSummary(parsed.error);
        throw new HttpError(400, 'invalid_payload', `Malformed ${type} webhook: ${message}`, details);
      }
      // Timestamps outside the platform's window are replaced by the receive time (timestamps.ts).
      const delivery = withAcceptedTimestamps(parsed.data, Date.now());

      if (delivery.publicIds.length > MAX_CHANNELS_PER_DELIVERY) {
        throw new HttpError(400, 'too_many_channels', `A delivery may name at most ${MAX_CHANNELS_PER_DELIVERY} channels; this one names ${delivery.publicIds.length}`);
      }
      const channels = await lookup.findMany(type, delivery.publicIds);
      const unknown = delivery.publicIds.filter((publicId) => !channels.has(publicId));
      for (const secret of new Set([...channels.values()].map((c) => c.appSecret))) {
        if (!signatureMatches(raw, secret, digest)) {
          request.log.warn({ channel: type, channels: channels.size }, 'webhook signature mismatch; delivery rejected');
          throw new HttpError(401, 'invalid_signature', 'X-Hub-Signature-256 does not match the body');
        }
      }
      if (unknown.length > 0) {
        request.log.warn({ channel: type, unknownChannelIds: unknown }, 'webhook names channels this platform does not serve; their events are ignored');
      }
      await provider.accountChanges?.(app, { json, raw, digest });

      const batches: UserBatch[] = [];
      const batchOf = new Map<string, UserBatch>();
      for (const group of groupByUser(delivery.inbound)) {
        const channel = channels.get(group.publicId);
        if (!channel) continue;
        const batch: UserBatch = { channel, userId: group.userId, messages: group.messages, echoes: [] };
        batches.push(batch);
        batchOf.set(JSON.stringify([group.publicId, group.userId]), batch);
      }
      for (const { publicId, userId, echo } of delivery.echoes) {
        const channel = channels.get(publicId);
        if (!channel) continue;
        const key = JSON.stringify([publicId, userId]);
        let batch = batchOf.get(key);
        if (!batch) {
          batch = { channel, userId, messages: [], echoes: [] };
          batchOf.set(key, batch);
          batches.push(batch);
        }
        batch.echoes.push(echo);
      }
      const statusesByChannel = new Map<string, { channel: ResolvedChannel; items: StatusItem[] }>();
      for (const item of delivery.statuses) {
        const channel = channels.get(item.publicId);
        if (!channel) continue;
        let entry = statusesByChannel.get(channel.channelId);
        if (!entry) statusesByChannel.set(channel.channelId, (entry = { channel, items: [] }));
        entry.items.push(item);
      }

      const [signals, statuses] = await Promise.all([
        Promise.allSettled(batches.map((batch) => signalConversation(app, batch))),
        Promise.allSettled(
          [...statusesByChannel.values()].map(({ channel, items }) => applyStatuses(forTenant(app.db, channel.tenantId), type, channel.channelId, items)),
        ),
      ]);

      // Counts per tenant (a Meta app may serve channels of several tenants in one delivery).
      const perTenant = new Map<string, { users: number; messages: number; statuses: number; statusesApplied: number }>();
      const counts = (tenantId: string) => {
        let c = perTenant.get(tenantId);
        if (!c) perTenant.set(tenantId, (c = { users: 0, messages: 0, statuses: 0, statusesApplied: 0 }));
        return c;
      };
      batches.forEach((batch) => {
        const c = counts(batch.channel.tenantId);
        c.users++;
        c.messages += batch.messages.length + batch.echoes.length;
      });
      [...statusesByChannel.values()].forEach(({ channel, items }, i) => {
        const c = counts(channel.tenantId);
        c.statuses += items.length;
        const result = statuses[i];
        if (result?.status === 'fulfilled') c.statusesApplied += result.value;
      });
      // Message bodies at debug level only.
      for (const batch of batches) {
        request.log.debug({ tenantId: batch.channel.tenantId, channel: type, externalUserId: batch.userId, messages: batch.messages, echoes: batch.echoes }, 'webhook messages');
      }

      const signalFailures = signals.flatMap((s, i) => (s.status === 'rejected' ? [{ err: s.reason as unknown, batch: batches[i]! }] : []));
      if (signalFailures.length > 0) {
        for (const { err, batch } of signalFailures) {
          request.log.error(
            { err, tenantId: batch.channel.tenantId, channel: type, workflowId: conversationWorkflowId(batch.channel.tenantId, batch.channel.channelId, batch.userId) },
            'could not signal the conversation workflow',
          );
        }
        throw new HttpError(503, 'temporal_unavailable', 'Messages could not be handed over right now; retry later');
      }
      const statusFailure = statuses.find((s) => s.status === 'rejected');
      if (statusFailure) throw statusFailure.reason;
      if (type === 'whatsapp') await recordOptOutKeywords(app.db, batches.map((b) => ({ tenantId: b.channel.tenantId, userId: b.userId, messages: b.messages })));

      for (const [tenantId, c] of perTenant) request.log.info({ tenantId, channel: type, ...c }, 'webhook delivery accepted');
      for (const { publicId, errors } of delivery.errors ?? []) {
        const channel = channels.get(publicId);
        if (channel) request.log.warn({ tenantId: channel.tenantId, channelId: channel.channelId, channel: type, errors }, 'Meta reports errors for the channel');
      }
      if (perTenant.size === 0) request.log.info({ channel: type }, 'webhook delivery had nothing for us');
      return reply.code(200).type('text/plain; charset=utf-8').send(provider.ack);
    },
  );
};
