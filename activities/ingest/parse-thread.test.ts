// Parse threads for real: a document is planned in a worker thread (loaded under vitest here,
// under tsx as `npm run dev` runs it, and from the build under plain node as the image runs it),
// the thread is reused for the next document, and a parse past its deadline or its heap limit is
// ended, failing that document with a clear reason while the event loop of the process keeps turning.
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../scripts/provision/server-build.ts';
import { docxWithParagraphs } from '../../test/support/document-files.ts';
import { DEFAULT_DOCUMENT_PARSING, ParseThreads, type DocumentParsing } from './parse-thread.ts';
import { TooManyChunksError } from './parse.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const markdown = (text: string) => new TextEncoder().encode(text);

/** The longest gap between ticks of a 10 ms interval while `work` runs: how long the event loop was held. */
async function longestStall(work: Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  await work.catch(() => undefined);
  clearInterval(ticker);
  return longest;
}

describe('parse threads', () => {
  const pools: ParseThreads[] = [];
  const threads = (parsing: Partial<DocumentParsing> = {}) => {
    const pool = new ParseThreads({ ...DEFAULT_DOCUMENT_PARSING, ...parsing });
    pools.push(pool);
    return pool;
  };

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('plans a document in a thread and reuses the thread for the next one', async () => {
    const pool = threads();
    const first = await pool.plan(markdown('# Returns\n\nBikes come back within 30 days.'), 'markdown');
    expect(first).toEqual([{ ordinal: 0, content: '# Returns\n\nBikes come back within 30 days.', contentHash: expect.stringMatching(/^[0-9a-f]{64}$/), metadata: { section: 'Returns' } }]);
    await pool.plan(markdown('Opening hours: nine to six.'), 'text');
    expect(pool.started).toBe(1);
    // The chunk limit crosses the thread as its own error.
    await expect(pool.plan(markdown('one\n\n'.repeat(10) + 'x'.repeat(5000)), 'text', { maxChunks: 1 })).rejects.toEqual(new TooManyChunksError(1));
    // A file that does not parse: the parser's reason, non-retryable.
    await expect(pool.plan(markdown('%PDF-1.7 broken'), 'pdf')).rejects.toMatchObject({ type: 'UnreadableDocument', nonRetryable: true });
    expect(pool.started).toBe(1);
  });

  it('terminates a parse past its deadline without holding the event loop, and the next document gets a fresh thread', async () => {
    const pool = threads();
    await pool.plan(markdown('warm-up'), 'text'); // the thread is loaded: the deadline below is all parsing
    // 200,000 paragraphs: mammoth works on it for about ten seconds.
    const heavy = await docxWithParagraphs(200_000);
    const started = performance.now();
    const parse = pool.plan(heavy, 'docx', { timeoutMs: 1_500 });
    const stall = await longestStall(parse);
    const err = await parse.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ParseTimeout', nonRetryable: true, message: 'The document could not be parsed within 1.5 s' });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(stall).toBeLessThan(500);

    expect(await pool.plan(markdown('After the timeout.'), 'text')).toHaveLength(1);
    expect(pool.started).toBe(2);
  });

  it('ends a parse that outgrows the heap limit with the limit as the reason', async () => {
    const pool = threads({ DOCUMENT_PARSE_MAX_HEAP_MB: 64 });
    const parse = pool.plan(await docxWithParagraphs(200_000), 'docx');
    const stall = await longestStall(parse);
    await expect(parse).rejects.toMatchObject({ type: 'ParseLimitExceeded', nonRetryable: true, message: 'The document could not be parsed within 64 MiB of memory' });
    expect(stall).toBeLessThan(500);
    expect(await pool.plan(markdown('After running out of memory.'), 'text')).toHaveLength(1);
  }, 60_000);

  it('parses DOCUMENT_PARSE_THREADS documents at once; the next waits for a thread, within its deadline', async () => {
    const pool = threads({ DOCUMENT_PARSE_THREADS: 1 });
    const heavy = await docxWithParagraphs(200_000);
    const first = pool.plan(heavy, 'docx', { timeoutMs: 3_000 });
    const waiting = pool.plan(markdown('Waits its turn.'), 'text', { timeoutMs: 500 });
    await expect(waiting).rejects.toMatchObject({ type: 'ParseThreadsBusy', nonRetryable: false, message: 'No parse thread was free within 0.5 s (DOCUMENT_PARSE_THREADS=1)' });
    const next = pool.plan(markdown('Gets the thread once the first is done.'), 'text', { timeoutMs: 10_000 });
    await expect(first).rejects.toMatchObject({ type: 'ParseTimeout' });
    expect(await next).toHaveLength(1);
  }, 60_000);

  /** Plans one markdown document in a fresh process that imports `module` (a URL) under `runner`. */
  const planIn = async (runner: string, module: string) => {
    const script = `
      const { ParseThreads } = await import(${JSON.stringify(module)});
      const pool = new ParseThreads();
      const chunks = await pool.plan(new TextEncoder().encode('# Warranty\\n\\nFrames: lifetime.'), 'markdown');
      console.log(JSON.stringify({ sections: chunks.map((c) => c.metadata.section), started: pool.started }));
      await pool.close();`;
    const { stdout } = await promisify(execFile)(runner, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 30_000 });
    return JSON.parse(stdout) as unknown;
  };

  it('runs under tsx, as `npm run dev` runs the worker', async () => {
    expect(await planIn(`${ROOT}node_modules/.bin/tsx`, new URL('./parse-thread.ts', import.meta.url).href)).toEqual({ sections: ['Warranty'], started: 1 });
  });

  it('runs from the build under plain node, as the image runs the worker', async () => {
    await ensureServerBuild();
    expect(await planIn(process.execPath, pathToFileURL(`${ROOT}dist/activities/ingest/parse-thread.js`).href)).toEqual({ sections: ['Warranty'], started: 1 });
  }, 120_000);
});
