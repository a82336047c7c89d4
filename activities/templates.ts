// Template messages: sending an approved WhatsApp template to a customer, in the customer's
// conversation (found, or created so that the customer's answer lands in it), and the periodic
// template sync. A template is what WhatsApp allows outside the 24-hour customer service window,
// so these sends do not go through the conversation workflow, which refuses anything outside it:
// the workflow picks the stored message up as a turn of the thread when the customer answers.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Prisma } from '../generated/prisma/client.ts';
import { readChannelSecrets } from '../lib/channels.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import { isOptedOut } from '../lib/opt-outs.ts';
import { syncTemplates } from '../lib/template-sync.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { tenantEventId, type TenantEventSink } from '../lib/tenant-events.ts';
import { renderTemplate, TemplateParameterError, type ParameterFormat, type TemplateComponent, type TemplateParameters } from '../lib/whatsapp-templates.ts';
import { conversationWorkflowId } from '../workflows/ids.ts';
import { GRAPH_PERMANENT_ERROR, GRAPH_THROTTLED_ERROR, GRAPH_TRANSIENT_ERROR } from './channels/graph-errors.ts';
import { SEND_ATTEMPTS } from './channels/index.ts';
import { WhatsAppClient } from './channels/whatsapp.ts';
import { findOrCreateConversation } from './inbound-rows.ts';
import { announceToInbox } from './inbox-events.ts';
import { recordMessageSent } from './message-sent.ts';

export interface TemplateMessageInput {
  tenantId: string;
  channelId: string;
  /** The customer's WhatsApp id (digits). */
  to: string;
  /** The stored message's id, chosen by the caller so that every retry finds its row. */
  messageId: string;
  createdAt: number;
  template: { name: string; language: string };
  parameters?: TemplateParameters;
  author: 'agent' | 'api' | 'campaign';
  agentId?: string;
  campaignId?: string;
}

export type TemplateSendResult =
  | { status: 'sent'; messageId: string; conversationId: string; externalMessageId: string }
  | { status: 'failed'; messageId: string; conversationId: string | null; reason: string }
  | { status: 'skipped'; messageId: string; reason: 'opted_out' };

/** The reasons a template send ends without reaching Meta. */
export const TEMPLATE_NOT_FOUND = 'template_not_found';
export const TEMPLATE_NOT_APPROVED = 'template_not_approved';
export const INVALID_PARAMETERS = 'invalid_parameters';

/** What a send needs once checked: the client, the stored row, and the request. */
interface PreparedSend {
  client: WhatsAppClient;
  conversationId: string;
  row: { id: string; createdAt: Date };
  components: ReturnType<typeof renderTemplate>['components'];
  /** The stored message's text and author, which message.sent repeats. */
  content: StoredContent;
}

interface StoredContent {
  text: string;
  author: 'agent' | 'assistant';
  agentId?: string;
}

export type TemplateSender = ReturnType<typeof createTemplateSender>;

/** Sends one template message (shared by the templateMessage workflow's step and campaign batches). */
export function createTemplateSender(deps: { db: Db; keyring: Keyring; graphApiUrl: string; tenantEvents?: TenantEventSink }) {
  const { db } = deps;

  /** message.sent, as every other send writes it; the dispatcher never throws and the outbox sweep retries. */
  async function announceSent(input: TemplateMessageInput, sent: { conversationId: string; createdAt: Date; content: StoredContent; externalMessageId: string }): Promise<void> {
    const eventId = await recordMessageSent(db, {
      tenantId: input.tenantId, messageId: input.messageId, conversationId: sent.conversationId, channel: 'whatsapp', externalUserId: input.to,
      text: sent.content.text, author: sent.content.author, agentId: sent.content.agentId ?? null, providerMessageIds: [sent.externalMessageId], createdAt: sent.createdAt,
    });
    if (eventId) void deps.tenantEvents?.dispatch(eventId);
  }

  /**
   * Checks the template and the customer's opt-out, finds or creates the conversation and stores
   * the message pending, or says how the send ended already (an earlier attempt got further).
   */
  async function prepare(input: TemplateMessageInput, options: { respectOptOut: boolean }): Promise<PreparedSend | TemplateSendResult> {
    const tdb = forTenant(db, input.tenantId);
    const channel = await tdb.channel.findFirst({ where: { id: input.channelId, type: 'whatsapp' }, select: { phoneNumberId: true } });
    if (!channel?.phoneNumberId) throw ApplicationFailure.nonRetryable(`WhatsApp channel ${input.channelId} not found`, 'ChannelNotFound');

    // A row stored by an earlier attempt (or an earlier run under the same id, whose created_at
    // may differ) decides: its send is under way or over.
    const stored = await tdb.message.findFirst({ where: { id: input.messageId } });
    if (stored && stored.status !== 'pending') {
      const outcome = outcomeOf(stored);
      // Sent by an earlier attempt, which may have died before writing the event.
      if (outcome.status === 'sent') await announceSent(input, { ...outcome, createdAt: stored.createdAt, content: stored.content as unknown as StoredContent });
      return outcome;
    }

    if (!stored && options.respectOptOut && (await isOptedOut(tdb, input.to))) return { status: 'skipped', messageId: input.messageId, reason: 'opted_out' };

    const template = await tdb.messageTemplate.findFirst({
      where: { channelId: input.channelId, name: input.template.name, language: input.template.language },
      orderBy: { statusAt: 'desc' },
    });
    let failure: string | null = null;
    let rendered: ReturnType<typeof renderTemplate> | null = null;
    if (!template) failure = TEMPLATE_NOT_FOUND;
    else if (template.status !== 'APPROVED') failure = TEMPLATE_NOT_APPROVED;
    else {
      try {
        rendered = renderTemplate({ ...template, parameterFormat: template.parameterFormat as ParameterFormat, components: template.components as TemplateComponent[] }, input.parameters);
      } catch (err) {
        if (!(err instanceof TemplateParameterError)) throw err;
        failure = INVALID_PARAMETERS;
      }
    }

    const workflowId = conversationWorkflowId(input.tenantId, input.channelId, input.to);
    const conversation =
      (await findOrCreateConversation(db, { id: tenantEventId('conversation', workflowId, input.messageId), tenantId: input.tenantId, channelId: input.channelId, externalUserId: input.to, workflowId })) ??
      (await findOrCreateConversation(db, { id: tenantEventId('conversation', workflowId, input.messageId), tenantId: input.tenantId, channelId: input.channelId, externalUserId: input.to, workflowId }));
    if (!conversation) throw ApplicationFailure.retryable('conversation neither found nor created', 'ConversationRace');

    const createdAt = stored?.createdAt ?? new Date(input.createdAt);
    const content = {
      text: rendered?.text ?? `[template ${input.template.name}]`,
      author: input.author === 'agent' ? ('agent' as const) : ('assistant' as const),
      ...(input.agentId && { agentId: input.agentId }),
      template: { name: input.template.name, language: input.template.language, ...(input.parameters && { parameters: input.parameters }) },
      source: input.author,
      ...(input.campaignId && { campaignId: input.campaignId }),
    };
    const { count } = await tdb.message.createMany({
      data: [
        tenantData<Prisma.MessageUncheckedCreateInput>({
          id: input.messageId, createdAt, conversationId: conversation.id, channel: 'whatsapp', direction: 'outbound', type: 'template',
          content: content as Prisma.InputJsonValue, status: failure ? 'failed' : 'pending', ...(failure && { error: { reason: failure } }),
        }),
      ],
      skipDuplicates: true,
    });
    if (count > 0) {
      await tdb.conversation.updateMany({ where: { id: conversation.id }, data: { lastMessageAt: createdAt } });
      announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId: conversation.id, messageId: input.messageId });
    }
    if (failure) return { status: 'failed', messageId: input.messageId, conversationId: conversation.id, reason: failure };

    const { accessToken } = await readChannelSecrets(db, deps.keyring, input.channelId);
    if (!accessToken) throw ApplicationFailure.nonRetryable(`channel ${input.channelId} lacks the credentials to send`, 'ChannelMisconfigured');
    return {
      client: new WhatsAppClient({ graphApiUrl: deps.graphApiUrl, phoneNumberId: channel.phoneNumberId, accessToken }),
      conversationId: conversation.id,
      row: { id: input.messageId, createdAt },
      components: rendered!.components,
      content,
    };
  }

  async function markSent(tenantId: string, prepared: PreparedSend, externalMessageId: string): Promise<void> {
    await forTenant(db, tenantId).message.updateMany({
      where: { id: prepared.row.id, createdAt: prepared.row.createdAt, status: 'pending' },
      data: { status: 'sent', externalMessageId },
    });
  }

  async function markFailed(tenantId: string, prepared: PreparedSend, reason: string, details?: unknown): Promise<void> {
    await forTenant(db, tenantId).message.updateMany({
      where: { id: prepared.row.id, createdAt: prepared.row.createdAt, status: 'pending' },
      data: { status: 'failed', error: { reason, ...(details !== undefined && { details }) } as Prisma.InputJsonValue },
    });
  }

  /**
   * One template send, checked, stored and sent. Graph API failures that retrying cannot fix
   * are recorded on the message and returned; transient ones are thrown for Temporal to retry
   * (until SEND_ATTEMPTS, then recorded). `attempt` is the activity's, for that limit.
   */
  async function sendTemplateMessage(
    input: TemplateMessageInput,
    options: { respectOptOut: boolean; attempt: number; signal?: AbortSignal; acceptedBefore?: string; onAccepted?: (id: string) => void },
  ): Promise<TemplateSendResult> {
    const prepared = await prepare(input, options);
    if (!('client' in prepared)) return prepared;
    let externalMessageId = options.acceptedBefore;
    if (!externalMessageId) {
      try {
        externalMessageId = await prepared.client.sendTemplate(input.to, { ...input.template, components: prepared.components }, { ...(options.signal && { signal: options.signal }) });
      } catch (err) {
        const graph = err instanceof ApplicationFailure && [GRAPH_TRANSIENT_ERROR, GRAPH_THROTTLED_ERROR, GRAPH_PERMANENT_ERROR].includes(err.type ?? '');
        if (err instanceof ApplicationFailure && (err.nonRetryable || (graph && options.attempt >= SEND_ATTEMPTS))) {
          await markFailed(input.tenantId, prepared, err.type ?? 'send_failed', err.details?.[0]);
          return { status: 'failed', messageId: input.messageId, conversationId: prepared.conversationId, reason: err.type ?? 'send_failed' };
        }
        throw err;
      }
      options.onAccepted?.(externalMessageId);
    }
    await markSent(input.tenantId, prepared, externalMessageId);
    await announceSent(input, { conversationId: prepared.conversationId, createdAt: prepared.row.createdAt, content: prepared.content, externalMessageId });
    return { status: 'sent', messageId: input.messageId, conversationId: prepared.conversationId, externalMessageId };
  }

  return sendTemplateMessage;
}

export function createTemplateActivities(deps: { db: Db; keyring: Keyring; graphApiUrl: string }, sendTemplateMessage: TemplateSender) {
  const { db } = deps;
  return {
    /**
     * The templateMessage workflow's one step. Meta's message id is heartbeated as soon as Meta
     * accepts, so an attempt that dies before recording it sent is not sent again by the next.
     */
    async deliverTemplateMessage(input: TemplateMessageInput): Promise<TemplateSendResult> {
      const ctx = Context.current();
      const acceptedBefore = (ctx.info.heartbeatDetails as { externalMessageId?: string } | undefined)?.externalMessageId;
      return sendTemplateMessage(input, {
        respectOptOut: input.author !== 'agent',
        attempt: ctx.info.attempt,
        signal: ctx.cancellationSignal,
        ...(acceptedBefore && { acceptedBefore }),
        onAccepted: (externalMessageId) => ctx.heartbeat({ externalMessageId }),
      });
    },

    /** Every WhatsApp channel's templates, one channel after the other; a failing channel does not stop the rest. */
    async syncAllTemplates(): Promise<{ channels: number; failed: number }> {
      const channels = await db.channel.findMany({ where: { type: 'whatsapp', status: 'active', wabaId: { not: null } }, select: { id: true, tenantId: true } });
      let failed = 0;
      for (const channel of channels) {
        const result = await syncTemplates(deps, channel.tenantId, channel.id);
        if (!result.ok) {
          failed++;
          Context.current().log.warn('template sync failed', { tenantId: channel.tenantId, channelId: channel.id, reason: result.reason, ...('failure' in result && { graph: result.failure.message }) });
        }
        Context.current().heartbeat();
      }
      return { channels: channels.length, failed };
    },
  };
}

/** How a stored template message ended (or that it is still pending). */
function outcomeOf(row: { id: string; conversationId: string; status: string; externalMessageId: string | null; error: Prisma.JsonValue }): TemplateSendResult {
  if (row.status === 'failed') return { status: 'failed', messageId: row.id, conversationId: row.conversationId, reason: (row.error as { reason?: string } | null)?.reason ?? 'send_failed' };
  return { status: 'sent', messageId: row.id, conversationId: row.conversationId, externalMessageId: row.externalMessageId ?? '' };
}
