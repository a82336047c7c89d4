// Campaigns: one approved template broadcast from one WhatsApp number to a list of customers, by
// the campaign workflow (workflows/campaign.ts) at a rate under Meta's per-number throughput.
// Every recipient's parameters are checked against the template before anything is stored;
// customers who opted out are kept on the list and skipped when their turn comes (their outcome
// says so). Progress and per-recipient outcomes are read from Postgres, which the workflow's
// batches write as they go.
//
//   channel not the tenant's / no such template        → 404
//   a recipient's parameters do not fit the template  → 400 invalid_template_parameters (paths name the recipient)
//   not WhatsApp / template not APPROVED              → 409
//   another campaign is running on the channel        → 409 campaign_running (one at a time per
//                                                        number, so that their rates do not add up)
//   cancel of a campaign that has ended               → 409 campaign_finished
//   Temporal unreachable                              → 503 (the campaign is stored: retry with
//                                                        the same Idempotency-Key starts it)
import { isGrpcServiceError, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Campaign, Prisma } from '../../../../generated/prisma/client.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { tenantEventId } from '../../../../lib/tenant-events.ts';
import { tenantData } from '../../../../lib/tenant-db.ts';
import { phoneNumberSchema, templateParametersSchema } from '../../../../lib/whatsapp-templates.ts';
import { campaign as campaignWorkflow, cancelCampaignSignal } from '../../../../workflows/campaign.ts';
import { campaignWorkflowId } from '../../../../workflows/ids.ts';
import { idempotencyHeaders } from '../../../idempotency.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorBody, errorResponses, idParams, iso, page, paginationQuery, toPage } from '../../../schemas/common.ts';
import { approvedTemplate, invalidParameters, parameterIssues, templateRefSchema } from '../../../template-sending.ts';

export const MAX_CAMPAIGN_RECIPIENTS = 10_000;
/** 10 000 recipients with parameters fit; the API's 64 KiB default does not. */
const CAMPAIGN_BODY_LIMIT = 4 * 1024 * 1024;
/** The issues a refused list reports at most. */
const MAX_REPORTED_ISSUES = 20;

const recipientStatus = z.enum(['pending', 'sending', 'sent', 'failed', 'skipped']);

const campaignSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  channelId: z.uuid(),
  template: z.object({ name: z.string(), language: z.string() }),
  status: z.enum(['running', 'completed', 'cancelled']),
  ratePerSecond: z.number().int(),
  progress: z
    .object({ total: z.number().int(), pending: z.number().int(), sending: z.number().int(), sent: z.number().int(), failed: z.number().int(), skipped: z.number().int() })
    .describe('Recipients by outcome; sending: handed to Meta, not yet recorded'),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const recipientSchema = z.object({
  id: z.uuid().describe('Also the id of the message sent to the recipient'),
  position: z.number().int(),
  to: z.string(),
  status: recipientStatus,
  reason: z.string().nullable().describe('failed: why (a Graph API error type, outcome_unknown after a crash mid-send…); skipped: opted_out or cancelled'),
  externalMessageId: z.string().nullable(),
  conversationId: z.uuid().nullable(),
  updatedAt: z.string(),
});

const createBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  channelId: z.uuid().describe('The WhatsApp channel (number) to send from'),
  template: templateRefSchema,
  parameters: templateParametersSchema.optional().describe("Every recipient's parameters unless the recipient has its own"),
  recipients: z
    .array(z.strictObject({ to: phoneNumberSchema, parameters: templateParametersSchema.optional() }))
    .min(1)
    .max(MAX_CAMPAIGN_RECIPIENTS)
    .describe(`1 to ${MAX_CAMPAIGN_RECIPIENTS} recipients; a phone number listed twice gets one message (the first entry's)`),
  ratePerSecond: z.number().int().min(1).max(80).optional().describe('Messages per second (default CAMPAIGN_RATE_PER_SECOND, at most CAMPAIGN_MAX_RATE_PER_SECOND)'),
});

async function progressOf(request: FastifyRequest, c: Campaign): Promise<z.infer<typeof campaignSchema>> {
  const counts = await request.tenantDb.campaignRecipient.groupBy({ by: ['status'], where: { campaignId: c.id }, _count: { _all: true } });
  const count = (s: string) => counts.find((x) => x.status === s)?._count._all ?? 0;
  return {
    id: c.id, name: c.name, channelId: c.channelId, template: { name: c.templateName, language: c.templateLanguage }, status: c.status, ratePerSecond: c.ratePerSecond,
    progress: { total: c.recipientCount, pending: count('pending'), sending: count('sending'), sent: count('sent'), failed: count('failed'), skipped: count('skipped') },
    createdAt: iso(c.createdAt)!, finishedAt: iso(c.finishedAt),
  };
}

function temporalDown(request: FastifyRequest, err: unknown, workflowId: string): never {
  if (err instanceof ServiceError || isGrpcServiceError(err)) {
    request.log.warn({ err, workflowId }, 'campaign workflow unavailable');
    throw new HttpError(503, 'temporal_unavailable', 'Campaigns cannot be started or changed right now; retry later');
  }
  throw err;
}

async function startCampaign(app: FastifyInstance, request: FastifyRequest, c: Campaign): Promise<void> {
  try {
    await app.temporal.workflow.start(campaignWorkflow, {
      workflowId: c.workflowId,
      taskQueue: taskQueueName(app.config, 'conversations'),
      args: [{ tenantId: c.tenantId, campaignId: c.id, ratePerSecond: c.ratePerSecond }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    temporalDown(request, err, c.workflowId);
  }
}

const campaignRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['campaigns'];

  app.post(
    '/',
    {
      bodyLimit: CAMPAIGN_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Creates a campaign and starts sending it',
        description:
          'Answers 201 with the campaign; 200 with the existing one when the Idempotency-Key was used before. 409 campaign_running: another campaign is ' +
          'running on this channel. Opted-out customers stay on the list and are skipped.',
        headers: idempotencyHeaders,
        body: createBody,
        response: { 200: campaignSchema, 201: campaignSchema, ...errorResponses, 413: errorBody, 503: errorBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const tdb = request.tenantDb;
      const key = request.headers['idempotency-key'];
      const id = key === undefined ? undefined : tenantEventId('campaign', request.tenantId, key);
      if (id) {
        const existing = await tdb.campaign.findFirst({ where: { id } });
        if (existing) {
          if (existing.status === 'running') await startCampaign(app, request, existing);
          return reply.code(200).send(await progressOf(request, existing));
        }
      }
      const channel = await tdb.channel.findUnique({ where: { id: body.channelId }, select: { type: true } });
      if (!channel) throw new HttpError(404, 'not_found', 'Channel not found');
      if (channel.type !== 'whatsapp') throw new HttpError(409, 'not_whatsapp', 'Campaigns are sent from WhatsApp channels only');

      const seen = new Set<string>();
      const recipients = body.recipients.filter((r) => !seen.has(r.to) && seen.add(r.to));
      // Every recipient's parameters fit, or nothing is stored.
      const template = await approvedTemplate(tdb, body.channelId, body.template);
      const issues = body.recipients.some((r) => !r.parameters) ? parameterIssues(template, body.parameters) : [];
      for (const [i, r] of body.recipients.entries()) {
        if (issues.length >= MAX_REPORTED_ISSUES) break;
        if (r.parameters) issues.push(...parameterIssues(template, r.parameters, `/recipients/${i}`));
      }
      if (issues.length) throw invalidParameters(body.template.name, issues.slice(0, MAX_REPORTED_ISSUES));
      if (await tdb.campaign.count({ where: { channelId: body.channelId, status: 'running' } })) {
        throw new HttpError(409, 'campaign_running', 'Another campaign is running on this channel: wait for it or cancel it');
      }

      const ratePerSecond = Math.min(body.ratePerSecond ?? app.config.CAMPAIGN_RATE_PER_SECOND, app.config.CAMPAIGN_MAX_RATE_PER_SECOND);
      const campaignId = id ?? crypto.randomUUID();
      const created = await tdb.$transaction(async (tx) => {
        const c = await tx.campaign.create({
          data: tenantData<Prisma.CampaignUncheckedCreateInput>({
            id: campaignId, name: body.name, channelId: body.channelId, templateName: body.template.name, templateLanguage: body.template.language,
            ratePerSecond, recipientCount: recipients.length, workflowId: campaignWorkflowId(request.tenantId, campaignId),
            createdBy: request.principal?.kind === 'user' ? request.principal.userId : null,
          }),
        });
        for (let start = 0; start < recipients.length; start += 1000) {
          await tx.campaignRecipient.createMany({
            data: recipients.slice(start, start + 1000).map((r, i) =>
              tenantData<Prisma.CampaignRecipientUncheckedCreateInput>({
                campaignId, position: start + i, to: r.to, parameters: (r.parameters ?? body.parameters ?? {}) as Prisma.InputJsonValue,
              }),
            ),
          });
        }
        return c;
      });
      request.log.info({ campaignId, channelId: body.channelId, recipients: recipients.length, ratePerSecond }, 'campaign created');
      await startCampaign(app, request, created);
      return reply.code(201).send(await progressOf(request, created));
    },
  );

  app.get(
    '/',
    {
      schema: { tags, summary: "The tenant's campaigns, newest first", querystring: paginationQuery, response: { 200: page(campaignSchema), ...errorResponses } },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const rows = await request.tenantDb.campaign.findMany({ where: afterCursor('createdAt', cursor, { date: true }), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit + 1 });
      const p = toPage(rows, limit, (c) => c.createdAt);
      return { items: await Promise.all(p.items.map((c) => progressOf(request, c))), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'A campaign and its progress', params: idParams, response: { 200: campaignSchema, ...errorResponses } } },
    async (request) => {
      const c = await request.tenantDb.campaign.findUnique({ where: { id: request.params.id } });
      if (!c) throw new HttpError(404, 'not_found', 'Campaign not found');
      return progressOf(request, c);
    },
  );

  app.get(
    '/:id/recipients',
    {
      schema: {
        tags,
        summary: "A campaign's recipients and their outcomes, in list order",
        params: idParams,
        querystring: z.object({
          status: recipientStatus.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          after: z.coerce.number().int().min(-1).max(MAX_CAMPAIGN_RECIPIENTS).default(-1).describe('Only recipients after this position (the last one of the previous page)'),
        }),
        response: { 200: z.object({ items: z.array(recipientSchema), nextAfter: z.number().int().nullable() }), ...errorResponses },
      },
    },
    async (request) => {
      const { status, limit, after } = request.query;
      const c = await request.tenantDb.campaign.findUnique({ where: { id: request.params.id }, select: { id: true } });
      if (!c) throw new HttpError(404, 'not_found', 'Campaign not found');
      const rows = await request.tenantDb.campaignRecipient.findMany({
        where: { campaignId: c.id, position: { gt: after }, ...(status && { status }) },
        orderBy: { position: 'asc' },
        take: limit + 1,
      });
      const items = rows.slice(0, limit);
      return {
        items: items.map((r) => ({ id: r.id, position: r.position, to: r.to, status: r.status, reason: r.reason, externalMessageId: r.externalMessageId, conversationId: r.conversationId, updatedAt: iso(r.updatedAt)! })),
        nextAfter: rows.length > limit ? items.at(-1)!.position : null,
      };
    },
  );

  app.post(
    '/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancels a running campaign: no message is sent after the batch in flight notices (within a few sends)',
        description: 'Recipients not sent become skipped (cancelled). 409 campaign_finished: the campaign has completed or was cancelled already.',
        params: idParams,
        response: { 200: campaignSchema, ...errorResponses },
      },
    },
    async (request) => {
      const tdb = request.tenantDb;
      const c = await tdb.campaign.findUnique({ where: { id: request.params.id } });
      if (!c) throw new HttpError(404, 'not_found', 'Campaign not found');
      // The row first: a running batch reads it between sends.
      const { count } = await tdb.campaign.updateMany({ where: { id: c.id, status: 'running' }, data: { status: 'cancelled' } });
      if (count === 0) throw new HttpError(409, 'campaign_finished', `The campaign is ${c.status} already`);
      // The signal only ends the run sooner: the row decides, whether or not Temporal answers now.
      await app.temporal.workflow
        .getHandle(c.workflowId)
        .signal(cancelCampaignSignal)
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) request.log.warn({ err, campaignId: c.id }, 'campaign cancelled without signalling its workflow');
        });
      await tdb.campaignRecipient.updateMany({ where: { campaignId: c.id, status: 'pending' }, data: { status: 'skipped', reason: 'cancelled' } });
      request.log.info({ campaignId: c.id }, 'campaign cancelled');
      return progressOf(request, (await tdb.campaign.findUnique({ where: { id: c.id } }))!);
    },
  );
};

export default campaignRoutes;
