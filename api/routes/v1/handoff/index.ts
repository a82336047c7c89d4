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
//   conversation is held by another agent)           → 409 handoff_conflict, a neutral message
//                                                        (never who holds it: conflictMessage)
//   an agent key naming another agent than its own,
//   or a signed-in user naming anyone but themselves → 403 agent_mismatch
//   Temporal unreachable, or no answer in time        → 503
//
// Who acts: a signed-in user acts as themselves (the agent id is their user id), and a key of
// scope `agent` as the agent it was created for (`api_keys.agent_id`); either way `agentId` in
// the body may be left out, and naming anyone else answers 403. A tenant key acts
// for whichever agent it names (the tenant's own systems are trusted to say who), and must name
// one (400). Agent keys created before keys were bound have no agent and act like tenant keys
// until they are replaced (README "Security and data decisions").
//
// Take, release and agent messages are workflow updates named by an optional Idempotency-Key
// (api/idempotency.ts): a retry with the same key joins the first request's update. An agent
// message answers 200 with the send's outcome when it comes within AGENT_MESSAGE_WAIT_MS, else
// 202 pending with the message id it will have; the workflow sends it regardless.
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  type WorkflowHandle,
} from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { agentMessageUpdate, releaseUpdate, requestHandoffSignal, takeOverUpdate } from '../../../../workflows/conversation.ts';
import type { AgentMessageResult, OutboundAttachment } from '../../../../workflows/types.ts';
import { createDocumentStorage } from '../../../../lib/storage.ts';
import { attachmentSchema, resolveAttachment, type AttachmentRef } from '../../../outbound-attachments.ts';
import { conversationUpdateId, freshIdempotencyKey, idempotencyHeaders, messageIdOfUpdate } from '../../../idempotency.ts';
import { choiceSetSchema } from '../../../../lib/choices.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, idParams } from '../../../schemas/common.ts';

/** How long a signal may take to reach Temporal. */
export const SIGNAL_DEADLINE_MS = 5_000;
/**
 * How long an update may take to be answered (take/release) or accepted (agent message). A
 * running worker answers in milliseconds.
 */
export const UPDATE_DEADLINE_MS = 15_000;
/**
 * How long an accepted agent message is waited for before the route answers 202 pending. The
 * send itself may take longer (the workflow retries the channel for minutes).
 */
export const AGENT_MESSAGE_WAIT_MS = 3_000;

const agentId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .optional()
  .describe('Who acts: the human agent\'s id in your system. Required with a tenant key; an agent key acts as its own agent, a signed-in user as themselves (their user id; another id answers 403)');

/** The agent a request acts as (see the file comment). */
export function actingAgent(request: FastifyRequest, named: string | undefined): string {
  const principal = request.principal;
  // A signed-in user acts as themselves, whatever their role: the agent id is the user's id.
  if (principal?.kind === 'user') {
    if (named !== undefined && named !== principal.userId) throw new HttpError(403, 'agent_mismatch', 'A signed-in user acts as themselves only: agentId, if sent, must be your user id');
    return principal.userId;
  }
  const bound = principal?.kind === 'tenant' && principal.scope === 'agent' ? principal.agentId : null;
  if (bound !== null) {
    if (named !== undefined && named !== bound) throw new HttpError(403, 'agent_mismatch', 'This key acts for its own agent only: agentId must be the one it was created for');
    return bound;
  }
  if (named === undefined) throw new HttpError(400, 'validation_error', 'Invalid body: /agentId is required with this key');
  return named;
}

/** Validator refusals the API repeats as they are; anything else (e.g. one naming the holder) becomes neutral. */
const NEUTRAL_CONFLICTS: [RegExp, string][] = [
  [/held by another agent/, 'The conversation is held by another agent'],
  [/^the conversation is closed$/, 'The conversation is closed'],
  [/^no agent holds the conversation/, 'No agent holds the conversation: take it over first'],
  [/^agentId is required$/, 'agentId is required'],
];

/** The 409's message for a workflow validator's refusal: never who holds the conversation. */
export function conflictMessage(message: string): string {
  return NEUTRAL_CONFLICTS.find(([pattern]) => pattern.test(message))?.[1] ?? 'The conversation cannot do this in its current state';
}

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
  messageId: z.string().describe('The stored message\'s id'),
  reason: z.string().optional().describe('Why it failed, e.g. outside_customer_service_window'),
});

const agentMessagePending = z.object({
  status: z.literal('pending'),
  messageId: z.uuid().describe('The id the stored message has (or will have once the workflow stores it)'),
});

const AGENT_MESSAGE_DESCRIPTION = [
  'Answers 200 with the outcome when the send finishes within a few seconds, else 202 `pending` with the message id:',
  'the message goes out regardless, and its row (GET /conversations/{id}/messages) shows the status.',
  'Send an Idempotency-Key to make retries safe: the same key on the same conversation joins the first request',
  '(one message, one send, the same messageId) and answers 202 while it is in flight, then its outcome.',
  'Without a key every request is a new message: a retry after a timeout or a 5xx may send it twice.',
  'Keys are remembered while the conversation\'s workflow run lives; after the run ends (the conversation closes)',
  'or continues as new (a long conversation, every few thousand events), the same key is a new message.',
  'A key reused with a different text answers the first request\'s outcome.',
  '409 handoff_conflict: the conversation is not held by this agent; 409 conversation_closed: it has no running workflow.',
  '403 agent_mismatch: an agent key named another agent than its own, or a signed-in user someone else.',
  '`choices`: options the customer can tap (WhatsApp reply buttons or a list, Messenger a button template or quick replies, web chat buttons, Instagram numbered lines);',
  'the pick comes back as the customer\'s next message. Outside the customer\'s 24-hour window a message is not sent (status failed, reason',
  'outside_customer_service_window), except on Messenger, where a person\'s reply within 7 days of the customer\'s last message goes out',
  'with the HUMAN_AGENT tag and a later one fails with reason outside_human_agent_window.',
  '`attachment` sends a file after the text (the text may then be empty): a message\'s stored file (`messageId`), a document\'s original (`documentId`),',
  'or bytes (`filename`, `mimeType`, base64 `data`, at most MEDIA_MAX_BYTES: 413 beyond). JPEG and PNG go as images, anything else as a document',
  '(Instagram: JPEG, PNG and GIF images up to 8 MB; MP4, Ogg, WebM, QuickTime and AVI video, AAC, M4A and WAV audio, and PDF files up to 25 MB;',
  'web chat: any file up to 100 MB, shown to the visitor as a link, JPEG, PNG, GIF and WebP as pictures);',
  '400 invalid_attachment when the file is missing, of a type the channel does not take, or larger than it takes.',
  'GET /conversations/{id} says what its channel takes (`attachmentLimits`).',
].join(' ');

const responses = { ...errorResponses, 503: errorBody } as const;
const messageResponses = { ...responses, 413: errorBody } as const;

const closed = () => new HttpError(409, 'conversation_closed', 'The conversation is closed: it has no running workflow');

/** Temporal's answers as HTTP errors (see the file comment); anything else is rethrown (500). */
export function handoffError(err: unknown): unknown {
  if (err instanceof WorkflowNotFoundError) return closed();
  if (err instanceof WorkflowUpdateFailedError) {
    return new HttpError(409, 'handoff_conflict', conflictMessage(err.cause?.message || err.message));
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
  const storage = createDocumentStorage(app.config);
  const config = { allowAgentKey: true };

  /** The conversation's workflow, as the conversation stored it, and its channel, if the conversation is the caller tenant's. */
  async function conversationOf(request: FastifyRequest, id: string): Promise<{ handle: WorkflowHandle; channel: string }> {
    const c = await request.tenantDb.conversation.findUnique({ where: { id }, select: { workflowId: true, channel: { select: { type: true } } } });
    if (!c) throw new HttpError(404, 'not_found', 'Conversation not found');
    if (!c.workflowId) throw closed();
    return { handle: app.temporal.workflow.getHandle(c.workflowId), channel: c.channel.type };
  }

  /** The stored file an agent's message sends, checked against the conversation's channel. */
  async function attachmentFor(request: FastifyRequest, id: string, ref: AttachmentRef): Promise<OutboundAttachment> {
    const c = await request.tenantDb.conversation.findUnique({ where: { id }, select: { channel: { select: { type: true } } } });
    if (!c) throw new HttpError(404, 'not_found', 'Conversation not found');
    if (!('data' in ref)) return resolveAttachment(request.tenantDb, storage, request.tenantId, c.channel.type, ref);
    const bytes = Math.floor((ref.data.length * 3) / 4);
    if (bytes > app.config.MEDIA_MAX_BYTES) throw new HttpError(413, 'payload_too_large', `The attachment is larger than MEDIA_MAX_BYTES (${app.config.MEDIA_MAX_BYTES} bytes)`);
    try {
      return await resolveAttachment(request.tenantDb, storage, request.tenantId, c.channel.type, ref);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      request.log.warn({ err }, 'could not store an attachment');
      throw new HttpError(503, 'storage_unavailable', 'The attachment could not be stored right now; try again later');
    }
  }

  async function workflowOf(request: FastifyRequest, id: string): Promise<WorkflowHandle> {
    return (await conversationOf(request, id)).handle;
  }

  async function withWorkflow<T>(request: FastifyRequest, id: string, deadlineMs: number, call: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    const handle = await workflowOf(request, id);
    return within(request, handle, deadlineMs, () => call(handle));
  }

  async function within<T>(request: FastifyRequest, handle: WorkflowHandle, deadlineMs: number, call: () => Promise<T>): Promise<T> {
    try {
      return await app.temporal.connection.withDeadline(Date.now() + deadlineMs, call);
    } catch (err) {
      const mapped = handoffError(err);
      if (mapped instanceof HttpError && mapped.statusCode >= 500) request.log.warn({ err, workflowId: handle.workflowId }, 'conversation workflow unavailable');
      throw mapped;
    }
  }

  /** The update id of a request's action: from its Idempotency-Key, or Temporal's own random one. */
  const updateIdOf = (action: 'take' | 'release', id: string, key: string | undefined) => (key === undefined ? {} : { updateId: conversationUpdateId(action, id, key) });

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
      const { handle, channel } = await conversationOf(request, request.params.id);
      await within(request, handle, SIGNAL_DEADLINE_MS, () => handle.signal(requestHandoffSignal, { reason }));
      // Counted as asked: the workflow ignores a request for a conversation already with a person.
      app.platformMetrics.handoff(request.tenantId, channel, 'agent');
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
        headers: idempotencyHeaders,
        body: z.object({ agentId }).strict(),
        response: { 200: snapshotSchema, ...responses },
      },
    },
    async (request) => {
      const agent = actingAgent(request, request.body.agentId);
      const updateId = updateIdOf('take', request.params.id, request.headers['idempotency-key']);
      const snapshot = await withWorkflow(request, request.params.id, UPDATE_DEADLINE_MS, (handle) =>
        handle.executeUpdate(takeOverUpdate, { args: [{ agentId: agent }], ...updateId }),
      );
      request.log.info({ conversationId: request.params.id, agentId: agent }, 'conversation taken over');
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
        headers: idempotencyHeaders,
        body: z.object({ agentId }).strict(),
        response: { 200: snapshotSchema, ...responses },
      },
    },
    async (request) => {
      const agent = actingAgent(request, request.body.agentId);
      const updateId = updateIdOf('release', request.params.id, request.headers['idempotency-key']);
      const snapshot = await withWorkflow(request, request.params.id, UPDATE_DEADLINE_MS, (handle) =>
        handle.executeUpdate(releaseUpdate, { args: [{ agentId: agent }], ...updateId }),
      );
      request.log.info({ conversationId: request.params.id, agentId: agent }, 'conversation released');
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
        description: AGENT_MESSAGE_DESCRIPTION,
        params: idParams,
        headers: idempotencyHeaders,
        body: z
          .object({
            agentId, text: z.string().max(4096).default('').describe('May be empty when an attachment is sent'), attachment: attachmentSchema.optional(),
            choices: choiceSetSchema.optional(),
          })
          .strict()
          .refine((b) => !b.choices || b.text.trim() !== '', { message: 'choices need a text to go with', path: ['choices'] })
          .refine((b) => b.text.trim() !== '' || b.attachment !== undefined, { message: 'text or attachment is required', path: ['text'] }),
        response: { 200: agentMessageResult, 202: agentMessagePending, ...messageResponses },
      },
      // An uploaded attachment comes base64-encoded in the JSON body.
      bodyLimit: Math.ceil(app.config.MEDIA_MAX_BYTES * 1.37) + 64 * 1024,
    },
    async (request, reply) => {
      const { id } = request.params;
      const { text } = request.body;
      const agent = actingAgent(request, request.body.agentId);
      const key = request.headers['idempotency-key'];
      const updateId = conversationUpdateId('agent-message', id, key ?? freshIdempotencyKey());
      const messageId = messageIdOfUpdate(updateId);
      // Temporal joins a retry to its update only within one workflow run; a conversation
      // continues as new every few messages, so a retry that comes after is answered from the row
      // the first request stored (its id is the key's), and nothing is sent again.
      if (key !== undefined) {
        const stored = await storedAgentMessage(request, id, messageId);
        if (stored) return reply.code(stored.status === 'pending' ? 202 : 200).send(stored);
      }
      const attachment = request.body.attachment && (await attachmentFor(request, id, request.body.attachment));
      const handle = await workflowOf(request, id);
      // Accepted (the validator passed and the update is in the workflow's history) or refused.
      const update = await within(request, handle, UPDATE_DEADLINE_MS, () =>
        handle.startUpdate(agentMessageUpdate, {
          args: [{ agentId: agent, text, messageId, ...(attachment && { attachment }), ...(request.body.choices && { choices: request.body.choices }) }],
          updateId,
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
      );
      let result: AgentMessageResult;
      try {
        result = await app.temporal.connection.withDeadline(Date.now() + AGENT_MESSAGE_WAIT_MS, () => update.result());
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw handoffError(err);
        // Still sending, or Temporal stopped answering after accepting it: the workflow sends it
        // either way, and a retry with the same key joins this update.
        if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)) request.log.warn({ err, workflowId: handle.workflowId }, 'agent message accepted; its outcome could not be read');
        request.log.info({ conversationId: id, agentId: agent, messageId, idempotencyKey: key !== undefined }, 'agent message pending');
        return reply.code(202).send({ status: 'pending' as const, messageId });
      }
      request.log.info({ conversationId: id, agentId: agent, messageId: result.messageId, status: result.status, idempotencyKey: key !== undefined }, 'agent message');
      return reply.code(200).send(result);
    },
  );
};

/** The outcome of an agent message already stored under this id, as the route answers it. */
async function storedAgentMessage(request: FastifyRequest, conversationId: string, messageId: string) {
  const row = await request.tenantDb.message.findFirst({ where: { id: messageId, conversationId, direction: 'outbound' }, select: { status: true, error: true } });
  if (!row) return undefined;
  if (row.status === 'pending') return { status: 'pending' as const, messageId };
  if (row.status === 'failed') {
    const reason = (row.error as { reason?: unknown } | null)?.reason;
    return { status: 'failed' as const, messageId, ...(typeof reason === 'string' && { reason }) };
  }
  return { status: 'sent' as const, messageId };
}

export default handoffRoutes;
