// Conversation persistence: the conversation row, inbound and outbound messages, status changes
// and their audit events. Every write goes through the tenant-scoped client, and every activity is
// idempotent by its input: a retry after a commit returns what the first attempt returned. The
// conversation workflow runs them as local activities (short database steps on the hot path).
// Tenant webhook events are written in the transaction of their change and handed to the
// dispatcher without waiting for it (the outbox sweep catches what a crash leaves behind), so
// starting delivery workflows never holds up a conversation.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';
import { forTenant, tenantData, type TenantDb } from '../lib/tenant-db.ts';
import { recordTenantEvent, tenantEventId, tenantHasWebhooks, type TenantEventSink } from '../lib/tenant-events.ts';
import { parseTenantSettings } from '../lib/tenant-settings.ts';
import { turnPolicyOf } from './llm/index.ts';
import type { ConversationSettings } from '../workflows/conversation-state.ts';
import { MAX_TURNS } from '../workflows/conversation-state.ts';
import { inboundSignal } from '../workflows/conversation-messages.ts';
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

/** An inbound message with the row id the workflow chose for it. */
export interface InboundToStore extends InboundMessage {
  rowId: string;
}

export interface ReceiveInboundInput {
  tenantId: string;
  channel: ChannelKind;
  channelId: string;
  externalUserId: string;
  workflowId: string;
  /** Null until the run has opened its conversation: this call opens it first. */
  conversationId: string | null;
  messages: InboundToStore[];
}

export interface ReceivedInbound {
  /** The provider ids of the messages stored as new by this call (any attempt of it). */
  fresh: string[];
  /** The conversation as the database knows it, when this call opened it. */
  opened?: Omit<OpenedConversation, 'settings'>;
  /** The tenant's settings, read now: a change applies from the next message. */
  settings: ConversationSettings;
  /** The conversation's messages went to its run under an older workflow id, still running. */
  forwardedTo?: string;
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

/**
 * The value with every NUL character replaced (U+FFFD): Postgres text and jsonb refuse U+0000,
 * and a step retried until the database answers must not meet a message it can never store.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
  return value;
}

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
 * An id that is the same for every attempt of one activity execution (same run, same activity
 * id) and differs between executions, so a retried write finds its own row.
 */
function stepScopedId(...parts: string[]): string {
  try {
    const { workflowExecution, activityId } = Context.current().info;
    if (!workflowExecution) return randomUUID();
    return tenantEventId(...parts, workflowExecution.workflowId, workflowExecution.runId, activityId);
  } catch {
    return randomUUID(); // called outside an activity
  }
}

/**
 * `tenantEvents` hears of tenant-facing events once their transaction has committed; `temporal`
 * reaches conversation runs under older workflow ids (see receiveInbound).
 */
export function createStoreActivities(db: Db, tenantEvents?: TenantEventSink, temporal?: Client) {
  /** Hands committed events to the dispatcher without waiting (it never throws; the sweep retries). */
  const dispatchLater = (...ids: (string | null)[]) => {
    if (ids.some(Boolean)) void tenantEvents?.dispatch(...ids);
  };

  async function loadSettings(tenantId: string): Promise<ConversationSettings> {
    const tenant = await forTenant(db, tenantId).tenant.findFirst({ select: { settings: true } });
    if (!tenant) throw ApplicationFailure.nonRetryable(`tenant ${tenantId} not found`, 'TenantNotFound');
    return settingsFrom(tenant.settings);
  }

  /**
   * The conversation row for this user (created, or reopened when it was closed) with the recent
   * turns from the database, so that a fresh run after an idle close keeps the thread.
   */
  async function openRow(input: OpenConversationInput, existing?: ConversationRow | null): Promise<Omit<OpenedConversation, 'settings'>> {
    const tdb = forTenant(db, input.tenantId);
    const key = { tenantId_channelId_externalUserId: { tenantId: input.tenantId, channelId: input.channelId, externalUserId: input.externalUserId } };
    existing ??= await tdb.conversation.findUnique({ where: key });
    let createdEvent: string | null = null;
    const row = existing
      ? await tdb.conversation.update({
          where: { id: existing.id },
          data: { workflowId: input.workflowId, ...(existing.status === 'closed' ? { status: 'active', assignee: null } : {}) },
        })
      : await createRow(input, key, (id) => (createdEvent = id));
    dispatchLater(createdEvent);
    // A conversation created just now has no messages yet.
    const recent = !existing ? [] : await tdb.message.findMany({
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
    };
  }

  /**
   * A new conversation row, with its conversation.created event in the same transaction when
   * the tenant has webhook endpoints (none needed otherwise: no statement for an event nobody gets).
   */
  async function createRow(input: OpenConversationInput, key: Prisma.ConversationWhereUniqueInput, onEvent: (id: string | null) => void) {
    const listens = await tenantHasWebhooks(db, input.tenantId);
    const create = async (tx: Pick<TenantDb, 'conversation' | 'channel' | 'event' | 'webhookEndpoint'>) => {
      const created = await tx.conversation.upsert({
        where: key,
        create: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: input.channelId, externalUserId: input.externalUserId, workflowId: input.workflowId }),
        update: { workflowId: input.workflowId },
      });
      if (listens) {
        const channel = await tx.channel.findFirst({ where: { id: input.channelId }, select: { type: true } });
        onEvent(
          await recordTenantEvent(tx, {
            id: tenantEventId('conversation.created', created.id), // once per conversation, however often retried
            tenantId: input.tenantId,
            type: 'conversation.created',
            subjectType: 'conversation',
            subjectId: created.id,
            data: { conversationId: created.id, channel: channel?.type ?? 'unknown', channelId: input.channelId, externalUserId: input.externalUserId, createdAt: created.createdAt.toISOString() },
          }),
        );
      }
      return created;
    };
    try {
      return listens ? await forTenant(db, input.tenantId).$transaction(create) : await create(forTenant(db, input.tenantId));
    } catch (err) {
      // The channel's foreign key: a channel deleted meanwhile is no reason to retry for ever.
      if ((err as { code?: unknown }).code === 'P2003') throw ApplicationFailure.nonRetryable(`channel ${input.channelId} not found`, 'ChannelNotFound');
      throw err;
    }
  }

  /**
   * Stores inbound messages once under the row ids given. The dedupe is the message's key row
   * (inbound_message_keys: tenant, channel, provider id), written first with the row id chosen
   * for it; a message is new when its key names the id given — true on a retry of the call that
   * stored it, false for a redelivery of a message stored before, whatever month either came in.
   * created_at is the key's time (the platform's receive time, never the provider's timestamp, so
   * a forged one cannot choose a partition); the provider's time is sent_at. Without a
   * transaction a crash may leave a key without its row: the retry sees its own key and stores
   * the row under the key's time (same primary key, so never twice). The message.received events
   * go with the new rows, in their transaction (none needed for a tenant without webhooks: a
   * cached hint, see lib/tenant-events.ts).
   */
  async function storeInbound(given: { tenantId: string; conversationId: string; channel: ChannelKind; messages: InboundToStore[] }): Promise<string[]> {
    if (given.messages.length === 0) return [];
    const input = storable(given);
    const tdb = forTenant(db, input.tenantId);
    const listens = await tenantHasWebhooks(db, input.tenantId);
    const insert = async (tx: Pick<TenantDb, 'message' | 'inboundMessageKey' | 'conversation' | 'event' | 'webhookEndpoint'>) => {
      // One millisecond apart in the order given (the user's), so listings by created_at keep it.
      const receivedAt = Date.now();
      const keyed = await tx.inboundMessageKey.createManyAndReturn({
        data: input.messages.map((m, i) =>
          tenantData<Prisma.InboundMessageKeyCreateManyInput>({
            channel: input.channel,
            externalMessageId: m.externalMessageId,
            messageId: m.rowId,
            createdAt: new Date(receivedAt + i),
          }),
        ),
        skipDuplicates: true,
        select: { messageId: true, createdAt: true },
      });
      const storedAt = new Map(keyed.map((k) => [k.messageId, k.createdAt]));
      // Keys an earlier attempt of this call wrote are this call's too.
      const missing = input.messages.filter((m) => !storedAt.has(m.rowId));
      if (missing.length > 0) {
        const earlier = await tx.inboundMessageKey.findMany({
          where: { channel: input.channel, externalMessageId: { in: missing.map((m) => m.externalMessageId) }, messageId: { in: missing.map((m) => m.rowId) } },
          select: { messageId: true, createdAt: true },
        });
        for (const k of earlier) storedAt.set(k.messageId, k.createdAt);
      }
      const fresh = input.messages.filter((m) => storedAt.has(m.rowId));
      const inserted = fresh.length === 0 ? [] : await tx.message.createManyAndReturn({
        data: fresh.map((m) =>
          tenantData<Prisma.MessageCreateManyInput>({
            id: m.rowId,
            conversationId: input.conversationId,
            channel: input.channel,
            externalMessageId: m.externalMessageId,
            createdAt: storedAt.get(m.rowId)!,
            sentAt: new Date(m.sentAt),
            direction: 'inbound',
            type: STORED_KIND[m.kind],
            content: { text: m.text, ...m.content } as Prisma.InputJsonValue,
            status: 'received',
          }),
        ),
        skipDuplicates: true, // an earlier attempt's row
        select: { id: true },
      });
      const events: (string | null)[] = [];
      if (listens && inserted.length) {
        const conversation = await tx.conversation.findFirst({ where: { id: input.conversationId }, select: { externalUserId: true } });
        for (const m of fresh) {
          events.push(
            await recordTenantEvent(tx, {
              id: tenantEventId('message.received', m.rowId),
              tenantId: input.tenantId,
              type: 'message.received',
              // The conversation's event, so that erasing an end user (lib/end-users.ts) takes it too.
              subjectType: 'conversation',
              subjectId: input.conversationId,
              data: {
                messageId: m.rowId,
                conversationId: input.conversationId,
                channel: input.channel,
                externalUserId: conversation?.externalUserId ?? '',
                externalMessageId: m.externalMessageId,
                type: STORED_KIND[m.kind],
                text: m.text,
                createdAt: storedAt.get(m.rowId)!.toISOString(),
              },
            }),
          );
        }
      }
      return { fresh, events };
    };
    const { fresh, events } = listens ? await tdb.$transaction(insert) : await insert(tdb);
    dispatchLater(...events);
    const last = new Date(Math.max(...input.messages.map((m) => m.sentAt)));
    await tdb.conversation.updateMany({
      where: { id: input.conversationId, OR: [{ lastInboundAt: null }, { lastInboundAt: { lt: last } }] },
      data: { lastInboundAt: last, lastMessageAt: last },
    });
    // The ids as given (the caller matches them), not as made storable.
    const freshRows = new Set(fresh.map((m) => m.rowId));
    return given.messages.filter((m) => freshRows.has(m.rowId)).map((m) => m.externalMessageId);
  }

  /**
   * Whether the conversation's messages belong to a run under another (older) workflow id that
   * is still running: conversations started before workflow ids named the channel keep their
   * run until it closes. The check costs a Temporal call only when the stored id differs.
   */
  async function forwardToOlderRun(row: ConversationRow | null, input: ReceiveInboundInput): Promise<string | undefined> {
    if (!row?.workflowId || row.workflowId === input.workflowId || !temporal) return undefined;
    const messages = input.messages.map(({ rowId: _rowId, ...m }) => m);
    try {
      const handle = temporal.workflow.getHandle(row.workflowId);
      if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
      await handle.signal(inboundSignal, messages); // that run dedupes a repeated signal by message id
      return row.workflowId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined; // it closed meanwhile: this run takes over
      throw err;
    }
  }

  return {
    /**
     * One step per signal of the conversation workflow: opens the conversation on the run's
     * first messages, stores the messages (see storeInbound) and reads the tenant's settings.
     */
    async receiveInbound(given: ReceiveInboundInput): Promise<ReceivedInbound> {
      // The API refuses ids with control characters; a NUL that came through anyway must not stall the step.
      const input = { ...given, externalUserId: storable(given.externalUserId), workflowId: storable(given.workflowId) };
      let conversationId = input.conversationId;
      let opened: Omit<OpenedConversation, 'settings'> | undefined;
      if (!conversationId) {
        const row = await forTenant(db, input.tenantId).conversation.findUnique({
          where: { tenantId_channelId_externalUserId: { tenantId: input.tenantId, channelId: input.channelId, externalUserId: input.externalUserId } },
        });
        const forwardedTo = await forwardToOlderRun(row, input);
        if (forwardedTo) return { fresh: [], forwardedTo, settings: await loadSettings(input.tenantId) };
        opened = await openRow(input, row);
        conversationId = opened.conversationId;
      }
      const [fresh, settings] = await Promise.all([storeInbound({ ...given, conversationId }), loadSettings(input.tenantId)]);
      return { fresh, settings, ...(opened && { opened }) };
    },

    // ---- The steps of the first workflow version (workflows/legacy/conversation-v1.ts) ----

    async openConversation(input: OpenConversationInput): Promise<OpenedConversation> {
      const [opened, settings] = await Promise.all([openRow(input), loadSettings(input.tenantId)]);
      return { ...opened, settings };
    },

    async loadConversationSettings(tenantId: string): Promise<ConversationSettings> {
      return loadSettings(tenantId);
    },

    /**
     * Stores inbound messages once; returns the provider ids that were new. The row ids derive
     * from the activity's identity (same workflow run, same activity id), so a retry after a
     * commit returns the same ids as the attempt that stored them.
     */
    async persistInbound(input: { tenantId: string; conversationId: string; channel: ChannelKind; messages: InboundMessage[] }): Promise<string[]> {
      return storeInbound({ ...input, messages: input.messages.map((m) => ({ ...m, rowId: stepScopedId('inbound', m.externalMessageId) })) });
    },

    /** The outbound row before sending (pending), or at once failed with a reason. */
    async persistOutbound(input: OutboundInput): Promise<void> {
      await storeOutbound(db, input);
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
            id: stepScopedId(change.event.type),
            tenantId: change.tenantId,
            type: change.event.type,
            subjectType: 'conversation',
            subjectId: change.conversationId,
            data: { conversationId: change.conversationId, status: change.status, assignee: change.assignee, ...change.event.payload },
          },
          { audit: true },
        );
      });
      dispatchLater(eventId);
    },
  };
}

type ConversationRow = NonNullable<Awaited<ReturnType<TenantDb['conversation']['findUnique']>>>;

/**
 * The outbound row before sending (pending), or at once failed with a reason; a repeat is a
 * no-op. Returns whether this call stored it.
 */
export async function storeOutbound(db: Db, input: OutboundInput): Promise<boolean> {
  const tdb = forTenant(db, input.tenantId);
  const { count } = await tdb.message.createMany({
    data: [
      tenantData<Prisma.MessageCreateManyInput>({
        id: input.id,
        createdAt: new Date(input.createdAt),
        conversationId: input.conversationId,
        channel: input.channel,
        direction: 'outbound',
        type: 'text',
        content: storable({ text: input.text, author: input.author, ...(input.agentId ? { agentId: input.agentId } : {}) }),
        status: 'pending',
      }),
    ],
    skipDuplicates: true,
  });
  if (count > 0) await tdb.conversation.updateMany({ where: { id: input.conversationId }, data: { lastMessageAt: new Date(input.createdAt) } });
  if (input.failedReason) await markOutboundFailed(db, { ...input, reason: input.failedReason });
  return count > 0;
}
