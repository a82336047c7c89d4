// Conversation persistence: the conversation row, inbound and outbound messages, status changes
// and their audit events. The hot path's statements are plain SQL (inbound-rows.ts,
// outbound-rows.ts); the rest goes through the tenant-scoped client. Every activity is idempotent
// by its input: a retry after a commit returns what the first attempt returned. The conversation
// workflow runs them as local activities (short database steps on the hot path). Tenant webhook
// events are written with their change or right after it under ids derived from it (a retried
// step writes what a crash left out, never twice), and handed to the dispatcher without waiting
// for it (the outbox sweep catches what a crash leaves behind), so starting delivery workflows
// never holds up a conversation.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/db.ts';
import { WorkerMetrics } from '../lib/metrics/worker-metrics.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { recordTenantEvent, tenantEventId, tenantHasWebhooks, type TenantEventSink } from '../lib/tenant-events.ts';
import { parseTenantSettings } from '../lib/tenant-settings.ts';
import { findOrCreateConversation, storeInboundRows, type ConversationRowState } from './inbound-rows.ts';
import { storePendingOutbound } from './outbound-rows.ts';
import { platformSendsAmong, storeEchoRows } from './echo-rows.ts';
import { announceToInbox } from './inbox-events.ts';
import { turnPolicyOf } from './llm/index.ts';
import type { ConversationSettings } from '../workflows/conversation-state.ts';
import { MAX_TURNS } from '../workflows/conversation-state.ts';
import { inboundSignal } from '../workflows/conversation-messages.ts';
import { inboundMedia, inboundMediaWorkflowId } from '../workflows/inbound-media.ts';
import { MEDIA_KINDS, type FetchInboundMediaInput } from './media/inbound.ts';
import { BUSINESS_APP_AGENT, SUPERSEDED_BY_AGENT, type BusinessEcho, type ChannelKind, type ChoiceSet, type ConversationStatus, type InboundKind, type InboundMessage, type Turn } from '../workflows/types.ts';

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

export interface StoreBusinessEchoesInput extends Omit<ReceiveInboundInput, 'messages'> {
  echoes: (BusinessEcho & { rowId: string })[];
}

export interface StoredBusinessEchoes {
  /** The provider ids of the echoes stored as new by this call (any attempt of it). */
  fresh: string[];
  /** The conversation as the database knows it, when this call opened it. */
  opened?: Omit<OpenedConversation, 'settings'>;
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

/** The failure type of an echo store that waits for a send in flight (withoutPlatformSends). */
const OWN_SEND_IN_FLIGHT = 'OwnSendInFlight';

const STORED_KIND: Record<InboundKind, Prisma.MessageCreateManyInput['type']> = {
  text: 'text', image: 'image', audio: 'audio', video: 'video', document: 'document', sticker: 'sticker',
  location: 'location', contacts: 'contacts', interactive: 'interactive', reaction: 'reaction', order: 'order', system: 'system', unsupported: 'unsupported',
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
    commerce: s.commerce,
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

/**
 * Marks an outbound message failed (only from pending) and writes its audit event. The delivery
 * ends here, so metachat_replies_total counts it here: once, since a retry finds it failed.
 */
export async function markOutboundFailed(db: Db, failure: FailedSend, metrics?: WorkerMetrics): Promise<void> {
  const tdb = forTenant(db, failure.tenantId);
  const error = { reason: failure.reason, ...(failure.details === undefined ? {} : { details: failure.details }) } as Prisma.InputJsonValue;
  const [marked] = await tdb.message.updateManyAndReturn({
    where: { id: failure.id, createdAt: new Date(failure.createdAt), status: 'pending' },
    data: { status: 'failed', error },
    select: { channel: true, content: true },
  });
  if (!marked) return; // already marked by an earlier attempt
  const sender = (marked.content as { author?: unknown } | null)?.author === 'agent' ? 'agent' : 'assistant';
  metrics?.replyEnded(failure.tenantId, marked.channel, sender, failure.reason === SUPERSEDED_BY_AGENT ? 'superseded' : 'failed');
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

/** The id a step's new conversation row gets: the same on every attempt of the step, and this step's only. */
export function newConversationId(input: { workflowId: string; messages: { rowId: string }[] }): string {
  return tenantEventId('conversation', input.workflowId, ...input.messages.map((m) => m.rowId));
}

/**
 * `tenantEvents` hears of tenant-facing events once their transaction has committed; `temporal`
 * reaches conversation runs under older workflow ids (see receiveInbound).
 */
export function createStoreActivities(db: Db, tenantEvents?: TenantEventSink, temporal?: Client, metrics = new WorkerMetrics()) {
  /** Hands committed events to the dispatcher without waiting (it never throws; the sweep retries). */
  const dispatchLater = (...ids: (string | null)[]) => {
    if (ids.some(Boolean)) void tenantEvents?.dispatch(...ids);
  };

  async function loadSettings(tenantId: string): Promise<ConversationSettings> {
    const tenant = await forTenant(db, tenantId).tenant.findFirst({ select: { settings: true } });
    return settingsOf(tenantId, tenant?.settings ?? null);
  }

  /** The conversation's settings from the tenant's stored ones (null: there is no such tenant). */
  function settingsOf(tenantId: string, stored: unknown): ConversationSettings {
    if (stored === null) throw ApplicationFailure.nonRetryable(`tenant ${tenantId} not found`, 'TenantNotFound');
    return settingsFrom(stored);
  }

  /** The user's conversation row, inserted under `id` when there is none. */
  async function conversationRow(input: OpenConversationInput, id: string): Promise<ConversationRowState> {
    try {
      // Undefined only when a concurrent insert won between the statement's read and its insert: read again.
      const row = (await findOrCreateConversation(db, { ...input, id })) ?? (await findOrCreateConversation(db, { ...input, id }));
      if (!row) throw ApplicationFailure.retryable(`conversation of ${input.workflowId} not found nor created`, 'ConversationRace');
      return row;
    } catch (err) {
      // The channel's foreign key: a channel deleted meanwhile is no reason to retry for ever.
      if ((err as { code?: unknown }).code === '23503') throw ApplicationFailure.nonRetryable(`channel ${input.channelId} not found`, 'ChannelNotFound');
      throw err;
    }
  }

  /**
   * Instagram echoes without the platform's own sends (Messenger's carry the platform's metadata
   * instead, api/webhooks/normalize.ts). While a send to the conversation is in flight its echo
   * cannot be told yet: the attempt fails, retryable, and Temporal runs it again after a backoff.
   */
  async function withoutPlatformSends<T extends { externalMessageId: string }>(tenantId: string, conversationId: string, echoes: T[]): Promise<T[]> {
    const { own, inFlight } = await platformSendsAmong(db, { tenantId, conversationId, externalIds: echoes.map((e) => e.externalMessageId) });
    const others = echoes.filter((e) => !own.has(e.externalMessageId));
    if (others.length > 0 && inFlight) throw ApplicationFailure.retryable('a send to the conversation is in flight: its echo cannot be told from the business\'s yet', OWN_SEND_IN_FLIGHT);
    return others;
  }

  /**
   * The conversation row for this user (created under `id`, the same on every attempt of the
   * step, or reopened when it was closed) with the recent turns from the database, so that a
   * fresh run after an idle close keeps the thread.
   */
  async function openRow(input: OpenConversationInput, id: string, found?: ConversationRowState): Promise<Omit<OpenedConversation, 'settings'>> {
    const row = found ?? (await conversationRow(input, id));
    if (row.id === id) {
      // Created by this step (this attempt or one before it that crashed): a new conversation,
      // whose event a crashed attempt may not have written.
      await announceCreated(input, row);
      return { conversationId: row.id, status: row.status, assignee: row.assignee, turns: [], lastInboundAt: null };
    }
    const tdb = forTenant(db, input.tenantId);
    const reopened = row.status === 'closed';
    if (reopened || row.workflowId !== input.workflowId) {
      await tdb.conversation.updateMany({ where: { id: row.id }, data: { workflowId: input.workflowId, ...(reopened && { status: 'active', assignee: null }) } });
    }
    const recent = await tdb.message.findMany({
      where: { conversationId: row.id },
      orderBy: { createdAt: 'desc' },
      take: MAX_TURNS,
      select: { direction: true, content: true, createdAt: true },
    });
    return {
      conversationId: row.id,
      status: reopened ? 'active' : row.status,
      assignee: reopened ? null : row.assignee,
      turns: recent.reverse().map(turnOf).filter((t): t is Turn => t !== undefined),
      lastInboundAt: row.lastInboundAt?.getTime() ?? null,
    };
  }

  /**
   * conversation.created, for a tenant with webhook endpoints (none needed otherwise: no statement
   * for an event nobody gets). Written after the row, under an id derived from it: a step that
   * crashed in between writes it on its retry, and a repeat writes nothing.
   */
  async function announceCreated(input: OpenConversationInput, row: ConversationRowState): Promise<void> {
    if (!(await tenantHasWebhooks(db, input.tenantId))) return;
    const tdb = forTenant(db, input.tenantId);
    const channel = await tdb.channel.findFirst({ where: { id: input.channelId }, select: { type: true } });
    dispatchLater(
      await recordTenantEvent(tdb, {
        id: tenantEventId('conversation.created', row.id), // once per conversation, however often retried
        tenantId: input.tenantId,
        type: 'conversation.created',
        subjectType: 'conversation',
        subjectId: row.id,
        data: { conversationId: row.id, channel: channel?.type ?? 'unknown', channelId: input.channelId, externalUserId: input.externalUserId, createdAt: row.createdAt.toISOString() },
      }),
    );
  }

  /**
   * Stores inbound messages once under the row ids given (activities/inbound-rows.ts): a message
   * is new when its dedupe key names the row id given — true on a retry of the call that stored
   * it, false for a redelivery of a message stored before, whatever month either came in. Returns
   * the new messages' provider ids and the tenant's stored settings, read in the same statement.
   * The message.received events are written after the rows, under ids derived from them, for a
   * tenant with webhook endpoints (a cached hint, see lib/tenant-events.ts): a step that crashed in
   * between finds the same messages new on its retry and writes them then.
   */
  async function storeInbound(given: { tenantId: string; conversationId: string; channel: ChannelKind; messages: InboundToStore[] }): Promise<{ fresh: string[]; settings: unknown }> {
    if (given.messages.length === 0) return { fresh: [], settings: undefined };
    const input = storable(given);
    const stored = await storeInboundRows(db, {
      tenantId: input.tenantId,
      conversationId: input.conversationId,
      channel: input.channel,
      receivedAt: Date.now(),
      lastSentAt: Math.max(...input.messages.map((m) => m.sentAt)),
      messages: input.messages.map((m) => ({ id: m.rowId, externalMessageId: m.externalMessageId, sentAt: m.sentAt, type: STORED_KIND[m.kind], content: { text: m.text, ...m.content } })),
    });
    const fresh = input.messages.filter((m) => stored.fresh.has(m.rowId));
    for (const m of fresh) announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId: input.conversationId, messageId: m.rowId });
    await startMediaFetches(input.tenantId, fresh.filter((m) => MEDIA_KINDS.has(m.kind)), stored.fresh);
    // Counted by the statement that stored them: a retry after a commit, or a redelivery, counts none.
    metrics.inboundStored(input.tenantId, input.channel, stored.inserted);
    if (fresh.length > 0 && (await tenantHasWebhooks(db, input.tenantId))) await announceReceived(input, fresh, stored.fresh);
    // The ids as given (the caller matches them), not as made storable.
    const freshRows = new Set(fresh.map((m) => m.rowId));
    return { fresh: given.messages.filter((m) => freshRows.has(m.rowId)).map((m) => m.externalMessageId), settings: stored.settings };
  }

  /**
   * One inboundMedia workflow per new media message (workflows/inbound-media.ts), on this step's
   * own task queue (the conversations queue). Awaited, so that a failed start fails the step and
   * its retry starts it; a start that finds the workflow already there is a retry's repeat.
   */
  async function startMediaFetches(tenantId: string, media: InboundToStore[], storedAt: Map<string, Date>): Promise<void> {
    if (media.length === 0 || !temporal) return;
    const { taskQueue } = Context.current().info;
    await Promise.all(
      media.map(async (m) => {
        const input: FetchInboundMediaInput = { tenantId, messageId: m.rowId, createdAt: storedAt.get(m.rowId)!.getTime() };
        try {
          await temporal.workflow.start(inboundMedia, { workflowId: inboundMediaWorkflowId(tenantId, m.rowId), taskQueue, args: [input] });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }),
    );
  }

  async function announceReceived(input: { tenantId: string; conversationId: string; channel: ChannelKind }, fresh: InboundToStore[], storedAt: Map<string, Date>): Promise<void> {
    const tdb = forTenant(db, input.tenantId);
    const events = await tdb.$transaction(async (tx) => {
      const conversation = await tx.conversation.findFirst({ where: { id: input.conversationId }, select: { externalUserId: true } });
      const ids: (string | null)[] = [];
      for (const m of fresh) {
        ids.push(
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
      return ids;
    });
    dispatchLater(...events);
  }

  /**
   * Whether the conversation's messages belong to a run under another (older) workflow id that
   * is still running: conversations started before workflow ids named the channel keep their
   * run until it closes. The check costs a Temporal call only when the stored id differs.
   */
  async function forwardToOlderRun(row: ConversationRowState, input: ReceiveInboundInput): Promise<string | undefined> {
    if (!row.workflowId || row.workflowId === input.workflowId || !temporal) return undefined;
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
        const id = newConversationId(input);
        const row = await conversationRow(input, id);
        const forwardedTo = await forwardToOlderRun(row, input);
        if (forwardedTo) return { fresh: [], forwardedTo, settings: await loadSettings(input.tenantId) };
        opened = await openRow(input, id, row);
        conversationId = opened.conversationId;
      }
      const stored = await storeInbound({ ...given, conversationId });
      const settings = stored.settings === undefined ? await loadSettings(input.tenantId) : settingsOf(input.tenantId, stored.settings);
      return { fresh: stored.fresh, settings, ...(opened && { opened }) };
    },

    /**
     * Stores the business's own messages (echoes) as the business app's sent messages, opening
     * the conversation first if the business wrote before the customer did.
     */
    async storeBusinessEchoes(given: StoreBusinessEchoesInput): Promise<StoredBusinessEchoes> {
      const input = storable(given);
      let opened: Omit<OpenedConversation, 'settings'> | undefined;
      if (!input.conversationId) opened = await openRow(input, newConversationId({ workflowId: input.workflowId, messages: input.echoes }));
      const conversationId = input.conversationId ?? opened!.conversationId;
      const echoes = input.channel === 'instagram' && !opened ? await withoutPlatformSends(input.tenantId, conversationId, input.echoes) : input.echoes;
      const fresh = await storeEchoRows(db, {
        tenantId: input.tenantId,
        conversationId,
        channel: input.channel,
        receivedAt: Date.now(),
        echoes: echoes.map((e) => ({
          id: e.rowId, externalMessageId: e.externalMessageId, sentAt: e.sentAt, type: STORED_KIND[e.kind],
          content: { ...e.content, text: e.text, author: 'agent', agentId: BUSINESS_APP_AGENT },
        })),
      });
      for (const id of fresh) announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId, messageId: id });
      return { fresh: given.echoes.filter((e) => fresh.has(e.rowId)).map((e) => e.externalMessageId), ...(opened && { opened }) };
    },

    // ---- The steps of the first workflow version (workflows/legacy/conversation-v1.ts) ----

    async openConversation(input: OpenConversationInput): Promise<OpenedConversation> {
      const [opened, settings] = await Promise.all([openRow(input, stepScopedId('conversation')), loadSettings(input.tenantId)]);
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
      return (await storeInbound({ ...input, messages: input.messages.map((m) => ({ ...m, rowId: stepScopedId('inbound', m.externalMessageId) })) })).fresh;
    },

    /** The outbound row before sending (pending), or at once failed with a reason. */
    async persistOutbound(input: OutboundInput): Promise<void> {
      await storeOutbound(db, input, metrics);
    },

    async markOutboundFailed(failure: FailedSend): Promise<void> {
      await markOutboundFailed(db, failure, metrics);
    },

    /** A status change of the conversation and its audit event, together. */
    async recordConversationChange(change: ConversationChange): Promise<void> {
      const tdb = forTenant(db, change.tenantId);
      const { eventId, before } = await tdb.$transaction(async (tx) => {
        const before = await tx.conversation.findFirst({ where: { id: change.conversationId }, select: { status: true, channel: { select: { type: true } } } });
        await tx.conversation.updateMany({ where: { id: change.conversationId }, data: { status: change.status, assignee: change.assignee } });
        // Always written (the conversation's audit trail); handoff.* also go to webhook endpoints.
        const eventId = await recordTenantEvent(
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
        return { eventId, before };
      });
      dispatchLater(eventId);
      announceToInbox(db, { kind: 'conversation', tenantId: change.tenantId, conversationId: change.conversationId, status: change.status, assignee: change.assignee });
      if (before) countHandoff(change, before);
    },
  };

  /**
   * A handoff the worker can name the trigger of, counted on the row's transition (a retry after
   * the commit finds the row changed already): the customer's keyword, or an agent taking over a
   * conversation nobody had asked a person for. The assistant's request_human is counted by the
   * model activity that returns it, the tenant's API requests by the API (lib/metrics/handoffs.ts).
   */
  function countHandoff(change: ConversationChange, before: { status: ConversationStatus; channel: { type: ChannelKind } }): void {
    const wasWithPerson = before.status === 'handoff_requested' || before.status === 'assigned_human';
    if (wasWithPerson) return;
    if (change.status === 'handoff_requested' && change.event.payload?.reason === 'keyword') metrics.handoff(change.tenantId, before.channel.type, 'customer');
    if (change.status === 'assigned_human') metrics.handoff(change.tenantId, before.channel.type, 'agent');
  }
}

/** A passage an assistant's reply cites, as its message records it (GET …/messages shows it). */
export interface ReplySource {
  documentId: string;
  chunkId: string;
  title: string;
  page: number | null;
  section: string | null;
  /** The passage's first SOURCE_EXCERPT_CHARS characters. */
  excerpt: string;
}

/** An outbound row's content, made storable. */
export function outboundContent(message: { text: string; author: 'assistant' | 'agent'; agentId?: string; sources?: ReplySource[]; choices?: ChoiceSet }) {
  return storable({
    text: message.text,
    author: message.author,
    ...(message.agentId ? { agentId: message.agentId } : {}),
    ...(message.sources?.length ? { sources: message.sources } : {}),
    ...(message.choices?.items.length ? { choices: message.choices } : {}),
  });
}

/**
 * The outbound row before sending (pending), or at once failed with a reason; a repeat is a
 * no-op. Returns whether this call stored it.
 */
export async function storeOutbound(db: Db, input: OutboundInput, metrics?: WorkerMetrics): Promise<boolean> {
  const { inserted } = await storePendingOutbound(db, { ...input, content: outboundContent(input) });
  if (inserted) announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId: input.conversationId, messageId: input.id });
  if (input.failedReason) await markOutboundFailed(db, { ...input, reason: input.failedReason }, metrics);
  return inserted;
}
