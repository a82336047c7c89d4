// Parsing and chunking of one document version. Every format becomes sections of normalised
// text: a PDF one section per page (a chunk knows its page), Markdown, HTML and DOCX one section
// rendered as Markdown (headings kept, so a chunk knows the heading path it sits under), plain
// text one section. Chunks come from @langchain/textsplitters: MarkdownTextSplitter for the
// Markdown-shaped formats, RecursiveCharacterTextSplitter for the rest.
import { createHash } from 'node:crypto';
import { MarkdownTextSplitter, RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { ApplicationFailure } from '@temporalio/common';
import { convert } from 'html-to-text';
import mammoth from 'mammoth';
import { extractText, getDocumentProxy } from 'unpdf';
import type { DocumentFormat } from '../../lib/document-formats.ts';

export const CHUNK_SIZE = 1000;
export const CHUNK_OVERLAP = 150;

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

/** NFC, LF line ends, no control characters but tab and newline, no trailing spaces, ≤ 1 blank line. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFD]/g, '')
    .replace(/[ \t\u00A0]+$/gm, '')
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

export async function parseDocument(bytes: Uint8Array, format: DocumentFormat): Promise<Section[]> {
  switch (format) {
    case 'text':
      return [{ text: normalizeText(new TextDecoder().decode(bytes)), markdown: false }];
    case 'markdown':
      return [{ text: normalizeText(new TextDecoder().decode(bytes)), markdown: true }];
    case 'html':
      return [{ text: normalizeText(htmlToMarkdown(new TextDecoder().decode(bytes))), markdown: true }];
    case 'docx': {
      let html: string;
      try {
        html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
      } catch (err) {
        throw unreadable(format, err);
      }
      return [{ text: normalizeText(htmlToMarkdown(html)), markdown: true }];
    }
    case 'pdf': {
      let pages: string[];
      try {
        const pdf = await getDocumentProxy(new Uint8Array(bytes));
        pages = (await extractText(pdf, { mergePages: false })).text;
      } catch (err) {
        throw unreadable(format, err);
      }
      return pages.map((text, i) => ({ text: normalizeText(text), page: i + 1, markdown: false }));
    }
  }
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm;

/** Heading paths by offset: the section ("Returns › Refunds") in force at each heading's start. */
function headingPaths(text: string): { at: number; path: string }[] {
  const stack: string[] = [];
  const out: { at: number; path: string }[] = [];
  for (const m of text.matchAll(HEADING)) {
    const level = m[1]!.length;
    stack.length = level - 1;
    stack[level - 1] = m[2]!.trim();
    out.push({ at: m.index, path: stack.filter(Boolean).join(' › ') });
  }
  return out;
}

export const hashText = (text: string) => createHash('sha256').update(text).digest('hex');

export async function chunkSections(sections: Section[]): Promise<PlannedChunk[]> {
  const markdownSplitter = new MarkdownTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const textSplitter = new RecursiveCharacterTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const chunks: PlannedChunk[] = [];
  for (const section of sections) {
    if (!section.text) continue;
    const pieces = await (section.markdown ? markdownSplitter : textSplitter).splitText(section.text);
    const headings = section.markdown ? headingPaths(section.text) : [];
    let from = 0;
    for (const raw of pieces) {
      const content = raw.trim();
      if (!content) continue;
      // Where the piece starts in the section (pieces come in order; overlap moves back a little).
      const found = section.text.indexOf(content, Math.max(0, from - CHUNK_OVERLAP - 1));
      const at = found >= 0 ? found : from;
      from = at + content.length;
      // The heading in force where the chunk starts, or its own first heading.
      const heading = [...headings].reverse().find((h) => h.at <= at) ?? headings.find((h) => h.at < at + content.length);
      const metadata: PlannedChunk['metadata'] = {};
      if (section.page !== undefined) metadata.page = section.page;
      if (heading?.path) metadata.section = heading.path;
      chunks.push({ ordinal: chunks.length, content, contentHash: hashText(content), metadata });
    }
  }
  return chunks;
}
