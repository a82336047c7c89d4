// The file an agent's message carries, as the agent names it: an end user's stored media (a
// message id), a tenant document's original (a document id), or bytes uploaded with the request
// (base64, stored first). Resolved to the stored file the send activity reads, checked against
// what the conversation's channel takes, so that a file Meta would refuse answers 400 here
// instead of failing later in the background.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { storedMediaOf } from './routes/v1/conversations/media.ts';
import { channelFileLimits } from '../lib/channel-files.ts';
import type { DocumentStorage } from '../lib/storage.ts';
import type { TenantDb } from '../lib/tenant-db.ts';
import type { ChannelKind, OutboundAttachment } from '../workflows/types.ts';
import { HttpError } from './plugins/app/errors.ts';

export const attachmentSchema = z
  .union([
    z.object({ messageId: z.uuid().describe("A message of the tenant's with a stored file (an end user's image or document)") }).strict(),
    z.object({ documentId: z.uuid().describe("A document of the tenant's knowledge base: its uploaded original is sent") }).strict(),
    z
      .object({
        filename: z.string().trim().min(1).max(200),
        mimeType: z.string().regex(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i),
        data: z.base64().describe('The file, base64-encoded'),
      })
      .strict(),
  ])
  .describe("A file sent after the text: an image the channel shows as one (JPEG or PNG; GIF too on Messenger and Instagram) is shown as a picture, anything else is offered as a file; Instagram takes only images, video, audio and PDF files");

export type AttachmentRef = z.infer<typeof attachmentSchema>;

const invalid = (message: string) => new HttpError(400, 'invalid_attachment', message);

export async function resolveAttachment(
  tdb: TenantDb,
  storage: DocumentStorage,
  tenantId: string,
  channel: ChannelKind,
  ref: AttachmentRef,
): Promise<OutboundAttachment> {
  const limits = channelFileLimits(channel);
  if (!limits) throw invalid(`The ${channel} channel takes no attachments`);
  const file = await storedFile(tdb, storage, tenantId, ref);
  const kind = limits.imageTypes.includes(file.mimeType) ? 'image' : 'document';
  if (kind === 'document' && limits.documentTypes && !limits.documentTypes.includes(file.mimeType)) {
    throw invalid(`${channel} takes no ${file.mimeType} files; it takes ${[...limits.imageTypes, ...limits.documentTypes].join(', ')}`);
  }
  const max = kind === 'image' ? limits.imageMaxBytes : limits.documentMaxBytes;
  if (file.sizeBytes > max) throw invalid(`The file is ${file.sizeBytes} bytes; ${channel} takes ${kind === 'image' ? 'images' : 'documents'} of at most ${max}`);
  return { kind, ...file };
}

async function storedFile(tdb: TenantDb, storage: DocumentStorage, tenantId: string, ref: AttachmentRef): Promise<Omit<OutboundAttachment, 'kind'>> {
  if ('messageId' in ref) {
    const message = await tdb.message.findFirst({ where: { id: ref.messageId }, select: { content: true } });
    const media = message ? storedMediaOf(message.content) : undefined;
    if (!media) throw invalid('attachment.messageId names no message with a file');
    if (media.status !== 'stored') throw invalid(`That message's file is not available: ${media.reason}`);
    return { key: media.key, mimeType: media.mimeType, filename: media.filename, sizeBytes: media.sizeBytes };
  }
  if ('documentId' in ref) {
    const doc = await tdb.document.findFirst({ where: { id: ref.documentId, deletedAt: null }, select: { storageKey: true, mimeType: true, filename: true, title: true, sizeBytes: true } });
    if (!doc) throw invalid('attachment.documentId names no document');
    if (!doc.storageKey) throw invalid("That document's original file is no longer stored");
    return { key: doc.storageKey, mimeType: doc.mimeType, filename: doc.filename ?? doc.title, sizeBytes: doc.sizeBytes };
  }
  const bytes = Buffer.from(ref.data, 'base64');
  if (bytes.byteLength === 0) throw invalid('attachment.data is empty');
  // Named by its content: the same upload retried (an Idempotency-Key retry) is one file.
  const key = await storage.put(tenantId, `outbound-${createHash('sha256').update(bytes).digest('hex')}`, bytes);
  return { key, mimeType: ref.mimeType.toLowerCase(), filename: ref.filename, sizeBytes: bytes.byteLength };
}
