// The tenant's documents: upload (multipart file, or JSON text/Markdown), list, get with
// ingestion progress, soft-delete, new versions, retry of a failed ingestion; versions and
// restore (./versions.ts), chunks (./chunks.ts) and the retrieval preview (./search.ts). An upload is
// stored (lib/storage.ts), recorded as a pending document version, and handed to the ingestion
// workflow (workflows/ingestion.ts); the response is 202 and GET shows the progress.
//
//   the type is sniffed from the bytes; declared type/extension disagreeing → 415
//   larger than DOCUMENT_MAX_BYTES → 413; document or chunk quota reached → 409
//   Temporal unreachable → 503 (the document is marked failed: retry it later)
//   document storage failing (an unreachable bucket) → 503, nothing kept: upload again later
import type { MultipartFile } from '@fastify/multipart';
import multipart from '@fastify/multipart';
import { isGrpcServiceError, ServiceError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Document } from '../../../../generated/prisma/client.ts';
import { FormatMismatchError, sniffDocumentFormat, type DocumentFormat } from '../../../../lib/document-formats.ts';
import { requestEvaluation } from '../../../../lib/evaluation-requests.ts';
import { documentQuotasOf, planDefaultsOf } from '../../../../lib/plans.ts';
import { createDocumentVersion, deleteDocument, DocumentQuotaError, DocumentStorageError, type NewDocumentInput } from '../../../../lib/documents.ts';
import { createDocumentStorage } from '../../../../lib/storage.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { ingestDocument, ingestionWorkflowId } from '../../../../workflows/ingestion.ts';
import { TenantId } from '../../../../workflows/search-attributes.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorBody, errorResponses, idParams, noContent, page, paginationQuery, toPage } from '../../../schemas/common.ts';
import { documentOut as out, documentSchema } from '../../../schemas/documents.ts';
import documentChunkRoutes from './chunks.ts';
import documentSearchRoutes from './search.ts';
import documentVersionRoutes from './versions.ts';

const tag = z.string().trim().min(1).max(64).regex(/^[^,]+$/, 'must not contain commas');
const tagsSchema = z.array(tag).max(20);
const titleSchema = z.string().trim().min(1).max(300);

const jsonUpload = z
  .object({
    title: titleSchema,
    content: z.string().min(1),
    format: z.enum(['text', 'markdown']),
    tags: tagsSchema.optional(),
  })
  .strict();

const uploadDescription =
  'multipart/form-data with one `file` part (TXT, Markdown, HTML, PDF or DOCX; the type is sniffed from the bytes) and optional ' +
  '`title` and `tags` (comma-separated) fields; or JSON `{ title, content, format: "text" | "markdown", tags? }`. ' +
  'Answers 202: ingestion runs in the background (GET the document for its progress). 413 above the size limit, 415 when the ' +
  'declared type or extension disagrees with the bytes, 409 quota_exceeded when the plan\'s document or chunk limit is reached, ' +
  '402 plan_feature_unavailable when the plan does not include documents (documents ingested before stay searchable).';

const responses = { ...errorResponses, 413: errorBody, 415: errorBody, 503: errorBody } as const;
const uploadResponses = { ...responses, ...planFeatureResponses } as const;

const documentRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['documents'];
  const maxBytes = app.config.DOCUMENT_MAX_BYTES;
  const storage = createDocumentStorage(app.config);
  // The tenant's plan's limits, read per upload so that a plan change applies to the next one.
  const planDefaults = planDefaultsOf(app.config);

  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 12 } });

  /** The upload in either shape, its type sniffed from the bytes. */
  async function readUpload(request: FastifyRequest, required: { title: boolean }): Promise<Omit<NewDocumentInput, 'title'> & { title?: string }> {
    if (!request.isMultipart()) {
      const parsed = jsonUpload.partial({ title: true }).required({ content: true, format: true }).safeParse(request.body);
      if (!parsed.success || (required.title && !parsed.data.title)) {
        const issues = parsed.success ? [{ path: ['title'], message: 'Required' }] : parsed.error.issues;
        throw new HttpError(400, 'validation_error', `Invalid body: ${issues.map((i) => `/${i.path.join('/')} ${i.message}`).join('; ')}`);
      }
      const bytes = Buffer.from(parsed.data.content, 'utf8');
      if (bytes.byteLength > maxBytes) throw new HttpError(413, 'payload_too_large', `The document is larger than ${maxBytes} bytes`);
      return { title: parsed.data.title, format: parsed.data.format, bytes, tags: parsed.data.tags };
    }
    let file: { bytes: Buffer; part: MultipartFile } | undefined;
    const fields: Record<string, string> = {};
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || file) throw new HttpError(400, 'validation_error', 'Send exactly one file, in the part named "file"');
          file = { bytes: await part.toBuffer(), part };
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
    } catch (err) {
      // The multipart plugin's own errors (limits: 413) carry their status; the parser's plain
      // errors (no boundary in the content type, a body cut short) are a malformed request.
      if (err instanceof HttpError || typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err;
      throw new HttpError(400, 'bad_request', `Malformed multipart body: ${(err as Error).message}`);
    }
    if (!file || file.bytes.byteLength === 0) throw new HttpError(400, 'validation_error', 'A non-empty file part named "file" is required');
    const title = fields.title === undefined ? undefined : titleSchema.safeParse(fields.title);
    if (title && !title.success) throw new HttpError(400, 'validation_error', 'title must be 1 to 300 characters');
    const tagList = fields.tags === undefined ? undefined : tagsSchema.safeParse(fields.tags.split(',').map((t) => t.trim()).filter(Boolean));
    if (tagList && !tagList.success) throw new HttpError(400, 'validation_error', 'tags: at most 20, each 1 to 64 characters');
    let format: DocumentFormat;
    try {
      format = await sniffDocumentFormat(file.bytes, file.part.mimetype, file.part.filename);
    } catch (err) {
      if (err instanceof FormatMismatchError) throw new HttpError(415, 'unsupported_media_type', err.message);
      throw err;
    }
    const filename = file.part.filename ? file.part.filename.slice(0, 255) : null;
    const fallbackTitle = required.title ? (filename?.replace(/\.[^.]+$/, '') || 'Untitled') : undefined;
    return { title: title?.data ?? fallbackTitle, format, bytes: file.bytes, filename, tags: tagList?.data };
  }

  /** Starts the version's ingestion workflow; with Temporal unreachable, the version is marked failed and 503 answered. */
  async function startIngestion(request: FastifyRequest, doc: Document, retry = false): Promise<void> {
    const workflowId = ingestionWorkflowId(doc.id, doc.version);
    try {
      await app.temporal.workflow.start(ingestDocument, {
        workflowId,
        taskQueue: taskQueueName(app.config, 'ingestion'),
        args: [{ tenantId: doc.tenantId, documentId: doc.id, version: doc.version }],
        // Deleting the tenant finds its running ingestions by it (workflows/tenant-cleanup.ts).
        typedSearchAttributes: new TypedSearchAttributes([{ key: TenantId, value: doc.tenantId }]),
        // A retry may come while the failed run is still closing (it marks the document failed,
        // then fails itself): that run has nothing left to do, so it gives way.
        ...(retry ? { workflowIdConflictPolicy: 'TERMINATE_EXISTING' as const } : {}),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      request.log.warn({ err, workflowId }, 'could not start document ingestion');
      await request.tenantDb.document.update({ where: { id: doc.id }, data: { status: 'failed', stage: null, error: 'Ingestion could not be started; retry it (POST …/retry)' } });
      if (err instanceof ServiceError || isGrpcServiceError(err)) throw new HttpError(503, 'temporal_unavailable', 'Ingestion is unavailable right now; retry later');
      throw err;
    }
    request.log.info({ documentId: doc.id, version: doc.version, workflowId }, 'document ingestion started');
  }

  const mapErrors = (request: FastifyRequest) => (err: unknown): never => {
    if (err instanceof DocumentQuotaError) throw new HttpError(409, 'quota_exceeded', err.message);
    if (err instanceof DocumentStorageError) {
      request.log.warn({ err: err.cause }, 'could not store an uploaded document');
      throw new HttpError(503, 'storage_unavailable', 'The document could not be stored right now; upload it again later');
    }
    throw err;
  };

  app.post(
    '/',
    { bodyLimit: maxBytes + 1024 * 1024, schema: { tags, summary: 'Upload a document', description: uploadDescription, consumes: ['multipart/form-data', 'application/json'], response: { 202: documentSchema, ...uploadResponses } } },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'documents');
      const upload = await readUpload(request, { title: true });
      const doc = await createDocumentVersion(app.db, request.tenantDb, storage, await documentQuotasOf(app.db, request.tenantId, planDefaults), request.tenantId, { ...upload, title: upload.title! }).catch(mapErrors(request));
      await startIngestion(request, doc);
      return reply.status(202).send(out(doc));
    },
  );

  app.post(
    '/:id/versions',
    {
      bodyLimit: maxBytes + 1024 * 1024,
      schema: { tags, summary: 'Upload a new version of a document', description: `${uploadDescription} The title and tags default to the previous version's. The previous version stays searchable until this one is ready.`, consumes: ['multipart/form-data', 'application/json'], params: idParams, response: { 202: documentSchema, ...uploadResponses } },
    },
    async (request, reply) => {
      await enforcePlanFeature(app, request, 'documents');
      const previous = await request.tenantDb.document.findUnique({ where: { id: request.params.id } });
      if (!previous || previous.deletedAt) throw new HttpError(404, 'not_found', 'Document not found');
      const upload = await readUpload(request, { title: false });
      const doc = await createDocumentVersion(app.db, request.tenantDb, storage, await documentQuotasOf(app.db, request.tenantId, planDefaults), request.tenantId, {
        ...upload,
        title: upload.title ?? previous.title,
        tags: upload.tags ?? previous.tags,
        documentKey: previous.documentKey,
      }).catch(mapErrors(request));
      await startIngestion(request, doc);
      return reply.status(202).send(out(doc));
    },
  );

  app.post(
    '/:id/retry',
    {
      schema: {
        tags,
        summary: 'Retry the ingestion of a failed document version',
        description: 'A version that failed because of its content (unreadable, no text, over a parse limit) has no file left to retry: 409, upload a new version instead.',
        params: idParams,
        response: { 202: documentSchema, ...responses },
      },
    },
    async (request, reply) => {
      const doc = await request.tenantDb.document.findUnique({ where: { id: request.params.id } });
      if (!doc || doc.deletedAt) throw new HttpError(404, 'not_found', 'Document not found');
      if (doc.status !== 'failed') throw new HttpError(409, 'conflict', `Only a failed document can be retried (this one is ${doc.status})`);
      if (!doc.storageKey) throw new HttpError(409, 'conflict', `This version's file was removed when it failed (${doc.error ?? 'unreadable'}): upload a corrected file as a new version`);
      const pending = await request.tenantDb.document.update({ where: { id: doc.id }, data: { status: 'pending', stage: 'pending', error: null } });
      await startIngestion(request, pending, true);
      return reply.status(202).send(out(pending));
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List documents (every live version), newest first',
        querystring: paginationQuery
          .extend({ status: z.enum(['pending', 'processing', 'ready', 'failed']).optional(), tag: tag.optional() })
          .strict(),
        response: { 200: page(documentSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor, status, tag: tagFilter } = request.query;
      const rows = await request.tenantDb.document.findMany({
        where: { deletedAt: null, ...(status ? { status } : {}), ...(tagFilter ? { tags: { has: tagFilter } } : {}), ...afterCursor('createdAt', cursor, { date: true }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const p = toPage(rows, limit, (d) => d.createdAt);
      return { items: p.items.map(out), nextCursor: p.nextCursor };
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get a document version with its ingestion status and progress', params: idParams, response: { 200: documentSchema, ...errorResponses } } },
    async (request) => {
      const doc = await request.tenantDb.document.findUnique({ where: { id: request.params.id } });
      if (!doc) throw new HttpError(404, 'not_found', 'Document not found');
      return out(doc);
    },
  );

  app.delete(
    '/:id',
    { schema: { tags, summary: 'Delete a document (every version); it leaves search at once, files are purged later', params: idParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      if (!(await deleteDocument(request.tenantDb, request.params.id))) throw new HttpError(404, 'not_found', 'Document not found');
      request.log.info({ documentId: request.params.id }, 'document deleted');
      await requestEvaluation(
        { temporal: app.temporal, tdb: request.tenantDb, logger: request.log },
        { tenantId: request.tenantId, taskQueue: taskQueueName(app.config, 'ingestion'), trigger: 'documents_changed', quietMs: app.config.EVALUATION_QUIET_SECONDS * 1000 },
      );
      return reply.status(204).send();
    },
  );

  await app.register(documentVersionRoutes);
  await app.register(documentChunkRoutes);
  await app.register(documentSearchRoutes);
};

export default documentRoutes;
