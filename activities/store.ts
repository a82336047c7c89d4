// Conversation persistence: the conversation row, inbound and outbound messages, status changes
// and their audit events. Every write goes through the tenant-scoped client, and every write is
// idempotent so that Temporal may retry any of these activities.
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';
import { forTenant, tenantData, type TenantDb } from '../lib/tenant-db.ts';
import { recordTenantEvent, tenantEventId, tenantHasWebhooks, type TenantEventSink } from '../lib/tenant-events.ts';
import { parseTenantSettings } from '../lib/tenant-settings.ts';
import { turnPolicyOf } from './llm/index.ts';
import type { ConversationSettings } from '../workflows/conversation-state.ts';
import { MAX_TURNS } from '../workflows/conversation-state.ts';
import type { ChannelKind, ConversationStatus, InboundKind, InboundMessage, Turn } from '../workflows/types.ts';

export interface OpenConversationInput {
  tenantId: string;
  channelId: string;
  externalUserId: string;
  workflowId: string;
}

export interface OpenedConversation {
  conversationId: string;
  status: ConversationStatus;
  assignee: string | null;
  turns: Turn[];
  lastInboundAt: number | null;
  settings: ConversationSettings;
}

export interface OutboundInput {
  /** Chosen by the workflow, so that a retried persist finds its own row. */
  id: string;
  createdAt: number;
  tenantId: string;
  conversationId: string;
  channel: ChannelKind;
  text: string;
  author: 'assistant' | 'agent';
  agentId?: string;
  /** Recorded as failed at once with this reason (e.g. outside the service window). */
  failedReason?: string;
}

export interface ConversationChange {
  tenantId: string;
  conversationId: string;
  status: ConversationStatus;
  assignee: string | null;
  event: { type: string; payload?: Record<string, unknown> };
}

const STORED_KIND: Record<InboundKind, Prisma.MessageCreateManyInput['type']> = {
  text: 'text', image: 'image', audio: 'audio', video: 'video', document: 'document', sticker: 'sticker',
  location: 'location', contacts: 'contacts', interactive: 'interactive', reaction: 'reaction', unsupported: 'unsupported',
};

function settingsFrom(stored: unknown): ConversationSettings {
  const s = parseTenantSettings(stored);
  return {
    quietWindowMs: s.conversation.quietWindowMs,
    idleCloseMs: s.conversation.idleCloseHours * 3_600_000,
    floodMaxPerMinute: s.conversation.floodMaxPerMinute,
    handoffKeywords: s.handoff.keywords,
    agentInactivityMs: s.handoff.agentInactivityMinutes * 60_000,
    locale: s.locale,
    turn: turnPolicyOf(s.llm),
  };
}

function turnOf(message: { direction: string; content: Prisma.JsonValue; createdAt: Date }): Turn | undefined {
  const content = (message.content ?? {}) as { text?: unknown; author?: unknown };
  if (typeof content.text !== 'string' || !content.text) return undefined;
  const role = message.direction === 'inbound' ? 'user' : content.author === 'agent' ? 'agent' : 'assistant';
  return { role, text: content.text, at: message.createdAt.getTime() };
}

export interface FailedSend {
  id: string;
  createdAt: number;
  tenantId: string;
  conversationId: string;
  reason: string;
  details?: unknown;
}

/** Marks an outbound message failed (only from pending) and writes its audit event. */
export async function markOutboundFailed(db: Db, failure: FailedSend): Promise<void> {
  const tdb = forTenant(db, failure.tenantId);
  const error = { reason: failure.reason, ...(failure.details === undefined ? {} : { details: failure.details }) } as Prisma.InputJsonValue;
  const { count } = await tdb.message.updateMany({
    where: { id: failure.id, createdAt: new Date(failure.createdAt), status: 'pending' },
    data: { status: 'failed', error },
  });
  if (count === 0) return; // already marked by an earlier attempt
  await tdb.event.create({
    data: tenantData<Prisma.EventUncheckedCreateInput>({
      type: 'message.failed',
      subjectType: 'message',
      subjectId: failure.id,
      payload: { conversationId: failure.conversationId, reason: failure.reason },
    }),
  });
}

/**
 * The id of a conversation change's event: the same for every retry of one activity (same run,
 * same activity id), so a retried write adds no second event.
 */
function changeEventId(type: string): string {
  try {
    const { workflowExecution, activityId } = Context.current().info;
    if (!workflowExecution) return randomUUID();
    return tenantEventId(type, workflowExecution.workflowId, workflowExecution.runId, activityId);
  } catch {
    return randomUUID(); // called outside an activity
  }
}

/** `tenantEvents` hears of tenant-facing events once their transaction has committed. */
export function createStoreActivities(db: Db, tenantEvents?: TenantEventSink) {
  async function loadSettings(tenantId: string): Promise<ConversationSettings> {
    const tenant = await forTenant(db, tenantId).tenant.findFirst({ select: { settings: true } });
    if (!tenant) throw new Error(`tenant ${tenantId} not found`);
    return settingsFrom(tenant.settings);
  }

  return {
    /**
     * The conversation row for this user (created, or reopened when it was closed) with the
     * recent turns from the database, so that a fresh run after an idle close keeps the thread.
     */
    async openConversation(input: OpenConversationInput): Promise<OpenedConversation> {
      const tdb = forTenant(db, input.tenantId);
      const key = { tenantId_channelId_externalUserId: { tenantId: input.tenantId, channelId: input.channelId, externalUserId: input.externalUserId } };
      const existing = await tdb.conversation.findUnique({ where: key });
      let createdEvent: string | null = null;
      const row = existing
        ? await tdb.conversation.update({
            where: { id: existing.id },
            data: { workflowId: input.workflowId, ...(existing.status === 'closed' ? { status: 'active', assignee: null } : {}) },
          })
        : await tdb.$transaction(async (tx) => {
            const created = await tx.conversation.upsert({
              where: key,
              create: tenantData<Prisma.ConversationUncheckedCreateInput>({
                channelId: input.channelId,
                externalUserId: input.externalUserId,
                workflowId: input.workflowId,
              }),
              update: { workflowId: input.workflowId },
            });
            const channel = await tx.channel.findFirst({ where: { id: input.channelId }, select: { type: true } });
            createdEvent = await recordTenantEvent(tx, {
              id: tenantEventId('conversation.created', created.id), // once per conversation, however often retried
              tenantId: input.tenantId,
              type: 'conversation.created',
              subjectType: 'conversation',
              subjectId: created.id,
              data: { conversationId: created.id, channel: channel?.type ?? 'unknown', channelId: input.channelId, externalUserId: input.externalUserId, createdAt: created.createdAt.toISOString() },
            });
            return created;
          });
      await tenantEvents?.dispatch(createdEvent);
      const recent = await tdb.message.findMany({
        where: { conversationId: row.id },
        orderBy: { createdAt: 'desc' },
        take: MAX_TURNS,
        select: { direction: true, content: true, createdAt: true },
      });
      return {
        conversationId: row.id,
        status: row.status,
        assignee: row.assignee,
        turns: recent.reverse().map(turnOf).filter((t): t is Turn => t !== undefined),
        lastInboundAt: row.lastInboundAt?.getTime() ?? null,
        settings: await loadSettings(input.tenantId),
      };
    },

    async loadConversationSettings(tenantId: string): Promise<ConversationSettings> {
      return loadSettings(tenantId);
    },

    /**
     * Stores inbound messages once: created_at is the provider's timestamp, which a redelivery
     * repeats, so the unique (tenant, channel, external id, created_at) index drops duplicates.
     * Returns the provider ids that were new.
     */
    async persistInbound(input: { tenantId: string; conversationId: string; channel: ChannelKind; messages: InboundMessage[] }): Promise<string[]> {
      if (input.messages.length === 0) return [];
      const tdb = forTenant(db, input.tenantId);
      // The message.received events go with the rows that were new, in their transaction (none
      // needed for a tenant without webhooks: a cached hint, see lib/tenant-events.ts).
      const listens = await tenantHasWebhooks(db, input.tenantId);
      const insert = async (tx: Pick<TenantDb, 'message' | 'conversation' | 'event' | 'webhookEndpoint'>) => {
        const created = await tx.message.createManyAndReturn({
          data: input.messages.map((m) =>
            tenantData<Prisma.MessageCreateManyInput>({
              conversationId: input.conversationId,
              channel: input.channel,
              externalMessageId: m.externalMessageId,
              createdAt: new Date(m.sentAt),
              direction: 'inbound',
              type: STORED_KIND[m.kind],
              content: { text: m.text, ...m.content } as Prisma.InputJsonValue,
              status: 'received',
            }),
          ),
          skipDuplicates: true,
          select: { id: true, externalMessageId: true, createdAt: true, type: true },
        });
        const conversation = listens && created.length ? await tx.conversation.findFirst({ where: { id: input.conversationId }, select: { externalUserId: true } }) : null;
        const events: (string | null)[] = [];
        for (const m of listens ? created : []) {
          events.push(
            await recordTenantEvent(tx, {
              id: tenantEventId('message.received', m.id),
              tenantId: input.tenantId,
              type: 'message.received',
              // The conversation's event, so that erasing an end user (lib/end-users.ts) takes it too.
              subjectType: 'conversation',
              subjectId: input.conversationId,
              data: {
                messageId: m.id,
                conversationId: input.conversationId,
                channel: input.channel,
                externalUserId: conversation?.externalUserId ?? '',
                externalMessageId: m.externalMessageId ?? '',
                type: m.type,
                text: input.messages.find((i) => i.externalMessageId === m.externalMessageId)?.text ?? null,
                createdAt: m.createdAt.toISOString(),
              },
            }),
          );
        }
        return { created, events };
      };
      const { created, events } = listens ? await tdb.$transaction(insert) : await insert(tdb);
      await tenantEvents?.dispatch(...events);
      const last = new Date(Math.max(...input.messages.map((m) => m.sentAt)));
      await tdb.conversation.updateMany({
        where: { id: input.conversationId, OR: [{ lastInboundAt: null }, { lastInboundAt: { lt: last } }] },
        data: { lastInboundAt: last, lastMessageAt: last },
      });
      return created.map((m) => m.externalMessageId).filter((id): id is string => id !== null);
    },

    /** The outbound row before sending (pending), or at once failed with a reason. */
    async persistOutbound(input: OutboundInput): Promise<void> {
      const tdb = forTenant(db, input.tenantId);
      await tdb.message.createMany({
        data: [
          tenantData<Prisma.MessageCreateManyInput>({
            id: input.id,
            createdAt: new Date(input.createdAt),
            conversationId: input.conversationId,
            channel: input.channel,
            direction: 'outbound',
            type: 'text',
            content: { text: input.text, author: input.author, ...(input.agentId ? { agentId: input.agentId } : {}) },
            status: 'pending',
          }),
        ],
        skipDuplicates: true,
      });
      await tdb.conversation.updateMany({ where: { id: input.conversationId }, data: { lastMessageAt: new Date(input.createdAt) } });
      if (input.failedReason) await markOutboundFailed(db, { ...input, reason: input.failedReason });
    },

    async markOutboundFailed(failure: FailedSend): Promise<void> {
      await markOutboundFailed(db, failure);
    },

    /** A status change of the conversation and its audit event, together. */
    async recordConversationChange(change: ConversationChange): Promise<void> {
      const tdb = forTenant(db, change.tenantId);
      const eventId = await tdb.$transaction(async (tx) => {
        await tx.conversation.updateMany({ where: { id: change.conversationId }, data: { status: change.status, assignee: change.assignee } });
        // Always written (the conversation's audit trail); handoff.* also go to webhook endpoints.
        return recordTenantEvent(
          tx,
          {
            id: changeEventId(change.event.type),
            tenantId: change.tenantId,
            type: change.event.type,
            subjectType: 'conversation',
            subjectId: change.conversationId,
            data: { conversationId: change.conversationId, status: change.status, assignee: change.assignee, ...change.event.payload },
          },
          { audit: true },
        );
      });
      await tenantEvents?.dispatch(eventId);
    },
  };
}
