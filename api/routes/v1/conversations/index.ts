// Conversations, read side: the inbox list with filters, one conversation, its messages. Keys of
// scope `agent` may use these routes. (Handoff take/release and agent replies live with the
// conversation workflow's routes.)
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Conversation, Message } from '../../../../generated/prisma/client.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, encodeCursor, decodeCursor, errorResponses, idParams, iso, page, paginationQuery, toPage } from '../../../schemas/common.ts';

const status = z.enum(['active', 'handoff_requested', 'assigned_human', 'closed']);
const channelType = z.enum(['whatsapp', 'messenger', 'webchat']);
const datetime = z.iso.datetime({ offset: true });

export const conversationSchema = z.object({
  id: z.uuid(),
  channelId: z.uuid(),
  channel: channelType,
  externalUserId: z.string(),
  status,
  assignee: z.string().nullable(),
  workflowId: z.string().nullable(),
  lastInboundAt: z.string().nullable(),
  lastMessageAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const messageSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  channel: channelType,
  externalMessageId: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']),
  type: z.string(),
  content: z.unknown(),
  status: z.string(),
  error: z.unknown().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function conversationView(c: Conversation & { channel: { type: z.infer<typeof channelType> } }): z.infer<typeof conversationSchema> {
  return {
    id: c.id,
    channelId: c.channelId,
    channel: c.channel.type,
    externalUserId: c.externalUserId,
    status: c.status,
    assignee: c.assignee,
    workflowId: c.workflowId,
    lastInboundAt: iso(c.lastInboundAt),
    lastMessageAt: iso(c.lastMessageAt),
    createdAt: iso(c.createdAt)!,
    updatedAt: iso(c.updatedAt)!,
  };
}

export function messageView(m: Message): z.infer<typeof messageSchema> {
  return {
    id: m.id,
    conversationId: m.conversationId,
    channel: m.channel,
    externalMessageId: m.externalMessageId,
    direction: m.direction,
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
            assignee: z.string().min(1).max(200).optional(),
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
      const range = q.since || q.until ? { lastMessageAt: { ...(q.since ? { gte: new Date(q.since) } : {}), ...(q.until ? { lt: new Date(q.until) } : {}) } } : {};
      const rows = await request.tenantDb.conversation.findMany({
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
            afterCursor('lastMessageAt', q.cursor, { date: true, nullable: true }),
          ],
        },
        orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }],
        take: q.limit + 1,
        include: { channel: { select: { type: true } } },
      });
      const p = toPage(rows, q.limit, (c) => c.lastMessageAt);
      return { items: p.items.map(conversationView), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/:id',
    { config, schema: { tags, summary: 'Get a conversation', params: idParams, response: { 200: conversationSchema, ...errorResponses } } },
    async (request) => {
      const c = await request.tenantDb.conversation.findUnique({ where: { id: request.params.id }, include: { channel: { select: { type: true } } } });
      if (!c) throw new HttpError(404, 'not_found', 'Conversation not found');
      return conversationView(c);
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
        const at = new Date(String(value));
        if (value === null || Number.isNaN(at.getTime()) || !z.uuid().safeParse(id).success) {
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

export default conversationRoutes;
