// A document's versions (every one not yet purged, newest first) and restoring one of them
// (lib/document-versions.ts: the version's stored chunks become the live ones again).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { restoreDocumentVersion, VersionRestoreError } from '../../../../lib/document-versions.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { afterCursor, errorResponses, idParams, page, paginationQuery, toPage } from '../../../schemas/common.ts';
import { documentOut, documentSchema } from '../../../schemas/documents.ts';
import { documentQuotasOf, planDefaultsOf } from '../../../../lib/plans.ts';

const documentVersionRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['documents'];

  app.get(
    '/:id/versions',
    {
      schema: {
        tags,
        summary: "List a document's versions, newest first",
        description:
          'Every version of the document that `id` is a version of, the replaced ones (`deletedAt` set) included until the purge removes them ' +
          '(DOCUMENT_PURGE_AFTER_HOURS after they were replaced). The live version is the one without `deletedAt`.',
        params: idParams,
        querystring: paginationQuery.strict(),
        response: { 200: page(documentSchema), ...errorResponses },
      },
    },
    async (request) => {
      const doc = await request.tenantDb.document.findUnique({ where: { id: request.params.id }, select: { documentKey: true } });
      if (!doc) throw new HttpError(404, 'not_found', 'Document not found');
      const { limit, cursor } = request.query;
      const rows = await request.tenantDb.document.findMany({
        where: { documentKey: doc.documentKey, ...afterCursor('createdAt', cursor, { date: true }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const p = toPage(rows, limit, (d) => d.createdAt);
      return { items: p.items.map(documentOut), nextCursor: p.nextCursor };
    },
  );

  app.post(
    '/:id/restore',
    {
      schema: {
        tags,
        summary: 'Make an earlier version of a document the live one again',
        description:
          'The version `id` (one that was ready) becomes the version retrieval uses, with the chunks it kept; the live version is replaced ' +
          'in the same transaction (retrieval sees one or the other, never neither) and stays listed, restorable in turn, until the purge. ' +
          'No new ingestion runs. 409 when the version never became ready, when its chunks belong to an embedding model the tenant ' +
          'switched away from, or when it would pass the plan\'s chunk limit; 404 when the document was deleted.',
        params: idParams,
        response: { 200: documentSchema, ...errorResponses },
      },
    },
    async (request) => {
      const restored = await restoreDocumentVersion(app.db, request.tenantId, request.params.id, (await documentQuotasOf(app.db, request.tenantId, planDefaultsOf(app.config))).maxChunks).catch((err: unknown) => {
        if (err instanceof VersionRestoreError) throw new HttpError(409, 'conflict', err.message);
        throw err;
      });
      if (!restored) throw new HttpError(404, 'not_found', 'Document not found');
      request.log.info({ documentId: restored.id, version: restored.version }, 'document version restored');
      return documentOut(restored);
    },
  );
};

export default documentVersionRoutes;
