// Schemas of documents: a document version as every documents route answers it.
import { z } from 'zod';
import type { Document } from '../../generated/prisma/client.ts';
import { DOCUMENT_FORMATS } from '../../lib/document-formats.ts';
import { documentView } from '../../lib/documents.ts';
import { ingestionWorkflowId } from '../../workflows/ingestion.ts';
import { iso } from './common.ts';

export const documentSchema = z.object({
  id: z.uuid(),
  documentKey: z.string().describe('Identifies the logical document across its versions'),
  version: z.number().int(),
  title: z.string(),
  filename: z.string().nullable(),
  format: z.enum(DOCUMENT_FORMATS).nullable(),
  mimeType: z.string(),
  status: z.enum(['pending', 'processing', 'ready', 'failed']),
  stage: z.string().nullable().describe('parsing, embedding, … while processing'),
  error: z.string().nullable().describe('Why ingestion failed'),
  tags: z.array(z.string()),
  sizeBytes: z.number().int(),
  chunkCount: z.number().int(),
  chunksEmbedded: z.number().int(),
  progress: z.number().describe('0..1'),
  workflowId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  readyAt: z.string().nullable(),
  deletedAt: z.string().nullable(),
});

export function documentOut(d: Document): z.infer<typeof documentSchema> {
  const v = documentView(d);
  return {
    ...v,
    workflowId: ingestionWorkflowId(d.id, d.version),
    createdAt: iso(v.createdAt)!,
    updatedAt: iso(v.updatedAt)!,
    readyAt: iso(v.readyAt),
    deletedAt: iso(v.deletedAt),
  };
}
