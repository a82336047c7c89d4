// A message's stored media, for the people answering the conversation: the file itself (an end
// user's image, voice note, document; or one an agent sent), and "add this attachment to the
// knowledge base", which makes a document of it and hands it to the ingestion workflow like an
// upload. Keys of scope `agent` may use both; the message must be of a conversation of the
// caller's tenant (404 otherwise, as for any id of another tenant).
//
//   no such message, or a message without a file         → 404 not_found / no_media
//   the file is being fetched, or was refused/failed      → 409 media_not_ready / media_unavailable (the reason)
//   knowledge: a file that is no document (PDF, text…)    → 415
import { TypedSearchAttributes } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InboundMedia } from '../../../../activities/media/inbound.ts';
import { formatOfMimeType } from '../../../../lib/document-formats.ts';
import { createDocumentVersion, DocumentQuotaError, DocumentStorageError } from '../../../../lib/documents.ts';
import { documentQuotasOf, planDefaultsOf } from '../../../../lib/plans.ts';
import { createDocumentStorage, StoredFileNotFoundError } from '../../../../lib/storage.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import type { TenantDb } from '../../../../lib/tenant-db.ts';
import { ingestDocument, ingestionWorkflowId } from '../../../../workflows/ingestion.ts';
import { TenantId } from '../../../../workflows/search-attributes.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses } from '../../../schemas/common.ts';
import { documentOut, documentSchema } from '../../../schemas/documents.ts';

const params = z.object({ id: z.uuid(), messageId: z.uuid() });
const MEDIA_DESCRIPTION = [
  "The file with its own Content-Type, and Content-Disposition naming it (inline for images, audio and video, attachment otherwise).",
  "An end user's file is fetched from Meta in the background once the message is stored: until then 409 media_not_ready;",
  'a file refused by the platform\'s limits (MEDIA_MAX_BYTES, MEDIA_ALLOWED_TYPES) or that could not be fetched answers 409 media_unavailable with the reason, which the message\'s content.media also records.',
].join(' ');

/** The media of a message as its content records it: an end user's file (content.media) or an agent's attachment. */
export function storedMediaOf(content: unknown): InboundMedia | undefined {
  const c = (content ?? {}) as { media?: InboundMedia; attachment?: { key: string; mimeType: string; filename: string; sizeBytes: number } };
  if (c.media) return c.media;
  if (c.attachment) return { status: 'stored', sha256: '', ...c.attachment };
  return undefined;
}

/** `filename="…"` with a plain-ASCII fallback, and `filename*` for the real name (RFC 6266). */
function disposition(kind: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

const mediaRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['conversations'];
  const config = { allowAgentKey: true };
  const storage = createDocumentStorage(app.config);
  // The tenant's plan's document limits, as an upload gets them (routes/v1/documents).
  const planDefaults = planDefaultsOf(app.config);

  async function storedMedia(tenantDb: TenantDb, conversationId: string, messageId: string) {
    const message = await tenantDb.message.findFirst({ where: { id: messageId, conversationId }, select: { content: true, type: true } });
    if (!message) throw new HttpError(404, 'not_found', 'Message not found');
    const media = storedMediaOf(message.content);
    if (!media) {
      const expected = ['image', 'audio', 'video', 'document', 'sticker'].includes(message.type);
      if (expected) throw new HttpError(409, 'media_not_ready', 'The file is still being fetched; try again in a moment');
      throw new HttpError(404, 'no_media', 'This message has no file');
    }
    if (media.status !== 'stored') throw new HttpError(409, 'media_unavailable', `The file is not available: ${media.reason}`);
    return media;
  }

  app.get(
    '/:id/messages/:messageId/media',
    {
      config,
      schema: {
        tags,
        summary: "A message's file (an end user's image, voice note, video, document or sticker; or an agent's attachment)",
        description: MEDIA_DESCRIPTION,
        params,
        response: {
          200: { description: "The file's bytes", content: { '*/*': { schema: z.string().meta({ format: 'binary' }) } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const media = await storedMedia(request.tenantDb, request.params.id, request.params.messageId);
      let bytes: Buffer;
      try {
        bytes = await storage.get(media.key);
      } catch (err) {
        if (err instanceof StoredFileNotFoundError) throw new HttpError(404, 'no_media', "The message's file is no longer stored");
        throw err;
      }
      const shown = /^(image|audio|video)\//.test(media.mimeType) ? 'inline' : 'attachment';
      return reply
        .header('content-type', media.mimeType)
        .header('content-disposition', disposition(shown, media.filename))
        // The bytes are the end user's: never sniffed into something else, never cached by a shared cache.
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, max-age=300')
        .send(bytes as unknown as string);
    },
  );

  app.post(
    '/:id/messages/:messageId/media/knowledge',
    {
      config,
      schema: {
        tags,
        summary: "Add a message's document (PDF, text, Markdown, HTML, DOCX) to the tenant's knowledge base",
        description:
          "Makes a document of the file and starts its ingestion, as an upload does (202; GET /documents/{id} shows the progress). 415 when the file is no document the knowledge base reads; 409 while the file is not available, or when the document quota is reached.",
        params,
        body: z.object({ title: z.string().trim().min(1).max(300).optional(), tags: z.array(z.string().trim().min(1).max(64).regex(/^[^,]+$/)).max(20).optional() }).strict().nullish(),
        response: { 202: documentSchema, ...errorResponses, 415: errorBody, 503: errorBody },
      },
    },
    async (request, reply) => {
      const media = await storedMedia(request.tenantDb, request.params.id, request.params.messageId);
      const format = formatOfMimeType(media.mimeType);
      if (!format) throw new HttpError(415, 'unsupported_media_type', `A ${media.mimeType} file cannot be added to the knowledge base (PDF, text, Markdown, HTML or DOCX only)`);
      const bytes = await storage.get(media.key);
      const doc = await createDocumentVersion(app.db, request.tenantDb, storage, await documentQuotasOf(app.db, request.tenantId, planDefaults), request.tenantId, {
        title: request.body?.title ?? (media.filename.replace(/\.[^.]+$/, '') || 'Attachment'),
        format,
        bytes,
        filename: media.filename,
        tags: request.body?.tags ?? ['attachment'],
      }).catch((err: unknown) => {
        if (err instanceof DocumentQuotaError) throw new HttpError(409, 'quota_exceeded', err.message);
        if (err instanceof DocumentStorageError) throw new HttpError(503, 'storage_unavailable', 'The document could not be stored right now; try again later');
        throw err;
      });
      try {
        // As an upload starts it (routes/v1/documents).
        await app.temporal.workflow.start(ingestDocument, {
          workflowId: ingestionWorkflowId(doc.id, doc.version),
          taskQueue: taskQueueName(app.config, 'ingestion'),
          args: [{ tenantId: doc.tenantId, documentId: doc.id, version: doc.version }],
          typedSearchAttributes: new TypedSearchAttributes([{ key: TenantId, value: doc.tenantId }]),
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          await request.tenantDb.document.update({ where: { id: doc.id }, data: { status: 'failed', stage: null, error: 'Ingestion could not be started; retry it (POST …/retry)' } });
          throw new HttpError(503, 'temporal_unavailable', 'Ingestion is unavailable right now; retry the document later');
        }
      }
      request.log.info({ documentId: doc.id, messageId: request.params.messageId }, 'message attachment added to the knowledge base');
      return reply.status(202).send(documentOut(doc));
    },
  );
};

export default mediaRoutes;
