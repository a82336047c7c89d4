// GDPR: export everything stored about one end user, or erase it. Erasure first terminates the
// end user's conversation workflows (so nothing is written after the delete), then deletes their
// messages, conversation events and conversations, and records an `end_user.erased` audit event
// naming them only by a SHA-256 fingerprint. An end user of a channel type may have several
// conversations (one person writing to two WhatsApp numbers of the tenant has two), each with
// its own workflow, found from the stored `conversations.workflow_id` (and, during the move to
// per-channel ids, the legacy per-type id too).
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNEL_TYPES } from '../../../../lib/channels.ts';
import { endUserMediaKeys, endUserWorkflowIds, eraseEndUser, exportEndUser } from '../../../../lib/end-users.ts';
import { createDocumentStorage } from '../../../../lib/storage.ts';
import { legacyConversationWorkflowId } from '../../../../workflows/ids.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, iso } from '../../../schemas/common.ts';
import { messageSchema, messageView } from '../conversations/index.ts';

/** How long terminating one workflow may take before the erasure answers 503 (nothing deleted). */
const TERMINATE_DEADLINE_MS = 5_000;

const params = z.object({
  channel: z.enum(CHANNEL_TYPES),
  /** As long as a webhook may give it (api/webhooks/envelopes.ts), and the router takes (MAX_PATH_PARAM_LENGTH). */
  externalUserId: z.string().min(1).max(512),
});

const endUserRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['end-users (GDPR)'];
  const storage = createDocumentStorage(app.config);

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
        summary: "Erase an end user's data and end their conversations",
        description:
          'Terminates the workflow of every conversation the end user has on channels of this type, then deletes their data. ' +
          'workflowsTerminated counts the workflows that were still running; workflowTerminated is true when there was at least one. ' +
          '503: Temporal could not be reached, nothing was deleted; retry.',
        params,
        response: {
          200: z.object({
            erased: z.object({ conversations: z.number(), messages: z.number(), events: z.number() }),
            workflowTerminated: z.boolean(),
            workflowsTerminated: z.number().int(),
          }),
          ...errorResponses,
          503: errorBody,
        },
      },
    },
    async (request) => {
      const { channel, externalUserId } = request.params;
      const tdb = request.tenantDb;
      const stored = await endUserWorkflowIds(tdb, { channel, externalUserId });
      if (stored === undefined) throw new HttpError(404, 'not_found', 'No data about this end user');
      // Plus the run of the per-type id conversations had before ids named the channel: while one
      // may still run, it is this very end user's (and a row may already name its successor).
      const workflowIds = [...new Set([...stored, legacyConversationWorkflowId(request.tenantId, channel, externalUserId)])];
      let workflowsTerminated = 0;
      for (const workflowId of workflowIds) {
        try {
          await app.temporal.connection.withDeadline(Date.now() + TERMINATE_DEADLINE_MS, () => app.temporal.workflow.getHandle(workflowId).terminate('gdpr erasure'));
          workflowsTerminated++;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) continue;
          request.log.warn({ err, workflowId }, 'could not end the conversation workflow of an end user to erase');
          throw new HttpError(503, 'temporal_unavailable', 'The conversations could not be ended right now; nothing was erased; retry later');
        }
      }
      const files = await endUserMediaKeys(tdb, { channel, externalUserId });
      const erased = (await eraseEndUser(tdb, { channel, externalUserId }, request.id)) ?? { conversations: 0, messages: 0, events: 0 };
      // The files they sent go with their messages; one the storage cannot delete now is logged, not fatal (the rows are gone).
      const left = (await Promise.allSettled(files.map((key) => storage.delete(key)))).filter((r) => r.status === 'rejected').length;
      if (left > 0) request.log.warn({ channel, files: files.length, left }, 'some files of an erased end user could not be deleted');
      request.log.info({ channel, ...erased, files: files.length, workflowsTerminated }, 'end user erased');
      return { erased, workflowTerminated: workflowsTerminated > 0, workflowsTerminated };
    },
  );
};

export default endUserRoutes;
