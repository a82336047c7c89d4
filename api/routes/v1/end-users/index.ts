// GDPR: export everything stored about one end user, or erase it. Erasure first terminates the
// end user's conversation workflow (so nothing is written after the delete), then deletes their
// messages, conversation events and conversations, and records an `end_user.erased` audit event
// naming them only by a SHA-256 fingerprint.
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eraseEndUser, exportEndUser } from '../../../../lib/end-users.ts';
import { conversationWorkflowId } from '../../../../workflows/ids.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, iso } from '../../../schemas/common.ts';
import { messageSchema, messageView } from '../conversations/index.ts';

const params = z.object({
  channel: z.enum(['whatsapp', 'messenger', 'webchat']),
  externalUserId: z.string().min(1).max(200),
});

const endUserRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['end-users (GDPR)'];

  app.get(
    '/:channel/:externalUserId/export',
    {
      schema: {
        tags,
        summary: 'Everything stored about an end user, as JSON',
        params,
        response: {
          200: z.object({
            channel: z.string(),
            externalUserId: z.string(),
            exportedAt: z.string(),
            conversations: z.array(z.record(z.string(), z.unknown())),
            messages: z.array(messageSchema),
            events: z.array(z.record(z.string(), z.unknown())),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const data = await exportEndUser(request.tenantDb, request.params);
      if (!data) throw new HttpError(404, 'not_found', 'No data about this end user');
      request.log.info({ channel: request.params.channel, conversations: data.conversations.length }, 'end user exported');
      return {
        ...request.params,
        exportedAt: new Date().toISOString(),
        conversations: data.conversations.map((c) => ({
          id: c.id,
          channelId: c.channelId,
          status: c.status,
          assignee: c.assignee,
          lastMessageAt: iso(c.lastMessageAt),
          createdAt: iso(c.createdAt),
          updatedAt: iso(c.updatedAt),
        })),
        messages: data.messages.map(messageView),
        events: data.events.map((e) => ({ id: e.id, type: e.type, subjectType: e.subjectType, subjectId: e.subjectId, payload: e.payload, createdAt: iso(e.createdAt) })),
      };
    },
  );

  app.delete(
    '/:channel/:externalUserId',
    {
      schema: {
        tags,
        summary: "Erase an end user's data and end their conversation",
        params,
        response: { 200: z.object({ erased: z.object({ conversations: z.number(), messages: z.number(), events: z.number() }), workflowTerminated: z.boolean() }), ...errorResponses },
      },
    },
    async (request) => {
      const { channel, externalUserId } = request.params;
      const tdb = request.tenantDb;
      const exists = await tdb.conversation.count({ where: { externalUserId, channel: { type: channel } } });
      if (exists === 0) throw new HttpError(404, 'not_found', 'No data about this end user');
      let workflowTerminated = false;
      try {
        await app.temporal.workflow.getHandle(conversationWorkflowId(request.tenantId, channel, externalUserId)).terminate('gdpr erasure');
        workflowTerminated = true;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      const erased = (await eraseEndUser(tdb, { channel, externalUserId }, request.id)) ?? { conversations: 0, messages: 0, events: 0 };
      request.log.info({ channel, ...erased, workflowTerminated }, 'end user erased');
      return { erased, workflowTerminated };
    },
  );
};

export default endUserRoutes;
