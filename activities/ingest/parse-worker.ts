// The body of a parse thread (./parse-thread.ts starts it, through ./parse-worker-entry.mjs from the sources):
// parses and chunks one document per message, and answers with the chunks or why there are none.
import { parentPort } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import type { DocumentFormat } from '../../lib/document-formats.ts';
import { chunkSections, parseDocument, TooManyChunksError, type ParseLimits, type PlannedChunk } from './parse.ts';

export interface ParseRequest {
  bytes: Uint8Array;
  format: DocumentFormat;
  limits: ParseLimits;
  maxChunks?: number;
}

export type ParseReply =
  | { ok: true; chunks: PlannedChunk[] }
  | { ok: false; tooManyChunks: number }
  | { ok: false; failure: { message: string; type: string | null; nonRetryable: boolean } };

async function plan(request: ParseRequest): Promise<ParseReply> {
  try {
    return { ok: true, chunks: await chunkSections(parseDocument(request.bytes, request.format, request.limits), { maxChunks: request.maxChunks }) };
  } catch (err) {
    if (err instanceof TooManyChunksError) return { ok: false, tooManyChunks: err.maxChunks };
    if (err instanceof ApplicationFailure) return { ok: false, failure: { message: err.message, type: err.type ?? null, nonRetryable: err.nonRetryable === true } };
    // Anything else is unexpected, and worth a retry (Temporal's) like any other activity error.
    return { ok: false, failure: { message: err instanceof Error ? err.message : String(err), type: null, nonRetryable: false } };
  }
}

// One request at a time: the pool sends the next only after this one's answer.
parentPort!.on('message', async (request: ParseRequest) => parentPort!.postMessage(await plan(request)));
