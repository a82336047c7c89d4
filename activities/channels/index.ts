// Channel activities: deliver a stored outbound message, and acknowledge inbound ones (read
// receipt + typing indicator). Credentials are decrypted here, inside the activity, only.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Keyring } from '../../lib/crypto.ts';
import { readChannelSecrets } from '../../lib/channels.ts';
import type { Db } from '../../lib/db.ts';
import { WorkerMetrics } from '../../lib/metrics/worker-metrics.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { TenantEventSink } from '../../lib/tenant-events.ts';
import { publishWebchatEvent } from '../../lib/webchat-bus.ts';
import { SUPERSEDED_BY_AGENT, type ChannelKind, type ChoiceSet, type OutboundAttachment } from '../../workflows/types.ts';
import { announceToInbox } from '../inbox-events.ts';
import { recordMessageSent } from '../message-sent.ts';
import { markOutboundSent, storePendingOutbound } from '../outbound-rows.ts';
import { markOutboundFailed, outboundContent, storeOutbound, type ReplySource } from '../store.ts';
import { InstagramClient } from './instagram.ts';
import { MessengerClient } from './messenger.ts';
import type { OutboundFile } from './outbound-file.ts';
import { StoredFileNotFoundError, type DocumentStorage } from '../../lib/storage.ts';
import type { SendTextOptions, SendTextResult } from './split-message.ts';
import { WhatsAppClient } from './whatsapp.ts';
import { LookupCache } from '../../lib/lookup-cache.ts';
import { GRAPH_PERMANENT_ERROR, GRAPH_THROTTLED_ERROR, GRAPH_TRANSIENT_ERROR, type GraphErrorKind } from './graph-errors.ts';

const isGraphFailure = (err: ApplicationFailure) => err.type === GRAPH_TRANSIENT_ERROR || err.type === GRAPH_THROTTLED_ERROR || err.type === GRAPH_PERMANENT_ERROR;
/** The graph-errors.ts class of a failed Graph API call, the label of metachat_graph_api_errors_total. */
const GRAPH_ERROR_CLASS: Record<string, GraphErrorKind> = { [GRAPH_TRANSIENT_ERROR]: 'transient', [GRAPH_THROTTLED_ERROR]: 'throttled', [GRAPH_PERMANENT_ERROR]: 'permanent' };

export interface DeliverInput {
  id: string;
  createdAt: number;
  tenantId: string;
  conversationId: string;
  channelId: string;
  channel: ChannelKind;
  to: string;
  /**
   * The message itself: the row is stored (pending) by this activity before it sends. Absent
   * when the row was stored before (the first workflow version stored it in its own step).
   */
  text?: string;
  author?: 'assistant' | 'agent';
  agentId?: string;
  /** Store the message failed with this reason and send nothing (e.g. outside the service window). */
  failedReason?: string;
  /** A stored file sent after the text (an agent's image or document). */
  attachment?: OutboundAttachment;
  /** Messenger: sent as MESSAGE_TAG with this tag (a person's reply after the 24-hour window). */
  messageTag?: 'HUMAN_AGENT';
  /** Options offered with the text, rendered as the channel can (interactive.ts); stored with the message. */
  choices?: ChoiceSet;
  /**
   * An assistant's reply to the user: not sent once the conversation waits for or is held by a
   * person (its status in the database, which the workflow writes as a take-over is accepted),
   * but recorded failed as superseded.
   */
  assistantTurn?: boolean;
  /** The assistant's reply says it does not know (metachat_unanswered_replies_total, once sent). */
  unanswered?: boolean;
  /** An assistant's reply: the passages it cites, stored with the message (the inbox shows them). */
  sources?: ReplySource[];
}

/** Read receipt and typing indicator for the newest inbound message. */
export interface AcknowledgeInput {
  tenantId: string;
  channelId: string;
  to: string;
  lastMessageId: string;
}

/**
 * Attempts of one delivery before a channel that keeps failing (5xx, throttling, no connection)
 * is given up on and the message recorded failed (about 8 minutes of backoff). Failures of the
 * platform's own database are retried for as long as it takes.
 */
export const SEND_ATTEMPTS = 10;
/** How long a worker keeps a channel's decrypted credentials (see senderFor). */
export const SENDER_CACHE_MS = 10_000;

export type DeliverResult = { status: 'sent'; messageIds: string[] } | { status: 'failed'; reason: string };

/** What an attempt records in its heartbeat, so that the next attempt resumes after it. */
interface SendProgress {
  nextPart: number;
  sentIds: string[];
  /** The message's file went out after its text. */
  attachmentSent?: boolean;
}

/** The stored message being sent (the web chat forwards it by id). */
interface StoredMessageRef {
  id: string;
  createdAt: number;
}

interface ChannelSender {
  sendText(to: string, text: string, options: SendTextOptions & { message: StoredMessageRef; choices?: ChoiceSet; tag?: 'HUMAN_AGENT' }): Promise<SendTextResult>;
  acknowledge(to: string, lastMessageId: string): Promise<void>;
  /** Sends a file; absent on channels that take none (the message fails as attachment_not_supported). */
  sendFile?(to: string, file: OutboundFile, options: { message: StoredMessageRef; messageTag?: string; signal?: AbortSignal }): Promise<string>;
}

/** Failure type of a file the channel cannot take, or whose stored bytes are gone. */
export const ATTACHMENT_NOT_SUPPORTED = 'attachment_not_supported';
export const ATTACHMENT_MISSING = 'attachment_missing';

export function createChannelActivities(deps: { db: Db; keyring: Keyring; graphApiUrl: string; storage?: DocumentStorage; tenantEvents?: TenantEventSink; metrics?: WorkerMetrics }) {
  const { db, keyring, graphApiUrl } = deps;

  /** The message's stored file, read and handed to the channel; the provider's message id. */
  async function sendAttachment(sender: ChannelSender, input: DeliverInput, attachment: OutboundAttachment, signal: AbortSignal): Promise<string> {
    if (!sender.sendFile) throw ApplicationFailure.nonRetryable(`the ${input.channel} channel takes no files`, ATTACHMENT_NOT_SUPPORTED);
    if (!deps.storage) throw ApplicationFailure.nonRetryable('no document storage configured for attachments', ATTACHMENT_MISSING);
    let bytes: Buffer;
    try {
      bytes = await deps.storage.get(attachment.key);
    } catch (err) {
      if (err instanceof StoredFileNotFoundError) throw ApplicationFailure.nonRetryable(`the attachment's file is no longer stored`, ATTACHMENT_MISSING);
      throw err;
    }
    const file = { kind: attachment.kind, bytes, mimeType: attachment.mimeType, filename: attachment.filename };
    return sender.sendFile(input.to, file, { message: { id: input.id, createdAt: input.createdAt }, signal, ...(input.messageTag && { messageTag: input.messageTag }) });
  }
  const metrics = deps.metrics ?? new WorkerMetrics();
  const senders = new LookupCache<ChannelSender>({ positiveTtlMs: SENDER_CACHE_MS, negativeTtlMs: 1_000, maxEntries: 1_000 });
  /** The dispatcher never throws and the outbox sweep retries: a send does not wait for it. */
  const dispatchLater = (eventId: string | null) => {
    if (eventId) void deps.tenantEvents?.dispatch(eventId);
  };

  /**
   * A channel's sender with its decrypted credentials, kept SENDER_CACHE_MS per worker: a reply
   * needs it twice (read receipt, send) and a busy channel on every message. A changed token
   * applies within that time; a token Meta refuses for good drops the entry at once.
   */
  async function senderFor(tenantId: string, channelId: string): Promise<ChannelSender> {
    const sender = await senders.get(`${tenantId}:${channelId}`, () => loadSender(tenantId, channelId));
    if (!sender) throw ApplicationFailure.nonRetryable(`channel ${channelId} not found`, 'ChannelNotFound');
    return sender;
  }

  /** A Graph API call whose failure is counted by channel and class (each failed call throws once). */
  function counted<T>(channel: ChannelKind, call: Promise<T>): Promise<T> {
    return call.catch((err: unknown) => {
      const errorClass = err instanceof ApplicationFailure && err.type ? GRAPH_ERROR_CLASS[err.type] : undefined;
      if (errorClass) metrics.graphApiError(channel, errorClass);
      throw err;
    });
  }

  async function loadSender(tenantId: string, channelId: string): Promise<ChannelSender | null> {
    const channel = await forTenant(db, tenantId).channel.findFirst({ where: { id: channelId } });
    if (!channel) return null;
    const secrets = await readChannelSecrets(db, keyring, channelId);
    if (channel.type === 'whatsapp' && channel.phoneNumberId && secrets.accessToken) {
      const client = new WhatsAppClient({ graphApiUrl, phoneNumberId: channel.phoneNumberId, accessToken: secrets.accessToken });
      return {
        // WhatsApp has no message tags: the workflow refuses a reply after its 24-hour window.
        sendText: (to, text, { tag: _tag, ...options }) => counted('whatsapp', client.sendText(to, text, options)),
        acknowledge: (_to, lastMessageId) => counted('whatsapp', client.markReadWithTyping(lastMessageId)),
        sendFile: (to, file, { signal }) => counted('whatsapp', client.sendMedia(to, file, { ...(signal && { signal }) })),
      };
    }
    if (channel.type === 'messenger' && secrets.pageAccessToken) {
      const client = new MessengerClient({ graphApiUrl, pageAccessToken: secrets.pageAccessToken });
      return {
        sendText: (to, text, options) => counted('messenger', client.sendText(to, text, options)),
        sendFile: (to, file, options) => counted('messenger', client.sendAttachment(to, file, options)),
        acknowledge: async (to) => {
          await counted('messenger', client.senderAction(to, 'mark_seen'));
          await counted('messenger', client.senderAction(to, 'typing_on'));
        },
      };
    }
    if (channel.type === 'instagram' && channel.pageId && secrets.pageAccessToken) {
      const client = new InstagramClient({ graphApiUrl, pageId: channel.pageId, pageAccessToken: secrets.pageAccessToken });
      return {
        sendText: (to, text, options) => counted('instagram', client.sendText(to, text, options)),
        sendFile: (to, file, options) => counted('instagram', client.sendAttachment(to, file, options)),
        acknowledge: async (to) => {
          await counted('instagram', client.senderAction(to, 'mark_seen'));
          await counted('instagram', client.senderAction(to, 'typing_on'));
        },
      };
    }
    if (channel.type === 'webchat') {
      // The message is stored already: publish its id; the API instances holding the visitor's
      // sockets read and forward it (lib/webchat-bus.ts) and mark it delivered.
      return {
        sendText: async (to, _text, { message, startAtPart = 0, onPartSent }) => {
          if (startAtPart === 0) {
            await publishWebchatEvent(db, { kind: 'message', tenantId, channelId, visitorId: to, messageId: message.id, createdAt: message.createdAt });
            await onPartSent?.({ partIndex: 0, partCount: 1, messageId: message.id });
          }
          return { messageIds: startAtPart === 0 ? [message.id] : [], partCount: 1 };
        },
        // The widget links to the stored file (api/webchat/file-links.ts): the message's event
        // again, for a message that is only a file (a socket shows a message id once).
        sendFile: async (to, _file, { message }) => {
          await publishWebchatEvent(db, { kind: 'message', tenantId, channelId, visitorId: to, messageId: message.id, createdAt: message.createdAt });
          return message.id;
        },
        acknowledge: (to) => publishWebchatEvent(db, { kind: 'typing', tenantId, channelId, visitorId: to, author: 'assistant', state: 'on' }),
      };
    }
    throw ApplicationFailure.nonRetryable(`channel ${channelId} (${channel.type}) lacks the credentials to send`, 'ChannelMisconfigured');
  }

  /** message.sent for a message the channel accepted (activities/message-sent.ts). */
  function recordSent(input: DeliverInput, content: { text: string; author?: 'assistant' | 'agent'; agentId?: string }, providerMessageIds: string[]): Promise<string | null> {
    return recordMessageSent(db, {
      tenantId: input.tenantId, messageId: input.id, conversationId: input.conversationId, channel: input.channel, externalUserId: input.to, text: content.text,
      author: content.author ?? 'assistant', agentId: content.agentId ?? null, providerMessageIds, createdAt: new Date(input.createdAt),
    });
  }

  return {
    /**
     * Sends a stored outbound message and marks it sent. Never delivers a part twice on retry:
     * a message no longer pending is not sent again, and each accepted part is recorded in the
     * heartbeat, so a retried attempt resumes at the first part Meta has not accepted. (A part
     * Meta accepted whose answer was lost in transit can still repeat: the Graph API has no
     * idempotency key.) Permanent Graph errors mark the message failed and return `failed`.
     */
    async deliverMessage(input: DeliverInput): Promise<DeliverResult> {
      const tdb = forTenant(db, input.tenantId);
      // The row: stored by this call (pending), or by an earlier one (read back).
      const written = { ...outboundContent({ ...input, text: input.text ?? '', author: input.author ?? 'assistant' }), ...(input.attachment && { attachment: input.attachment }) };
      if (input.failedReason) {
        if (input.text !== undefined) await storeOutbound(db, { ...input, text: input.text, author: written.author }, metrics);
        return { status: 'failed', reason: input.failedReason }; // stored failed, not sent
      }
      const stored = input.text !== undefined ? await storePendingOutbound(db, { ...input, content: written }) : undefined;
      if (stored?.inserted) announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId: input.conversationId, messageId: input.id });
      const row = stored?.inserted
        ? { status: 'pending' as const, content: written, error: null }
        : await tdb.message.findFirst({ where: { id: input.id, createdAt: new Date(input.createdAt) } });
      if (!row) throw ApplicationFailure.nonRetryable(`outbound message ${input.id} not found`, 'MessageNotFound');
      const content = row.content as { text: string; author?: 'assistant' | 'agent'; agentId?: string; providerMessageIds?: string[]; choices?: ChoiceSet; attachment?: OutboundAttachment };
      if (row.status === 'failed') return { status: 'failed', reason: (row.error as { reason?: string } | null)?.reason ?? 'failed' };
      if (row.status !== 'pending') {
        // Sent by an earlier attempt, whose event may not have been written (it crashed first).
        const messageIds = content.providerMessageIds ?? [];
        dispatchLater(await recordSent(input, content, messageIds));
        return { status: 'sent', messageIds };
      }

      if (input.assistantTurn) {
        const status = stored?.inserted
          ? stored.conversationStatus
          : (await tdb.conversation.findFirst({ where: { id: input.conversationId }, select: { status: true } }))?.status;
        if (status === 'handoff_requested' || status === 'assigned_human') {
          await markOutboundFailed(db, { ...input, reason: SUPERSEDED_BY_AGENT }, metrics);
          return { status: 'failed', reason: SUPERSEDED_BY_AGENT };
        }
      }
      const ctx = Context.current();
      const progress: SendProgress = (ctx.info.heartbeatDetails as SendProgress | undefined) ?? { nextPart: 0, sentIds: [] };
      try {
        const sender = await senderFor(input.tenantId, input.channelId);
        // A message that is only a file has no text to send.
        if (content.text || !content.attachment) await sender.sendText(input.to, content.text, {
          message: { id: input.id, createdAt: input.createdAt },
          // The stored choices: a retry, or a send of a row stored earlier, offers the same ones.
          ...(content.choices && { choices: content.choices }),
          ...(input.messageTag && { tag: input.messageTag }),
          startAtPart: progress.nextPart,
          signal: ctx.cancellationSignal,
          onPartSent: (part) => {
            progress.sentIds.push(part.messageId);
            progress.nextPart = part.partIndex + 1;
            // The last part is recorded by marking the row sent, next: no heartbeat call for it
            // (each is a request to Temporal, and most replies are one part), unless a file follows.
            if (progress.nextPart < part.partCount || content.attachment) ctx.heartbeat(progress);
          },
        });
        if (content.attachment && !progress.attachmentSent) {
          progress.sentIds.push(await sendAttachment(sender, input, content.attachment, ctx.cancellationSignal));
          progress.attachmentSent = true;
        }
      } catch (err) {
        // The channel's verdict: permanent, or still failing after SEND_ATTEMPTS (the retry policy
        // has no limit, so that the database's own failures are retried until it is back).
        const givenUp = err instanceof ApplicationFailure && (err.nonRetryable || (isGraphFailure(err) && ctx.info.attempt >= SEND_ATTEMPTS));
        if (givenUp) {
          if (err.type === GRAPH_PERMANENT_ERROR) senders.forget((key) => key === `${input.tenantId}:${input.channelId}`);
          await markOutboundFailed(db, { ...input, reason: err.type ?? 'send_failed', details: err.details }, metrics);
          return { status: 'failed', reason: err.type ?? 'send_failed' };
        }
        throw err;
      }
      let answered: { inboundAt: Date | null };
      try {
        answered = await markOutboundSent(db, { ...input, content, providerMessageIds: progress.sentIds, answersInbound: input.assistantTurn === true });
      } catch (err) {
        // Every part is out: the next attempt must not send any again, so the progress goes to
        // Temporal after all (the SDK sends an attempt's last heartbeat with its failure).
        ctx.heartbeat(progress);
        throw err;
      }
      // The attempt that sent it counts it: a retry finds the row sent and counts nothing. (A row
      // marked sent whose attempt then died before this line is not counted at all.)
      metrics.replyEnded(input.tenantId, input.channel, content.author ?? 'assistant', 'sent');
      if (answered.inboundAt) metrics.replyLatency(input.channel, (Date.now() - answered.inboundAt.getTime()) / 1000);
      if (input.unanswered) metrics.unanswered(input.tenantId, input.channel);
      dispatchLater(await recordSent(input, content, progress.sentIds));
      return { status: 'sent', messageIds: progress.sentIds };
    },

    /** Read receipt and typing indicator for the newest inbound message (best effort). */
    async acknowledgeInbound(input: AcknowledgeInput): Promise<void> {
      const sender = await senderFor(input.tenantId, input.channelId);
      await sender.acknowledge(input.to, input.lastMessageId);
    },
  };
}
