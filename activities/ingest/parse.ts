// Parsing and chunking of one document version. Every format becomes sections of normalised
// text: a PDF one section per page (a chunk knows its page), Markdown, HTML and DOCX one section
// rendered as Markdown (headings kept, so a chunk knows the heading path it sits under), plain
// text one section. Chunks come from @langchain/textsplitters: MarkdownTextSplitter for the
// Markdown-shaped formats, RecursiveCharacterTextSplitter for the rest.
//
// Everything here is linear in the size of the text (no regex that backtracks on a long run of
// one character, no search per chunk over the whole text), and bounded: a PDF's page count and a
// DOCX's inflated size are checked before they are parsed, and chunking stops as soon as the
// document has more chunks than the caller allows. It runs in a worker thread
// (./parse-thread.ts) with a heap limit and a deadline on top.
import { createHash } from 'node:crypto';
import { MarkdownTextSplitter, RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { ApplicationFailure } from '@temporalio/common';
import { convert } from 'html-to-text';
import mammoth from 'mammoth';
import { getDocumentProxy } from 'unpdf';
import type { DocumentFormat } from '../../lib/document-formats.ts';
import { checkDocxInflatedSize } from './docx-size.ts';

export const CHUNK_SIZE = 1000;
export const CHUNK_OVERLAP = 150;
/**
 * A long section is split this many characters at a time (cut at a paragraph break), so that a
 * document over its chunk limit stops after one block instead of after the whole text.
 */
export const SPLIT_BLOCK_CHARS = 128 * CHUNK_SIZE;

export interface Section {
  text: string;
  page?: number;
  /** Markdown-shaped text: headings give chunks their section. */
  markdown: boolean;
}

export interface PlannedChunk {
  ordinal: number;
  content: string;
  contentHash: string;
  metadata: { page?: number; section?: string };
}

export interface ParseLimits {
  /** Pages a PDF may have (counted before any page is read). */
  maxPdfPages: number;
  /** Bytes a DOCX's parts may inflate to (counted while inflating, before conversion). */
  maxInflatedBytes: number;
}

/** NFC, LF line ends, no control characters but tab and newline, no trailing whitespace, ≤ 1 blank line. */
export function normalizeText(text: string): string {
  const cleaned = text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFD]/g, '');
  // Line by line with trimEnd, not /[ \t]+$/gm: that regex retries from every space of a long
  // run that no line end follows, which is quadratic (200k spaces then a letter: minutes).
  return cleaned
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** HTML rendered as Markdown-ish text: headings as "#"s, links without URLs, no images. */
export function htmlToMarkdown(html: string): string {
  const headings = [1, 2, 3, 4, 5, 6].map((level) => ({ selector: `h${level}`, format: 'markdownHeading', options: { level } }));
  return convert(html, {
    wordwrap: false,
    formatters: {
      markdownHeading(elem, walk, builder, options) {
        builder.openBlock({ leadingLineBreaks: 2 });
        builder.addLiteral(`${'#'.repeat(Number((options as { level?: number }).level ?? 1))} `);
        walk(elem.children, builder);
        builder.closeBlock({ trailingLineBreaks: 2 });
      },
    },
    selectors: [
      ...headings,
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'script', format: 'skip' },
      { selector: 'style', format: 'skip' },
      { selector: 'nav', format: 'skip' },
    ],
  });
}

function unreadable(format: string, err: unknown): ApplicationFailure {
  // A file that does not parse will not parse on a retry either.
  return ApplicationFailure.nonRetryable(`The ${format.toUpperCase()} file could not be read: ${err instanceof Error ? err.message : String(err)}`, 'UnreadableDocument');
}

/** A document beyond a parse limit: retrying the same file cannot help. */
function tooLarge(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'DocumentTooLarge');
}

// Images are never converted (retrieval is text only): mammoth neither reads nor base64-encodes a DOCX's media.
const skipImages = mammoth.images.imgElement(async () => ({ src: '' }));

/** The document's sections, one at a time: a PDF's pages are read only as far as they are consumed. */
export async function* parseDocument(bytes: Uint8Array, format: DocumentFormat, limits: ParseLimits): AsyncGenerator<Section> {
  switch (format) {
    case 'text':
      yield { text: normalizeText(new TextDecoder().decode(bytes)), markdown: false };
      return;
    case 'markdown':
      yield { text: normalizeText(new TextDecoder().decode(bytes)), markdown: true };
      return;
    case 'html':
      yield { text: normalizeText(htmlToMarkdown(new TextDecoder().decode(bytes))), markdown: true };
      return;
    case 'docx': {
      let html: string;
      try {
        await checkDocxInflatedSize(bytes, limits.maxInflatedBytes);
        html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) }, { convertImage: skipImages })).value;
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw unreadable(format, err);
      }
      yield { text: normalizeText(htmlToMarkdown(html)), markdown: true };
      return;
    }
    case 'pdf': {
      let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
      try {
        // Errors only: pdf.js's warnings about a damaged file would go to stdout.
        pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
      } catch (err) {
        throw unreadable(format, err);
      }
      try {
        if (pdf.numPages > limits.maxPdfPages) throw tooLarge(`The PDF has ${pdf.numPages} pages, above the limit of ${limits.maxPdfPages}`);
        for (let page = 1; page <= pdf.numPages; page++) {
          let text: string;
          try {
            text = await pageText(pdf, page);
          } catch (err) {
            throw unreadable(format, err);
          }
          yield { text: normalizeText(text), page, markdown: false };
        }
      } finally {
        await pdf.loadingTask.destroy();
      }
    }
  }
}

/** One page's text as unpdf's extractText joins it: the items' strings, a newline where a line ends. */
async function pageText(pdf: Awaited<ReturnType<typeof getDocumentProxy>>, pageNumber: number): Promise<string> {
  const page = await pdf.getPage(pageNumber);
  try {
    const content = await page.getTextContent();
    return content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('');
  } finally {
    page.cleanup();
  }
}

export interface Heading {
  /** Offset of the heading line in the section. */
  at: number;
  /** The section in force from there on ("Returns › Refunds"). */
  path: string;
}

const isHashOrBlank = (c: number) => c === 35 || c === 32 || c === 9;

/** The title of a Markdown ATX heading line (1–6 "#", a space or tab, text), or undefined. */
function headingTitle(line: string): { level: number; title: string } | undefined {
  let level = 0;
  while (level < line.length && line.charCodeAt(level) === 35) level++;
  if (level === 0 || level > 6) return undefined;
  const after = line.charCodeAt(level);
  if (after !== 32 && after !== 9) return undefined;
  // Trailing blanks and closing "#"s are not part of the title.
  let end = line.length;
  while (end > level && isHashOrBlank(line.charCodeAt(end - 1))) end--;
  const title = line.slice(level, end).trim();
  return title ? { level, title } : undefined;
}

/** Heading paths by offset, in one pass over the lines. */
export function headingPaths(text: string): Heading[] {
  const stack: string[] = [];
  const out: Heading[] = [];
  for (let at = 0; at <= text.length; ) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl;
    if (text.charCodeAt(at) === 35) {
      const heading = headingTitle(text.slice(at, end));
      if (heading) {
        stack.length = heading.level - 1;
        stack[heading.level - 1] = heading.title;
        out.push({ at, path: stack.filter(Boolean).join(' › ') });
      }
    }
    at = end + 1;
  }
  return out;
}

/**
 * The heading in force at `at` (the last one starting there or before), else the chunk's own
 * first heading (one starting before `end`). Binary search: `headings` are in offset order.
 */
export function headingAt(headings: Heading[], at: number, end: number): Heading | undefined {
  let lo = 0;
  let hi = headings.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (headings[mid]!.at <= at) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) return headings[lo - 1];
  return headings[0] && headings[0].at < end ? headings[0] : undefined;
}

/** Blocks of about SPLIT_BLOCK_CHARS, each cut after a paragraph break (else a line break) when there is one. */
export function splitBlocks(text: string, size = SPLIT_BLOCK_CHARS): { at: number; text: string }[] {
  const blocks: { at: number; text: string }[] = [];
  let start = 0;
  while (text.length - start > size) {
    // Searched within the block only, so a text without line breaks costs no scan back to its start.
    const window = text.slice(start, start + size);
    let cut = window.lastIndexOf('\n\n');
    // Not right after a heading: it stays with the text it heads.
    while (cut > 0 && window.charCodeAt(window.lastIndexOf('\n', cut - 1) + 1) === 35) {
      const before = window.lastIndexOf('\n\n', window.lastIndexOf('\n', cut - 1));
      if (before <= 0) break;
      cut = before;
    }
    if (cut <= 0) cut = window.lastIndexOf('\n');
    cut = cut <= 0 ? size : cut + 1;
    blocks.push({ at: start, text: window.slice(0, cut) });
    start += cut;
  }
  blocks.push({ at: start, text: text.slice(start) });
  return blocks;
}

export const hashText = (text: string) => createHash('sha256').update(text).digest('hex');

/** The document has more chunks than `maxChunks` (chunking stopped there). */
export class TooManyChunksError extends Error {
  constructor(readonly maxChunks: number) {
    super(`the document has more than ${maxChunks} chunks`);
    this.name = 'TooManyChunksError';
  }
}

export async function chunkSections(sections: AsyncIterable<Section> | Iterable<Section>, options: { maxChunks?: number } = {}): Promise<PlannedChunk[]> {
  const markdownSplitter = new MarkdownTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const textSplitter = new RecursiveCharacterTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const maxChunks = options.maxChunks ?? Infinity;
  const chunks: PlannedChunk[] = [];
  for await (const section of sections) {
    if (!section.text) continue;
    const headings = section.markdown ? headingPaths(section.text) : [];
    for (const block of splitBlocks(section.text)) {
      const pieces = await (section.markdown ? markdownSplitter : textSplitter).splitText(block.text);
      let from = 0;
      for (const raw of pieces) {
        const content = raw.trim();
        if (!content) continue;
        // Where the piece starts in the block: pieces come in order, overlap moves back a little,
        // and only blanks lie between one piece and the next. The search is bounded to that
        // stretch, so a piece that is not found verbatim costs no scan of the rest of the text.
        const start = Math.max(0, from - CHUNK_OVERLAP - 1);
        let next = from;
        while (next < block.text.length && block.text[next]!.trim() === '') next++;
        const found = block.text.slice(start, next + content.length).indexOf(content);
        const at = block.at + (found >= 0 ? start + found : next);
        from = at - block.at + content.length;
        const heading = headingAt(headings, at, at + content.length);
        const metadata: PlannedChunk['metadata'] = {};
        if (section.page !== undefined) metadata.page = section.page;
        if (heading?.path) metadata.section = heading.path;
        if (chunks.length >= maxChunks) throw new TooManyChunksError(maxChunks);
        chunks.push({ ordinal: chunks.length, content, contentHash: hashText(content), metadata });
      }
    }
  }
  return chunks;
}
