// The chunks of a document version, in document order, as retrieval holds them: their text,
// position and size, page and section. A tenant switching embedding models holds one set of
// chunks per model; the set listed is the one of the model retrieval uses now.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../../../plugins/app/errors.ts';
import { decodeCursor, encodeCursor, errorResponses, idParams, page, paginationQuery } from '../../../schemas/common.ts';

/** Ordinals are Postgres integers: a cursor past them is not one this API returned. */
const MAX_ORDINAL = 2 ** 31 - 1;

const chunkSchema = z.object({
  id: z.uuid(),
  position: z.number().int().describe('0-based place of the chunk in the document'),
  content: z.string(),
  characters: z.number().int(),
  page: z.number().int().nullable().describe('1-based page of a PDF'),
  section: z.string().nullable().describe('The heading path the chunk sits under (Markdown, HTML, DOCX)'),
});

const chunkPage = page(chunkSchema).extend({
  total: z.number().int().describe("The version's chunk count"),
  embeddingModel: z.string().describe('The model whose chunks are listed (the one retrieval uses)'),
});

const documentChunkRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/:id/chunks',
    {
      schema: {
        tags: ['documents'],
        summary: 'List the chunks of a document version, in document order',
        description: 'Paged by position. A version still being ingested lists the chunks written so far; a failed one has none.',
        params: idParams,
        querystring: paginationQuery.strict(),
        response: { 200: chunkPage, ...errorResponses },
      },
    },
    async (request) => {
      const doc = await request.tenantDb.document.findUnique({ where: { id: request.params.id }, select: { id: true, chunkCount: true } });
      if (!doc) throw new HttpError(404, 'not_found', 'Document not found');
      const tenant = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId }, select: { embeddingModel: true } });
      const { limit, cursor } = request.query;
      let after = -1;
      if (cursor) {
        const { value } = decodeCursor(cursor);
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ORDINAL) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
        after = value;
      }
      const rows = await request.tenantDb.chunk.findMany({
        where: { documentId: doc.id, embeddingModel: tenant.embeddingModel, ordinal: { gt: after } },
        select: { id: true, ordinal: true, content: true, metadata: true },
        orderBy: { ordinal: 'asc' },
        take: limit + 1,
      });
      const items = rows.slice(0, limit).map((c) => {
        const meta = (c.metadata ?? {}) as { page?: unknown; section?: unknown };
        return {
          id: c.id,
          position: c.ordinal,
          content: c.content,
          characters: c.content.length,
          page: typeof meta.page === 'number' ? meta.page : null,
          section: typeof meta.section === 'string' && meta.section ? meta.section : null,
        };
      });
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.position, last.id) : null, total: doc.chunkCount, embeddingModel: tenant.embeddingModel };
    },
  );
};

export default documentChunkRoutes;
