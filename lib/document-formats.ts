// What an uploaded document is, decided from its bytes. Binary formats (PDF, DOCX) are sniffed
// with file-type (magic numbers, and the ZIP's content types for DOCX); text formats have no
// magic number, so a text document is bytes that are valid UTF-8 without NUL, and which text
// format it is comes from the declared type or the file name's extension (HTML also from its
// opening tag). A declared type or extension that disagrees with the bytes (a ".pdf" that is
// text, a DOCX sent as application/pdf) is refused: FormatMismatchError → 415.
import { extname } from 'node:path';
import { fileTypeFromBuffer } from 'file-type';

export const DOCUMENT_FORMATS = ['text', 'markdown', 'html', 'pdf', 'docx'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

export const MIME_TYPES: Record<DocumentFormat, string> = {
  text: 'text/plain',
  markdown: 'text/markdown',
  html: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

export function formatOfMimeType(mimeType: string): DocumentFormat | undefined {
  const base = mimeType.split(';')[0]!.trim().toLowerCase();
  if (base === 'text/x-markdown') return 'markdown';
  if (base === 'application/xhtml+xml') return 'html';
  return (Object.entries(MIME_TYPES) as [DocumentFormat, string][]).find(([, m]) => m === base)?.[0];
}

const EXTENSIONS: Record<string, DocumentFormat> = {
  '.txt': 'text', '.text': 'text', '.md': 'markdown', '.markdown': 'markdown', '.html': 'html', '.htm': 'html', '.pdf': 'pdf', '.docx': 'docx',
};

export class FormatMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatMismatchError';
  }
}

const BINARY: ReadonlySet<DocumentFormat> = new Set(['pdf', 'docx']);

function isUtf8Text(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The format of `bytes`. `declaredType` is the client's content type (ignored when generic:
 * application/octet-stream), `filename` its name; both are only hints for text formats and must
 * agree with the bytes.
 */
export async function sniffDocumentFormat(bytes: Uint8Array, declaredType?: string, filename?: string): Promise<DocumentFormat> {
  const generic = !declaredType || /^(application\/octet-stream|binary\/octet-stream)\b/i.test(declaredType);
  const byType = generic ? undefined : formatOfMimeType(declaredType);
  if (!generic && !byType) throw new FormatMismatchError(`Unsupported content type ${declaredType.split(';')[0]}: upload TXT, Markdown, HTML, PDF or DOCX`);
  const byExtension = filename ? EXTENSIONS[extname(filename).toLowerCase()] : undefined;
  const declared = byType ?? byExtension;

  const sniffed = await fileTypeFromBuffer(bytes);
  let actual: DocumentFormat;
  if (sniffed?.ext === 'pdf') actual = 'pdf';
  else if (sniffed?.ext === 'docx') actual = 'docx';
  else if (sniffed && !isUtf8Text(bytes)) throw new FormatMismatchError(`Unsupported file type ${sniffed.mime}: upload TXT, Markdown, HTML, PDF or DOCX`);
  else if (!isUtf8Text(bytes)) throw new FormatMismatchError('The file is neither PDF, DOCX nor UTF-8 text');
  else if (declared && !BINARY.has(declared)) actual = declared;
  else if (!declared && /^\s*(<!doctype html|<html[\s>])/i.test(new TextDecoder().decode(bytes.subarray(0, 512)))) actual = 'html';
  else actual = 'text';

  if (declared && declared !== actual && (BINARY.has(declared) || BINARY.has(actual))) {
    throw new FormatMismatchError(`The file was declared as ${declared.toUpperCase()} (${byType ? 'content type' : 'extension'}) but its bytes are ${actual.toUpperCase()}`);
  }
  return actual;
}
