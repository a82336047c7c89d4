// End users' media, fetched once into the platform's storage: the `fetchInboundMedia` activity
// (run by workflows/inbound-media.ts for every stored media message, and by a reply's model call
// that needs the file before the download has run). It downloads the file from Meta with the
// channel's token (download.ts), within MEDIA_MAX_BYTES / MEDIA_ALLOWED_TYPES, stores it through
// the document storage under a key derived from the message, transcribes a voice note when a
// transcription provider is configured, and records the outcome in the message's content:
//
//   content.media = { status: 'stored', key, mimeType, sizeBytes, sha256, filename }
//                 | { status: 'refused' | 'failed', reason }
//   content.transcript, content.transcriptModel   (audio, when transcribed)
//
// Idempotent: the key is the same on every attempt and for every caller (a second put replaces
// the file whole with the same bytes), and a message whose outcome is recorded is not fetched again.
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Prisma } from '../../generated/prisma/client.ts';
import { readChannelSecrets } from '../../lib/channels.ts';
import type { Keyring } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import type { DocumentStorage } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { announceToInbox } from '../inbox-events.ts';
import { downloadMessengerAttachment, downloadWhatsAppMedia, type Downloaded } from './download.ts';
import { bareMimeType, type MediaLimits } from './limits.ts';
import type { Transcriber } from './transcribe.ts';

/** A stored message's media, as the message records it. */
export type InboundMedia =
  | { status: 'stored'; key: string; mimeType: string; sizeBytes: number; sha256: string; filename: string }
  | { status: 'refused' | 'failed'; reason: string };

export interface FetchInboundMediaInput {
  tenantId: string;
  /** The message row (id and created_at: its partition key). */
  messageId: string;
  createdAt: number;
}

export interface FetchedInboundMedia {
  kind: string;
  media: InboundMedia;
  transcript?: string;
}

/**
 * Attempts before a download that keeps failing (Meta unreachable, throttled) is given up on and
 * recorded failed; the workflow's retry policy has no limit of its own.
 */
export const MEDIA_ATTEMPTS = 6;

/** Message kinds whose content names a file to fetch. */
export const MEDIA_KINDS: ReadonlySet<string> = new Set(['image', 'audio', 'video', 'document', 'sticker']);

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/gif': 'gif', 'audio/ogg': 'ogg', 'audio/mpeg': 'mp3', 'audio/mp4': 'm4a',
  'audio/aac': 'aac', 'audio/amr': 'amr', 'video/mp4': 'mp4', 'video/3gpp': '3gp', 'application/pdf': 'pdf', 'text/plain': 'txt',
};

/** The storage name of a message's file: the same for every attempt and every caller, never a document's (uuid) name. */
export function inboundMediaName(channel: string, externalMessageId: string): string {
  return `media-${createHash('sha256').update(`${channel}\u0000${externalMessageId}`).digest('hex')}`;
}

/** A file name to offer a download under: the sender's (documents), else the kind and the type's extension. */
export function mediaFilename(kind: string, mimeType: string, given?: unknown): string {
  // eslint-disable-next-line no-control-regex
  const clean = typeof given === 'string' ? given.replace(/[\u0000-\u001f"\\/]/g, '_').trim().slice(0, 200) : '';
  if (clean) return clean;
  return `${kind}.${EXTENSIONS[bareMimeType(mimeType)] ?? 'bin'}`;
}

export interface InboundMediaDependencies {
  db: Db;
  keyring: Keyring;
  graphApiUrl: string;
  storage?: DocumentStorage;
  limits: MediaLimits;
  transcriber?: Transcriber;
}

export function createInboundMediaActivities(deps: InboundMediaDependencies) {
  const { db } = deps;

  async function record(input: FetchInboundMediaInput, content: Record<string, unknown>, conversationId: string, changes: Record<string, unknown>): Promise<void> {
    await forTenant(db, input.tenantId).message.updateMany({
      where: { id: input.messageId, createdAt: new Date(input.createdAt) },
      data: { content: { ...content, ...changes } as Prisma.InputJsonValue },
    });
    announceToInbox(db, { kind: 'message', tenantId: input.tenantId, conversationId, messageId: input.messageId });
  }

  function attempt(): number {
    try {
      return Context.current().info.attempt;
    } catch {
      return 1;
    }
  }

  function signal(): AbortSignal | undefined {
    try {
      return Context.current().cancellationSignal;
    } catch {
      return undefined;
    }
  }

  /** Whether a failure is final: not retryable, or retryable with no attempt left. */
  const final = (err: unknown) => err instanceof ApplicationFailure && (err.nonRetryable || attempt() >= MEDIA_ATTEMPTS);

  async function download(input: FetchInboundMediaInput, row: { channel: string; content: Record<string, unknown> }, channelId: string): Promise<Downloaded> {
    const { content } = row;
    if (row.channel === 'whatsapp' && typeof content.mediaId === 'string') {
      const secrets = await readChannelSecrets(db, deps.keyring, channelId);
      if (!secrets.accessToken) throw ApplicationFailure.nonRetryable(`channel ${channelId} has no access token`, 'ChannelMisconfigured');
      return downloadWhatsAppMedia({ graphApiUrl: deps.graphApiUrl, accessToken: secrets.accessToken, mediaId: content.mediaId, limits: deps.limits, ...(signal() && { signal: signal()! }) });
    }
    // Messenger and Instagram attachments: a signed CDN URL (payload.url), fetched as is.
    if ((row.channel === 'messenger' || row.channel === 'instagram') && typeof content.url === 'string' && /^https?:\/\//.test(content.url)) {
      return downloadMessengerAttachment({ url: content.url, limits: deps.limits, ...(signal() && { signal: signal()! }) });
    }
    return { status: 'refused', reason: 'no_source: the message names no file to download' };
  }

  async function transcribe(media: Extract<InboundMedia, { status: 'stored' }>): Promise<{ transcript?: string; transcriptError?: string }> {
    if (!deps.transcriber || !deps.storage) return {};
    try {
      const bytes = await deps.storage.get(media.key);
      return { transcript: await deps.transcriber.transcribe({ bytes, mimeType: media.mimeType, filename: media.filename }, signal()) };
    } catch (err) {
      if (!final(err)) throw err;
      return { transcriptError: err instanceof Error ? err.message : String(err) };
    }
  }

  return {
    /** Fetches, stores and (audio) transcribes one message's media; see the file comment. */
    async fetchInboundMedia(input: FetchInboundMediaInput): Promise<FetchedInboundMedia> {
      const row = await forTenant(db, input.tenantId).message.findFirst({
        where: { id: input.messageId, createdAt: new Date(input.createdAt), direction: 'inbound' },
        select: { channel: true, type: true, content: true, conversationId: true, externalMessageId: true, conversation: { select: { channelId: true } } },
      });
      if (!row) throw ApplicationFailure.nonRetryable(`inbound message ${input.messageId} not found`, 'MessageNotFound');
      const content = (row.content ?? {}) as Record<string, unknown>;
      const known = content.media as InboundMedia | undefined;
      const wantsTranscript = row.type === 'audio' && deps.transcriber !== undefined && typeof content.transcript !== 'string' && content.transcriptError === undefined;
      if (known && (known.status !== 'stored' || !wantsTranscript)) {
        return { kind: row.type, media: known, ...(typeof content.transcript === 'string' && { transcript: content.transcript }) };
      }

      let media: InboundMedia;
      if (known?.status === 'stored') media = known;
      else {
        if (!deps.storage) throw ApplicationFailure.nonRetryable('no document storage configured for media', 'StorageNotConfigured');
        let downloaded: Downloaded;
        try {
          downloaded = await download(input, { channel: row.channel, content }, row.conversation.channelId);
        } catch (err) {
          if (!final(err)) throw err;
          media = { status: 'failed', reason: `download_failed: ${err instanceof Error ? err.message : String(err)}` };
          await record(input, content, row.conversationId, { media });
          return { kind: row.type, media };
        }
        if (downloaded.status === 'refused') {
          media = { status: 'refused', reason: downloaded.reason };
          await record(input, content, row.conversationId, { media });
          return { kind: row.type, media };
        }
        const key = await deps.storage.put(input.tenantId, inboundMediaName(row.channel, row.externalMessageId ?? input.messageId), downloaded.bytes);
        media = {
          status: 'stored', key, mimeType: bareMimeType(downloaded.mimeType), sizeBytes: downloaded.bytes.byteLength,
          sha256: createHash('sha256').update(downloaded.bytes).digest('hex'), filename: mediaFilename(row.type, downloaded.mimeType, content.filename),
        };
        // Recorded before the transcription, so that an agent sees the file while it runs.
        if (wantsTranscript) await record(input, content, row.conversationId, { media });
      }
      const heard = wantsTranscript ? await transcribe(media) : {};
      await record(input, content, row.conversationId, { media, ...heard, ...(heard.transcript !== undefined && { transcriptModel: deps.transcriber!.model }) });
      return { kind: row.type, media, ...(heard.transcript !== undefined && { transcript: heard.transcript }) };
    },
  };
}
