// Parsing and chunking are linear and bounded: pathological text (long runs of spaces, long
// heading lines, tens of thousands of headings) takes milliseconds, not minutes; a PDF over its
// page limit and a DOCX that inflates past its limit are refused before they are parsed (a
// bomb whose ZIP headers lie included); chunking stops as soon as the document has more chunks
// than allowed, without reading the rest.
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { docxFile, docxWithParagraphs, pdfFile, withDeclaredSize } from '../../test/support/document-files.ts';
import { checkDocxInflatedSize } from './docx-size.ts';
import {
  chunkSections,
  headingAt,
  headingPaths,
  normalizeText,
  parseDocument,
  splitBlocks,
  SPLIT_BLOCK_CHARS,
  TooManyChunksError,
  type ParseLimits,
  type Section,
} from './parse.ts';

const LIMITS: ParseLimits = { maxPdfPages: 2000, maxInflatedBytes: 32 * 1024 * 1024 };

/** Milliseconds `f` takes. */
async function timed(f: () => unknown): Promise<number> {
  const started = performance.now();
  await f();
  return performance.now() - started;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

async function sections(bytes: Uint8Array, format: Parameters<typeof parseDocument>[1], limits = LIMITS): Promise<Section[]> {
  const out: Section[] = [];
  for await (const s of parseDocument(bytes, format, limits)) out.push(s);
  return out;
}

describe('normalizeText', () => {
  it('strips trailing whitespace of 200k spaces followed by a letter in milliseconds', async () => {
    // /[ \t\u00A0]+$/gm retried from each of the spaces: about 45 s on this input.
    const spaces = ' '.repeat(200_000);
    let out = '';
    expect(await timed(() => (out = normalizeText(`${spaces}a`)))).toBeLessThan(2_000);
    expect(out).toBe(`${spaces}a`.trim());
    expect(await timed(() => (out = normalizeText(`x${spaces}a\u00A0\t \ny${spaces}\nz`)))).toBeLessThan(2_000);
    expect(out).toBe(`x${spaces}a\ny\nz`);
  });

  it('keeps its rules: NFC, LF line ends, no control characters, no trailing blanks, at most one blank line', () => {
    expect(normalizeText('  Cafe\u0301 \t\r\nline\u0007 two\u00A0\r\n\r\n\r\n\n\nend  ')).toBe('Café\nline two\n\nend');
  });
});

describe('headings', () => {
  it('reads a 200k-character heading line in milliseconds', async () => {
    // /^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm tried every split of the line: about 49 s on this one.
    const line = `# a${' '.repeat(200_000)}b`;
    let found: ReturnType<typeof headingPaths> = [];
    expect(await timed(() => (found = headingPaths(`${line}\n## c\n# ${'# '.repeat(100_000)}`)))).toBeLessThan(2_000);
    expect(found.map((h) => h.path)).toEqual([line.slice(2), `${line.slice(2)} › c`]);
  });

  it('builds heading paths as before: levels nest, closing hashes and blanks are dropped, 7 hashes are text', () => {
    const text = '# Returns #\n\ntext\n\n## Refunds  ##\n\n###\tBikes\n\n####### not a heading\n\n#no space\n\n## Exchanges';
    expect(headingPaths(text).map((h) => [text.slice(h.at, h.at + 3), h.path])).toEqual([
      ['# R', 'Returns'],
      ['## ', 'Returns › Refunds'],
      ['###', 'Returns › Refunds › Bikes'],
      ['## ', 'Returns › Exchanges'],
    ]);
  });

  it('finds the heading in force at an offset by binary search, else the chunk\'s own first heading', () => {
    const headings = Array.from({ length: 1000 }, (_, i) => ({ at: 100 + i * 10, path: `h${i}` }));
    expect(headingAt(headings, 0, 50)).toBeUndefined();
    expect(headingAt(headings, 0, 150)?.path).toBe('h0');
    expect(headingAt(headings, 100, 101)?.path).toBe('h0');
    expect(headingAt(headings, 109, 110)?.path).toBe('h0');
    expect(headingAt(headings, 110, 111)?.path).toBe('h1');
    expect(headingAt(headings, 1_000_000, 1_000_001)?.path).toBe('h999');
    expect(headingAt([], 10, 20)).toBeUndefined();
  });

  it('gives 40,000 chunks their sections in well under the time the lookup per chunk over every heading took', async () => {
    // One heading per chunk: searching every heading for every chunk took about 17 s here.
    const markdown = Array.from({ length: 40_000 }, (_, i) => `## Part ${i}\n\n${'word '.repeat(150)}`).join('\n\n');
    let chunks: Awaited<ReturnType<typeof chunkSections>> = [];
    expect(await timed(async () => (chunks = await chunkSections([{ text: markdown, markdown: true }])))).toBeLessThan(5_000);
    expect(chunks).toHaveLength(40_000);
    expect(chunks.every((c, i) => c.metadata.section === `Part ${i}` && c.content.startsWith(`## Part ${i}\n`))).toBe(true);
  }, 60_000);
});

describe('chunking within a limit', () => {
  afterEach(() => vi.restoreAllMocks());

  it('splits long text in blocks cut at paragraph breaks, never right after a heading', () => {
    const text = Array.from({ length: 400 }, (_, i) => (i % 7 === 0 ? `## Heading ${i}` : `Paragraph ${i} ${'x'.repeat(600)}`)).join('\n\n');
    const blocks = splitBlocks(text, 10_000);
    expect(blocks.map((b) => b.text).join('')).toBe(text);
    for (const [i, b] of blocks.entries()) {
      expect(text.startsWith(b.text, b.at)).toBe(true);
      expect(b.text.length).toBeLessThanOrEqual(10_000);
      if (i < blocks.length - 1) {
        expect(b.text.endsWith('\n')).toBe(true);
        expect(b.text.trimEnd().split('\n').at(-1)).not.toMatch(/^#/);
      }
    }
    // A text without line breaks is cut at the block size.
    expect(splitBlocks('y'.repeat(25_000), 10_000).map((b) => b.text.length)).toEqual([10_000, 10_000, 5_000]);
  });

  it('stops chunking one big text at the limit after its first block, not after the whole text', async () => {
    const split = vi.spyOn(RecursiveCharacterTextSplitter.prototype, 'splitText');
    const words = 'gear chain saddle spoke brake pedal tyre valve frame crank hub rim fork stem grip'.split(' ');
    const text = Array.from({ length: 20_000 }, (_, i) => Array.from({ length: 150 }, (_, j) => words[(i + j * 7) % 15]).join(' ')).join('\n\n');
    expect(text.length).toBeGreaterThan(100 * SPLIT_BLOCK_CHARS);
    const err = await chunkSections([{ text, markdown: false }], { maxChunks: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyChunksError);
    expect((err as TooManyChunksError).maxChunks).toBe(10);
    expect(split).toHaveBeenCalledTimes(1);

    split.mockClear();
    const all = await chunkSections([{ text, markdown: false }]);
    expect(all.length).toBeGreaterThan(10);
    expect(split.mock.calls.length).toBeGreaterThan(10);
  });

  it('stops reading sections once past the limit, and accepts a document with exactly as many chunks', async () => {
    let pulled = 0;
    function* pages(): Generator<Section> {
      for (let page = 1; page <= 1000; page++) {
        pulled++;
        yield { text: `Page ${page} says one short thing.`, page, markdown: false };
      }
    }
    await expect(chunkSections(pages(), { maxChunks: 5 })).rejects.toBeInstanceOf(TooManyChunksError);
    expect(pulled).toBe(6);
    pulled = 0;
    const five = await chunkSections([...pages()].slice(0, 5), { maxChunks: 5 });
    expect(five.map((c) => c.metadata.page)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('PDF limits', () => {
  it('refuses a PDF over the page limit before reading a page', async () => {
    const pdf = await pdfFile(Array.from({ length: 6 }, (_, i) => `Page ${i + 1}`));
    const failure = await failureOf(sections(pdf, 'pdf', { ...LIMITS, maxPdfPages: 5 }));
    expect(failure).toMatchObject({ type: 'DocumentTooLarge', nonRetryable: true, message: 'The PDF has 6 pages, above the limit of 5' });
    expect((await sections(pdf, 'pdf', { ...LIMITS, maxPdfPages: 6 })).map((s) => [s.page, s.text])).toEqual(Array.from({ length: 6 }, (_, i) => [i + 1, `Page ${i + 1}`]));
  });

  it('reads pages only as far as chunking goes: over the chunk limit, the rest are never read', async () => {
    const pdf = await pdfFile(Array.from({ length: 40 }, (_, i) => `Page ${i + 1} of the service manual.`));
    let read = 0;
    async function* counted(): AsyncGenerator<Section> {
      for await (const s of parseDocument(pdf, 'pdf', LIMITS)) {
        read++;
        yield s;
      }
    }
    await expect(chunkSections(counted(), { maxChunks: 3 })).rejects.toBeInstanceOf(TooManyChunksError);
    expect(read).toBe(4);
  });
});

describe('DOCX limits', () => {
  it('converts a DOCX with its headings', async () => {
    const [section] = await sections(await docxFile(), 'docx');
    const chunks = await chunkSections([section!]);
    expect(chunks.map((c) => c.metadata.section)).toEqual(['Warranty']);
    expect(section!.text).toContain('## Batteries');
  });

  it('refuses a zip bomb while inflating it: 60 MiB of XML from a 300 KB file', async () => {
    const bomb = await docxWithParagraphs(1_500_000);
    expect(bomb.byteLength).toBeLessThan(1024 * 1024);
    let failure: ApplicationFailure | undefined;
    expect(await timed(async () => (failure = await failureOf(sections(bomb, 'docx'))))).toBeLessThan(10_000);
    expect(failure).toMatchObject({ type: 'DocumentTooLarge', nonRetryable: true, message: 'The DOCX file inflates to more than 32 MiB, the limit' });
  });

  it('counts what a part inflates to, not the size its ZIP headers declare', async () => {
    const liar = withDeclaredSize(await docxWithParagraphs(200_000), 'word/document.xml', 1_000);
    await expect(checkDocxInflatedSize(liar, 1024 * 1024)).rejects.toMatchObject({ type: 'DocumentTooLarge', message: 'The DOCX file inflates to more than 1 MiB, the limit' });
    await expect(checkDocxInflatedSize(await docxFile(), 1024 * 1024)).resolves.toBeUndefined();
  });

  it('calls a file that is not a ZIP unreadable', async () => {
    const failure = await failureOf(sections(new TextEncoder().encode('PK\u0003\u0004 not really'), 'docx'));
    expect(failure).toMatchObject({ type: 'UnreadableDocument', message: expect.stringMatching(/^The DOCX file could not be read: /) });
  });
});
