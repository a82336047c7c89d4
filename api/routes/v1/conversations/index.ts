// Conversations, read side: the inbox list with filters, one conversation, its messages. Keys of
// scope `agent` may use these routes. (Handoff take/release and agent replies live with the
// conversation workflow's routes; the live feed of changes is ./events.ts.)
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Conversation, Message } from '../../../../generated/prisma/client.ts';
import type { Config } from '../../../../lib/config.ts';
import { CHANNEL_TYPES } from '../../../../lib/channels.ts';
import { conversationsMentioning, likeLiteral } from '../../../../lib/conversation-search.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { channelFileLimits } from '../../../../lib/channel-files.ts';
import eventRoutes from './events.ts';
import mediaRoutes from './media.ts';
import { afterCursor, cursorDate, encodeCursor, decodeCursor, errorResponses, idParams, iso, page, paginationQuery, toPage } from '../../../schemas/common.ts';

const status = z.enum(['active', 'handoff_requested', 'assigned_human', 'closed']);
const channelType = z.enum(CHANNEL_TYPES);
const datetime = z.iso.datetime({ offset: true });

export const conversationSchema = z.object({
  id: z.uuid(),
  channelId: z.uuid(),
  channel: channelType,
  externalUserId: z.string(),
  status,
  assignee: z.string().nullable(),
  workflowId: z.string().nullable(),
  workflowUrl: z
    .string()
    .nullable()
    .describe("The conversation's workflow in the Temporal Web UI (TEMPORAL_UI_URL); null when that is not configured, and for agents"),
  lastInboundAt: z.string().nullable(),
  lastMessageAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** What an agent's message may attach on the conversation's channel (api/outbound-attachments.ts). */
const attachmentLimitsSchema = z
  .object({
    uploadMaxBytes: z.number().int().describe('MEDIA_MAX_BYTES: the largest file a message may upload (`attachment.data`)'),
    imageTypes: z.array(z.string()).describe('Sent as pictures'),
    imageMaxBytes: z.number().int(),
    documentTypes: z.array(z.string()).nullable().describe('The other types the channel takes, sent as files; null: any type'),
    documentMaxBytes: z.number().int(),
  })
  .nullable()
  .describe("The files an agent's message may carry on this conversation's channel; null: it takes none (web chat)");

export const conversationDetailSchema = conversationSchema.extend({ attachmentLimits: attachmentLimitsSchema });

/** A passage an assistant's reply was answered from (recorded with the reply, activities/llm). */
export const sourceSchema = z.object({
  documentId: z.string(),
  chunkId: z.string().nullable(),
  title: z.string(),
  page: z.number().int().nullable(),
  section: z.string().nullable(),
  excerpt: z.string().describe('The start of the passage'),
});

export const messageSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  channel: channelType,
  externalMessageId: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']),
  author: z.enum(['customer', 'assistant', 'agent']).describe('Who wrote it: the end user (inbound), the assistant or a human agent'),
  agentId: z.string().nullable().describe('The agent who sent it (author agent)'),
  text: z.string().nullable().describe("The message's text, when it has one"),
  sources: z.array(sourceSchema).describe("An assistant's reply: the passages it used (none for other messages)"),
  type: z.string(),
  content: z.unknown(),
  status: z.string(),
  error: z.unknown().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Where the Temporal Web UI shows a workflow, for owners, admins and tenant keys (agents get none). */
export function workflowUrlFor(request: FastifyRequest, config: Config, workflowId: string | null): string | null {
  const base = config.TEMPORAL_UI_URL;
  const p = request.principal;
  const agent = (p?.kind === 'user' && p.role === 'agent') || (p?.kind === 'tenant' && p.scope === 'agent');
  if (!base || !workflowId || agent) return null;
  return `${base}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function conversationView(c: Conversation & { channel: { type: z.infer<typeof channelType> } }, workflowUrl: string | null = null): z.infer<typeof conversationSchema> {
  return {
    id: c.id,
    channelId: c.channelId,
    channel: c.channel.type,
    externalUserId: c.externalUserId,
    status: c.status,
    assignee: c.assignee,
    workflowId: c.workflowId,
    workflowUrl,
    lastInboundAt: iso(c.lastInboundAt),
    lastMessageAt: iso(c.lastMessageAt),
    createdAt: iso(c.createdAt)!,
    updatedAt: iso(c.updatedAt)!,
  };
}

const storedSources = z.array(sourceSchema.partial({ chunkId: true, section: true, excerpt: true }));

export function messageView(m: Message): z.infer<typeof messageSchema> {
  const content = (m.content ?? {}) as { text?: unknown; author?: unknown; agentId?: unknown; sources?: unknown };
  const agent = m.direction === 'outbound' && content.author === 'agent';
  const sources = storedSources.safeParse(content.sources ?? []);
  return {
    id: m.id,
    conversationId: m.conversationId,
    channel: m.channel,
    externalMessageId: m.externalMessageId,
    direction: m.direction,
    author: m.direction === 'inbound' ? 'customer' : agent ? 'agent' : 'assistant',
    agentId: agent && typeof content.agentId === 'string' ? content.agentId : null,
    text: typeof content.text === 'string' ? content.text : null,
    sources: sources.success ? sources.data.map((s) => ({ chunkId: null, section: null, excerpt: '', ...s })) : [],
    type: m.type,
    content: m.content,
    status: m.status,
    error: m.error ?? null,
    createdAt: iso(m.createdAt)!,
    updatedAt: iso(m.updatedAt)!,
  };
}

const conversationRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['conversations'];
  const config = { allowAgentKey: true };
  await app.register(eventRoutes);
  await app.register(mediaRoutes);

  app.get(
    '/',
    {
      config,
      schema: {
        tags,
        summary: 'List conversations, most recent activity first',
        querystring: paginationQuery
          .extend({
            status: status.optional(),
            channelId: z.uuid().optional(),
            channel: channelType.optional().describe('Channel type'),
            assignee: z.string().min(1).max(200).optional().describe('Held by this agent'),
            assigned: z
              .enum(['me', 'anyone', 'unassigned'])
              .optional()
              .describe('Held by the caller (a signed-in user, or an agent key), by any agent, or by none'),
            waiting: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: waiting for a person (handed over and not taken yet, or held and the customer spoke last); false: the others'),
            q: z.string().trim().min(1).max(200).optional().describe("Text in one of the conversation's recent messages, or in the end user's id (any case)"),
            externalUserId: z.string().min(1).max(200).optional(),
            since: datetime.optional().describe('lastMessageAt at or after'),
            until: datetime.optional().describe('lastMessageAt before'),
          })
          .strict(),
        response: { 200: page(conversationSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const tdb = request.tenantDb;
      const lastMessageAt = tdb.conversation.fields.lastMessageAt;
      // The customer spoke last: last_inbound_at and last_message_at move together on an inbound message.
      const waitingNow = { OR: [{ status: 'handoff_requested' as const }, { status: 'assigned_human' as const, lastInboundAt: { equals: lastMessageAt } }] };
      const waiting = q.waiting === undefined ? {} : q.waiting === 'true' ? waitingNow : { NOT: waitingNow };
      const assigned = q.assigned === undefined ? {} : q.assigned === 'me' ? { assignee: callerAgent(request) } : { assignee: q.assigned === 'anyone' ? { not: null } : null };
      const text = q.q === undefined ? {} : { OR: [{ id: { in: await conversationsMentioning(app.db, request.tenantId, q.q) } }, { externalUserId: { contains: likeLiteral(q.q), mode: 'insensitive' as const } }] };
      const range = q.since || q.until ? { lastMessageAt: { ...(q.since ? { gte: new Date(q.since) } : {}), ...(q.until ? { lt: new Date(q.until) } : {}) } } : {};
      const rows = await tdb.conversation.findMany({
        where: {
          AND: [
            {
              ...(q.status ? { status: q.status } : {}),
              ...(q.channelId ? { channelId: q.channelId } : {}),
              ...(q.channel ? { channel: { type: q.channel } } : {}),
              ...(q.assignee ? { assignee: q.assignee } : {}),
              ...(q.externalUserId ? { externalUserId: q.externalUserId } : {}),
              ...range,
            },
            waiting,
            assigned,
            text,
            afterCursor('lastMessageAt', q.cursor, { date: true, nullable: true }),
          ],
        },
        orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }],
        take: q.limit + 1,
        include: { channel: { select: { type: true } } },
      });
      const p = toPage(rows, q.limit, (c) => c.lastMessageAt);
      return { items: p.items.map((c) => conversationView(c, workflowUrlFor(request, app.config, c.workflowId))), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/:id',
    { config, schema: { tags, summary: 'Get a conversation, with what its channel takes as attachments', params: idParams, response: { 200: conversationDetailSchema, ...errorResponses } } },
    async (request) => {
      const c = await request.tenantDb.conversation.findUnique({ where: { id: request.params.id }, include: { channel: { select: { type: true } } } });
      if (!c) throw new HttpError(404, 'not_found', 'Conversation not found');
      const limits = channelFileLimits(c.channel.type);
      const attachmentLimits = limits ? { uploadMaxBytes: app.config.MEDIA_MAX_BYTES, ...limits } : null;
      return { ...conversationView(c, workflowUrlFor(request, app.config, c.workflowId)), attachmentLimits };
    },
  );

  app.get(
    '/:id/messages',
    {
      config,
      schema: {
        tags,
        summary: "A conversation's messages, newest first by default",
        params: idParams,
        querystring: paginationQuery.extend({ order: z.enum(['desc', 'asc']).default('desc') }).strict(),
        response: { 200: page(messageSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor, order } = request.query;
      const tdb = request.tenantDb;
      if ((await tdb.conversation.count({ where: { id: request.params.id } })) === 0) throw new HttpError(404, 'not_found', 'Conversation not found');
      let after = {};
      if (cursor) {
        const { value, id } = decodeCursor(cursor);
        const at = value === null ? undefined : cursorDate(value);
        if (!at || !z.uuid().safeParse(id).success) {
          throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
        }
        const op = order === 'desc' ? 'lt' : 'gt';
        after = { OR: [{ createdAt: { [op]: at } }, { createdAt: at, id: { [op]: id } }] };
      }
      const rows = await tdb.message.findMany({
        where: { AND: [{ conversationId: request.params.id }, after] },
        orderBy: [{ createdAt: order }, { id: order }],
        take: limit + 1,
      });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items: items.map(messageView), nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
    },
  );
};

/** The agent "me" names: a signed-in user, or the agent an agent key is bound to. */
function callerAgent(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.kind === 'user') return p.userId;
  if (p?.kind === 'tenant' && p.scope === 'agent' && p.agentId) return p.agentId;
  throw new HttpError(400, 'validation_error', 'Invalid query: /assigned "me" needs a signed-in user or an agent key bound to an agent');
}

export default conversationRoutes;
