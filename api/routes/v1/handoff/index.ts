// Human handoff: ask for a human, take a conversation over, release it, and reply as the agent.
// Each route talks to the conversation's workflow (workflows/conversation.ts), which owns the
// state machine and decides; these routes only find the workflow and translate its answer.
// The workflow is the one stored on the conversation (`conversations.workflow_id`, written by
// the workflow's first activity), never an id rebuilt from the conversation's fields.
// Keys of scope `agent` may use them.
//
//   conversation not of this tenant                  → 404
//   no running workflow (closed, never started, or
//   no workflow id stored)                           → 409 conversation_closed
//   the workflow's validator refused (e.g. the
//   conversation is held by another agent)           → 409 handoff_conflict with its message
//   Temporal unreachable, or no answer in time        → 503
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type WorkflowHandle } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { agentMessageUpdate, releaseUpdate, requestHandoffSignal, takeOverUpdate } from '../../../../workflows/conversation.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, idParams } from '../../../schemas/common.ts';

/** How long a signal may take to reach Temporal. */
export const SIGNAL_DEADLINE_MS = 5_000;
/**
 * How long an update may take to answer. A running worker answers take/release in milliseconds;
 * an agent message waits for the channel send, which the workflow bounds itself.
 */
export const UPDATE_DEADLINE_MS = 15_000;

const agentId = z.string().trim().min(1).max(200).describe('Who acts: the human agent\'s id in your system');

export const snapshotSchema = z.object({
  conversationId: z.string().nullable(),
  status: z.enum(['active', 'handoff_requested', 'assigned_human', 'closed']),
  handoff: z.enum(['none', 'requested', 'assigned']),
  assignee: z.string().nullable(),
  pending: z.number().int().describe('End-user messages not answered yet'),
  lastInboundAt: z.number().nullable().describe('Last end-user message, ms since the epoch'),
  repliesSent: z.number().int(),
});

const agentMessageResult = z.object({
  status: z.enum(['sent', 'failed']),
  messageId: z.string(),
  reason: z.string().optional(),
});

const responses = { ...errorResponses, 503: errorBody } as const;

const closed = () => new HttpError(409, 'conversation_closed', 'The conversation is closed: it has no running workflow');

/** Temporal's answers as HTTP errors (see the file comment); anything else is rethrown (500). */
export function handoffError(err: unknown): unknown {
  if (err instanceof WorkflowNotFoundError) return closed();
  if (err instanceof WorkflowUpdateFailedError) {
    return new HttpError(409, 'handoff_conflict', err.cause?.message || err.message);
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new HttpError(503, 'conversation_unavailable', 'The conversation did not answer in time; retry later');
  }
  if (err instanceof ServiceError || isGrpcServiceError(err)) {
    return new HttpError(503, 'temporal_unavailable', 'Conversations are unavailable right now; retry later');
  }
  return err;
}

const handoffRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['handoff'];
  const config = { allowAgentKey: true };

  /** The conversation's workflow, as the conversation stored it, if the conversation is the caller tenant's. */
  async function workflowOf(request: FastifyRequest, id: string): Promise<WorkflowHandle> {
    const c = await request.tenantDb.conversation.findUnique({ where: { id }, select: { workflowId: true } });
    if (!c) throw new HttpError(404, 'not_found', 'Conversation not found');
    if (!c.workflowId) throw closed();
    return app.temporal.workflow.getHandle(c.workflowId);
  }

  async function withWorkflow<T>(request: FastifyRequest, id: string, deadlineMs: number, call: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    const handle = await workflowOf(request, id);
    try {
      return await app.temporal.connection.withDeadline(Date.now() + deadlineMs, () => call(handle));
    } catch (err) {
      const mapped = handoffError(err);
      if (mapped instanceof HttpError && mapped.statusCode >= 500) request.log.warn({ err, workflowId: handle.workflowId }, 'conversation workflow unavailable');
      throw mapped;
    }
  }

  app.post(
    '/:id/handoff',
    {
      config,
      schema: {
        tags,
        summary: 'Ask for a human agent to take the conversation',
        params: idParams,
        body: z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict().nullish().describe('Optional; no body is fine'),
        response: { 202: z.object({ conversationId: z.uuid(), accepted: z.literal(true) }), ...responses },
      },
    },
    async (request, reply) => {
      const reason = request.body?.reason ?? 'Requested through the API';
      await withWorkflow(request, request.params.id, SIGNAL_DEADLINE_MS, (handle) => handle.signal(requestHandoffSignal, { reason }));
      request.log.info({ conversationId: request.params.id }, 'handoff requested');
      return reply.code(202).send({ conversationId: request.params.id, accepted: true as const });
    },
  );

  app.post(
    '/:id/take',
    {
      config,
      schema: {
        tags,
        summary: 'Take the conversation over as a human agent (the assistant stops answering)',
        params: idParams,
        body: z.object({ agentId }).strict(),
        response: { 200: snapshotSchema, ...responses },
      },
    },
    async (request) => {
      const snapshot = await withWorkflow(request, request.params.id, UPDATE_DEADLINE_MS, (handle) => handle.executeUpdate(takeOverUpdate, { args: [{ agentId: request.body.agentId }] }));
      request.log.info({ conversationId: request.params.id, agentId: request.body.agentId }, 'conversation taken over');
      return snapshot;
    },
  );

  app.post(
    '/:id/release',
    {
      config,
      schema: {
        tags,
        summary: 'Hand the conversation back to the assistant',
        params: idParams,
        body: z.object({ agentId }).strict(),
        response: { 200: snapshotSchema, ...responses },
      },
    },
    async (request) => {
      const snapshot = await withWorkflow(request, request.params.id, UPDATE_DEADLINE_MS, (handle) => handle.executeUpdate(releaseUpdate, { args: [{ agentId: request.body.agentId }] }));
      request.log.info({ conversationId: request.params.id, agentId: request.body.agentId }, 'conversation released');
      return snapshot;
    },
  );

  app.post(
    '/:id/messages',
    {
      config,
      schema: {
        tags,
        summary: 'Send a message to the end user as the human agent holding the conversation',
        params: idParams,
        body: z.object({ agentId, text: z.string().min(1).max(4096) }).strict(),
        response: { 200: agentMessageResult, ...responses },
      },
    },
    async (request) => {
      const { agentId: agent, text } = request.body;
      const result = await withWorkflow(request, request.params.id, UPDATE_DEADLINE_MS, (handle) => handle.executeUpdate(agentMessageUpdate, { args: [{ agentId: agent, text }] }));
      request.log.info({ conversationId: request.params.id, agentId: agent, status: result.status }, 'agent message');
      return result;
    },
  );
};

export default handoffRoutes;
