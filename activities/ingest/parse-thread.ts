// Parsing runs in worker threads, not on the event loop of the worker process: that process may
// serve every task queue, and a parser stuck in a pathological file (or growing without bound)
// would otherwise hold the loop that conversations run on. Each thread has a V8 heap limit
// (resourceLimits) and each document a wall-clock deadline, past which its thread is
// terminated; either ends that one document with a clear, non-retryable reason, and the process
// carries on. At most DOCUMENT_PARSE_THREADS parse at once, so their heaps add up to a known
// bound; a document that waits for a thread longer than its own deadline fails retryably (the
// activity is tried again later). A thread parses one document at a time and is kept for the
// next ones while idle, since loading the parsers costs about a second; a thread that failed is
// never reused.
import { Worker } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import { configSchema, type Config } from '../../lib/config.ts';
import type { DocumentFormat } from '../../lib/document-formats.ts';
import { TooManyChunksError, type PlannedChunk } from './parse.ts';
import type { ParseReply, ParseRequest } from './parse-worker.ts';

export type DocumentParsing = Pick<
  Config,
  'DOCUMENT_MAX_PDF_PAGES' | 'DOCUMENT_MAX_INFLATED_BYTES' | 'DOCUMENT_PARSE_TIMEOUT_SECONDS' | 'DOCUMENT_PARSE_MAX_HEAP_MB' | 'DOCUMENT_PARSE_THREADS'
>;

/** The configuration's defaults, for callers that pass none. */
export const DEFAULT_DOCUMENT_PARSING: DocumentParsing = configSchema
  .pick({ DOCUMENT_MAX_PDF_PAGES: true, DOCUMENT_MAX_INFLATED_BYTES: true, DOCUMENT_PARSE_TIMEOUT_SECONDS: true, DOCUMENT_PARSE_MAX_HEAP_MB: true, DOCUMENT_PARSE_THREADS: true })
  .parse({});

// Built (dist/, plain node) the body is JavaScript and starts as it is; from the sources the .mjs
// entry loads it through tsx.
const ENTRY = import.meta.url.endsWith('.js')
  ? new URL('./parse-worker.js', import.meta.url)
  : new URL('./parse-worker-entry.mjs', import.meta.url);
/** Idle threads kept, and for how long; a thread is replaced after this many documents (pdf.js caches). */
const MAX_IDLE_THREADS = 2;
const IDLE_MS = 60_000;
const DOCUMENTS_PER_THREAD = 50;

interface ParseThread {
  worker: Worker;
  documents: number;
  idleTimer?: NodeJS.Timeout;
}

export interface PlanOptions {
  /** Chunking stops, with TooManyChunksError, past this many chunks. */
  maxChunks?: number;
  /** The activity's cancellation: the document's thread is terminated. */
  signal?: AbortSignal;
  /** Milliseconds instead of DOCUMENT_PARSE_TIMEOUT_SECONDS (tests). */
  timeoutMs?: number;
}

export class ParseThreads {
  readonly #idle: ParseThread[] = [];
  /** Documents being parsed, and those waiting for a thread. */
  #busy = 0;
  readonly #waiting: (() => void)[] = [];
  /** Threads started so far (tests see reuse). */
  started = 0;

  constructor(readonly parsing: DocumentParsing = DEFAULT_DOCUMENT_PARSING) {}

  /** The document's chunks, planned in a bounded thread. */
  async plan(bytes: Uint8Array, format: DocumentFormat, options: PlanOptions = {}): Promise<PlannedChunk[]> {
    const { parsing } = this;
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const timeoutMs = options.timeoutMs ?? parsing.DOCUMENT_PARSE_TIMEOUT_SECONDS * 1000;
    await this.#acquire(timeoutMs);
    let thread: ParseThread;
    try {
      if (signal?.aborted) throw signal.reason;
      thread = this.#take();
    } catch (err) {
      this.#handOver();
      throw err;
    }
    // The thread gets its own copy of the bytes, moved rather than cloned.
    const copy = new Uint8Array(bytes);
    const request: ParseRequest = {
      bytes: copy,
      format,
      limits: { maxPdfPages: parsing.DOCUMENT_MAX_PDF_PAGES, maxInflatedBytes: parsing.DOCUMENT_MAX_INFLATED_BYTES },
      maxChunks: options.maxChunks,
    };
    const { worker } = thread;
    return new Promise<PlannedChunk[]>((resolve, reject) => {
      let settled = false;
      const finish = (reusable: boolean, outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (reusable) this.#release(thread);
        else void worker.terminate();
        this.#handOver();
        outcome();
      };
      const onMessage = (reply: ParseReply) =>
        finish(true, () => {
          if (reply.ok) resolve(reply.chunks);
          else if ('tooManyChunks' in reply) reject(new TooManyChunksError(reply.tooManyChunks));
          else if (reply.failure.nonRetryable) reject(ApplicationFailure.nonRetryable(reply.failure.message, reply.failure.type));
          else reject(ApplicationFailure.retryable(reply.failure.message, reply.failure.type));
        });
      const onError = (err: Error & { code?: string }) =>
        finish(false, () =>
          reject(
            err.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? ApplicationFailure.nonRetryable(`The document could not be parsed within ${parsing.DOCUMENT_PARSE_MAX_HEAP_MB} MiB of memory`, 'ParseLimitExceeded')
              : err,
          ),
        );
      const onExit = (code: number) => finish(false, () => reject(new Error(`the parse thread exited (code ${code}) without an answer`)));
      const onAbort = () => finish(false, () => reject(signal!.reason));
      const timer = setTimeout(
        () => finish(false, () => reject(ApplicationFailure.nonRetryable(`The document could not be parsed within ${seconds(timeoutMs)}`, 'ParseTimeout'))),
        timeoutMs,
      );
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      signal?.addEventListener('abort', onAbort);
      worker.ref();
      worker.postMessage(request, [copy.buffer]);
    });
  }

  /** Ends the idle threads. */
  async close(): Promise<void> {
    await Promise.all(this.#idle.splice(0).map((t) => (clearTimeout(t.idleTimer), t.worker.terminate())));
  }

  /** A parse slot: at once while fewer than DOCUMENT_PARSE_THREADS are busy, else the next one freed. */
  async #acquire(waitMs: number): Promise<void> {
    if (this.#busy < this.parsing.DOCUMENT_PARSE_THREADS) {
      this.#busy++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const take = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(take), 1);
        reject(ApplicationFailure.retryable(`No parse thread was free within ${seconds(waitMs)} (DOCUMENT_PARSE_THREADS=${this.parsing.DOCUMENT_PARSE_THREADS})`, 'ParseThreadsBusy'));
      }, waitMs);
      this.#waiting.push(take);
    });
  }

  /** The slot of a finished document goes to the next waiting one (still busy), or is freed. */
  #handOver(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy--;
  }

  #take(): ParseThread {
    const idle = this.#idle.pop();
    if (idle) {
      clearTimeout(idle.idleTimer);
      idle.documents++;
      return idle;
    }
    this.started++;
    const worker = new Worker(ENTRY, {
      // None of the parent's flags (a loader, --max-old-space-size): the entry loads what it needs.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.parsing.DOCUMENT_PARSE_MAX_HEAP_MB },
    });
    const thread: ParseThread = { worker, documents: 1 };
    // An idle thread that dies leaves the pool; its error is the exit's to report.
    worker.on('error', () => {}).on('exit', () => {
      const i = this.#idle.indexOf(thread);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    return thread;
  }

  #release(thread: ParseThread): void {
    if (this.#idle.length >= MAX_IDLE_THREADS || thread.documents >= DOCUMENTS_PER_THREAD) {
      void thread.worker.terminate();
      return;
    }
    // An idle thread does not keep the process alive.
    thread.worker.unref();
    thread.idleTimer = setTimeout(() => {
      const i = this.#idle.indexOf(thread);
      if (i >= 0) this.#idle.splice(i, 1);
      void thread.worker.terminate();
    }, IDLE_MS).unref();
    this.#idle.push(thread);
  }
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
