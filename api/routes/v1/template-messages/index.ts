// Sending an approved WhatsApp template: to a conversation (an agent in the inbox, typically once
// the 24-hour customer service window has closed and free text would fail) or to any phone number
// (a proactive message, which starts the customer's conversation). The parameters are checked
// against the template before anything is stored (400 invalid_template_parameters naming each);
// the send runs in a templateMessage workflow, answered within a few seconds (200) or else 202
// pending with the message id. An Idempotency-Key names the message: a retry joins the first send.
//
//   conversation / channel not the tenant's        → 404
//   no such template on the channel                → 404 template_not_found
//   not a WhatsApp conversation / channel          → 409 not_whatsapp
//   template not APPROVED                          → 409 template_not_approved
//   proactive message to an opted-out customer     → 409 opted_out
//   Temporal unreachable                           → 503
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isOptedOut } from '../../../../lib/opt-outs.ts';
import { phoneNumberSchema } from '../../../../lib/whatsapp-templates.ts';
import { idempotencyHeaders } from '../../../idempotency.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, idParams } from '../../../schemas/common.ts';
import { checkedTemplate, sendTemplateThroughWorkflow, templateMessageId, templateSendBody, templateSendResultSchema } from '../../../template-sending.ts';
import { actingAgent } from '../handoff/index.ts';

const responses = { 200: templateSendResultSchema, 202: templateSendResultSchema, ...errorResponses, 503: errorBody } as const;
const notWhatsApp = () => new HttpError(409, 'not_whatsapp', 'Templates can be sent on WhatsApp channels only');

const templateMessageRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['templates'];

  app.post(
    '/conversations/:id/template-messages',
    {
      config: { allowAgentKey: true },
      schema: {
        tags,
        summary: 'Sends an approved WhatsApp template in the conversation (allowed when the 24-hour service window is closed)',
        description:
          'Answers 200 with the outcome, or 202 pending when the send takes longer. The message is stored in the conversation with its rendered text. ' +
          'The same Idempotency-Key on the same conversation is the same message. Agents send to customers who opted out of proactive messages too: ' +
          'they are answering the customer.',
        params: idParams,
        headers: idempotencyHeaders,
        body: z.strictObject({ ...templateSendBody, agentId: z.string().trim().min(1).max(200).optional().describe('Who sends it (see POST /conversations/{id}/messages)') }),
        response: responses,
      },
    },
    async (request, reply) => {
      const conversation = await request.tenantDb.conversation.findUnique({
        where: { id: request.params.id },
        select: { channelId: true, externalUserId: true, channel: { select: { type: true } } },
      });
      if (!conversation) throw new HttpError(404, 'not_found', 'Conversation not found');
      if (conversation.channel.type !== 'whatsapp') throw notWhatsApp();
      const agentId = actingAgent(request, request.body.agentId);
      await checkedTemplate(request.tenantDb, conversation.channelId, request.body.template, request.body.parameters);
      const result = await sendTemplateThroughWorkflow(app, request, {
        tenantId: request.tenantId,
        channelId: conversation.channelId,
        to: conversation.externalUserId,
        messageId: templateMessageId(request.tenantId, request.params.id, request.headers['idempotency-key']),
        template: request.body.template,
        ...(request.body.parameters && { parameters: request.body.parameters }),
        author: 'agent',
        agentId,
      });
      return reply.code(result.status === 'pending' ? 202 : 200).send(result);
    },
  );

  app.post(
    '/template-messages',
    {
      schema: {
        tags,
        summary: 'Starts a conversation: sends an approved WhatsApp template to a phone number (a proactive message)',
        description:
          "The message is stored in the customer's conversation on the channel (created if there is none), which the assistant answers from when the customer writes back. " +
          '409 opted_out: the customer asked for no proactive messages (PUT /opt-outs/{phone}). Answers 200 with the outcome, or 202 pending. ' +
          'Send an Idempotency-Key: the same key is the same message, however often it is retried.',
        headers: idempotencyHeaders,
        body: z.strictObject({ channelId: z.uuid().describe('The WhatsApp channel (number) to send from'), to: phoneNumberSchema, ...templateSendBody }),
        response: responses,
      },
    },
    async (request, reply) => {
      const { channelId, to } = request.body;
      const channel = await request.tenantDb.channel.findUnique({ where: { id: channelId }, select: { type: true } });
      if (!channel) throw new HttpError(404, 'not_found', 'Channel not found');
      if (channel.type !== 'whatsapp') throw notWhatsApp();
      await checkedTemplate(request.tenantDb, channelId, request.body.template, request.body.parameters);
      if (await isOptedOut(request.tenantDb, to)) throw new HttpError(409, 'opted_out', 'This customer asked for no proactive messages');
      const result = await sendTemplateThroughWorkflow(app, request, {
        tenantId: request.tenantId,
        channelId,
        to,
        messageId: templateMessageId(request.tenantId, `proactive:${channelId}`, request.headers['idempotency-key']),
        template: request.body.template,
        ...(request.body.parameters && { parameters: request.body.parameters }),
        author: 'api',
      });
      return reply.code(result.status === 'pending' ? 202 : 200).send(result);
    },
  );
};

export default templateMessageRoutes;
