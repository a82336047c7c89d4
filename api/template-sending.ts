// What the template routes share: the template a request names (checked against the channel's
// synced templates, with its parameters, before anything starts), and the templateMessage
// workflow started under the message's id and waited for briefly.
import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TemplateMessageInput, TemplateSendResult } from '../activities/templates.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { tenantEventId } from '../lib/tenant-events.ts';
import type { TenantDb } from '../lib/tenant-db.ts';
import {
  renderTemplate,
  TemplateParameterError,
  templateParametersSchema,
  type ParameterFormat,
  type ParameterIssue,
  type SendableTemplate,
  type TemplateComponent,
  type TemplateParameters,
} from '../lib/whatsapp-templates.ts';
import { templateMessageWorkflowId } from '../workflows/ids.ts';
import { templateMessage } from '../workflows/template-message.ts';
import { HttpError } from './plugins/app/errors.ts';

/** How long a route waits for the send before answering 202 pending. */
export const TEMPLATE_SEND_WAIT_MS = 3_000;

export const templateRefSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(512).describe('The template\'s name, as in WhatsApp Manager'),
    language: z.string().trim().min(2).max(20).describe('Its language code, e.g. en_US'),
  })
  .describe('An APPROVED template of the channel, as last synced (GET /channels/{id}/templates)');

export const templateSendBody = { template: templateRefSchema, parameters: templateParametersSchema.optional() };

export const templateSendResultSchema = z.object({
  status: z.enum(['sent', 'failed', 'skipped', 'pending']).describe('pending: still sending when the route stopped waiting; the message row shows the outcome'),
  messageId: z.uuid(),
  conversationId: z.uuid().nullable(),
  reason: z.string().nullable().describe('Why it failed or was skipped (opted_out)'),
});

/** The channel's APPROVED template by name and language: 404 or 409 otherwise. */
export async function approvedTemplate(tdb: TenantDb, channelId: string, ref: z.infer<typeof templateRefSchema>): Promise<SendableTemplate> {
  const template = await tdb.messageTemplate.findFirst({ where: { channelId, name: ref.name, language: ref.language }, orderBy: { statusAt: 'desc' } });
  if (!template) throw new HttpError(404, 'template_not_found', `No template ${ref.name} (${ref.language}) on this channel: create it in WhatsApp Manager, then sync (POST /channels/{id}/templates/sync)`);
  if (template.status !== 'APPROVED') throw new HttpError(409, 'template_not_approved', `Template ${ref.name} (${ref.language}) is ${template.status}; only APPROVED templates can be sent`);
  return { ...template, parameterFormat: template.parameterFormat as ParameterFormat, components: template.components as TemplateComponent[] };
}

/** The issues of `parameters` for the template (paths under `path`), empty when they fit. */
export function parameterIssues(template: SendableTemplate, parameters: TemplateParameters | undefined, path = ''): ParameterIssue[] {
  try {
    renderTemplate(template, parameters);
    return [];
  } catch (err) {
    if (!(err instanceof TemplateParameterError)) throw err;
    return err.issues.map((i) => ({ path: `${path}${i.path}`, message: i.message }));
  }
}

export function invalidParameters(templateName: string, issues: ParameterIssue[]): HttpError {
  return new HttpError(400, 'invalid_template_parameters', `The parameters do not fit template ${templateName}: ${issues.slice(0, 5).map((d) => `${d.path} ${d.message}`).join('; ')}`, issues);
}

/** The channel's template, with the parameters checked against it (400 naming each issue). */
export async function checkedTemplate(tdb: TenantDb, channelId: string, ref: z.infer<typeof templateRefSchema>, parameters: TemplateParameters | undefined): Promise<SendableTemplate> {
  const template = await approvedTemplate(tdb, channelId, ref);
  const issues = parameterIssues(template, parameters);
  if (issues.length) throw invalidParameters(ref.name, issues);
  return template;
}

/** The message id a request's Idempotency-Key stands for (a random one without a key). */
export function templateMessageId(tenantId: string, scope: string, key: string | undefined): string {
  return key === undefined ? randomUUID() : tenantEventId('template-message', tenantId, scope, key);
}

/**
 * Starts (or joins: same message id, same workflow) the send and waits up to TEMPLATE_SEND_WAIT_MS
 * for its outcome. Temporal unreachable: 503.
 */
export async function sendTemplateThroughWorkflow(
  app: FastifyInstance,
  request: FastifyRequest,
  input: Omit<TemplateMessageInput, 'createdAt'>,
): Promise<z.infer<typeof templateSendResultSchema>> {
  const workflowId = templateMessageWorkflowId(input.tenantId, input.messageId);
  const pending = { status: 'pending' as const, messageId: input.messageId, conversationId: null, reason: null };
  try {
    return await app.temporal.connection.withDeadline(Date.now() + TEMPLATE_SEND_WAIT_MS + 2_000, async () => {
      let handle;
      try {
        handle = await app.temporal.workflow.start(templateMessage, {
          workflowId,
          taskQueue: taskQueueName(app.config, 'conversations'),
          args: [{ ...input, createdAt: Date.now() }],
          // A retry with the same key after the first run ended reads that run's outcome.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = app.temporal.workflow.getHandle<typeof templateMessage>(workflowId);
      }
      const outcome = await Promise.race([handle.result(), new Promise<null>((resolve) => setTimeout(() => resolve(null), TEMPLATE_SEND_WAIT_MS).unref())]);
      return outcome === null ? pending : resultView(outcome);
    });
  } catch (err) {
    if (err instanceof ServiceError || isGrpcServiceError(err)) {
      request.log.warn({ err, workflowId }, 'template message workflow unavailable');
      throw new HttpError(503, 'temporal_unavailable', 'Messages cannot be sent right now; retry later (with the same Idempotency-Key)');
    }
    throw err;
  }
}

function resultView(r: TemplateSendResult): z.infer<typeof templateSendResultSchema> {
  if (r.status === 'sent') return { status: 'sent', messageId: r.messageId, conversationId: r.conversationId, reason: null };
  if (r.status === 'skipped') return { status: 'skipped', messageId: r.messageId, conversationId: null, reason: r.reason };
  return { status: 'failed', messageId: r.messageId, conversationId: r.conversationId, reason: r.reason };
}
