// The assistant's send_file tool: the customer gets the original file of one of the tenant's
// knowledge documents (a PDF price list, a brochure) with a short message. Like offer_choices the
// call is the turn's reply: generateReply names the document's stored original as the reply's
// attachment and deliverMessage sends it the way it sends an agent's file (stored with the row,
// uploaded to the channel after the text, and never sent twice by a retried attempt: the row's
// status and the attempt's heartbeat say what went out).
//
// The tool is offered when the tenant's `llm.sendFiles` is on, the conversation's channel takes
// files (WhatsApp, Messenger, Instagram: PDFs only, web chat: a link), and the tenant has a
// document whose original is stored and fits the channel; its `document` argument is one of
// their titles (an enum, so the model cannot name a file that does not exist). The offline
// provider sends one when the customer asks for it by its title (requestedDocument below).
import { channelFileLimits } from '../../lib/channel-files.ts';
import type { Db } from '../../lib/db.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { TextSearchLanguage } from '../../lib/tenant-settings.ts';
import type { OutboundAttachment, ToolCall } from '../../workflows/types.ts';
import { termAnalyzer } from './local-terms.ts';
import type { ToolSpec } from './provider.ts';

export const SEND_FILE = 'send_file';

/** Documents named in the tool's enum; a tenant with more gets a free-text title. */
const ENUM_MAX = 50;
/** Documents considered at all (the newest versions, by title). */
const SENDABLE_MAX = 500;

/**
 * Whether the channel takes a knowledge document (text, Markdown, HTML, PDF, DOCX: never an
 * image) of this type and size as a file (lib/channel-files.ts).
 */
function takesDocument(channel: string, file: { mimeType: string; sizeBytes: number }): boolean {
  const limits = channelFileLimits(channel);
  return !!limits && file.sizeBytes <= limits.documentMaxBytes && (!limits.documentTypes || limits.documentTypes.includes(file.mimeType));
}

export function channelTakesDocuments(channel: string): boolean {
  return channelFileLimits(channel) !== undefined;
}

export interface SendableDocument {
  id: string;
  title: string;
  attachment: OutboundAttachment;
}

/** The newest ready version of each of the tenant's documents whose original is stored and fits the channel. */
export async function sendableDocuments(db: Db, tenantId: string, channel: string): Promise<SendableDocument[]> {
  const limits = channelFileLimits(channel);
  if (!limits) return [];
  const rows = await forTenant(db, tenantId).document.findMany({
    where: { status: 'ready', deletedAt: null, storageKey: { not: null }, sizeBytes: { lte: limits.documentMaxBytes } },
    distinct: ['documentKey'],
    orderBy: [{ documentKey: 'asc' }, { version: 'desc' }],
    select: { id: true, title: true, filename: true, mimeType: true, sizeBytes: true, storageKey: true },
    take: SENDABLE_MAX,
  });
  return rows
    .filter((r) => takesDocument(channel, r))
    .map((r) => ({
      id: r.id,
      title: r.title,
      attachment: { kind: 'document' as const, key: r.storageKey!, mimeType: r.mimeType, filename: r.filename ?? r.title, sizeBytes: r.sizeBytes },
    }))
    .sort((a, b) => a.title.localeCompare(b.title));
}

/** The tool as offered to a model, naming the documents it can send. */
export function sendFileTool(documents: SendableDocument[]): ToolSpec {
  const titles = [...new Set(documents.map((d) => d.title))];
  return {
    name: SEND_FILE,
    description:
      "Send the customer the file of one of the company's documents (a price list, a brochure, a form), when they ask for it or it is the best answer. " +
      'This is your reply: the message and the file are sent together.',
    parameters: {
      type: 'object',
      properties: {
        document: {
          type: 'string',
          description: "The document's title",
          ...(titles.length <= ENUM_MAX && { enum: titles }),
        },
        text: { type: 'string', description: 'The short message sent with the file' },
      },
      required: ['document', 'text'],
      additionalProperties: false,
    },
  };
}

/** The document a send_file call names (title, case aside, or id), with its message; null when it names none. */
export function fileOfCall(call: ToolCall, documents: SendableDocument[]): { document: SendableDocument; text: string } | null {
  let args: { document?: unknown; text?: unknown } | null;
  try {
    args = JSON.parse(call.arguments || '{}') as { document?: unknown; text?: unknown } | null;
  } catch {
    return null;
  }
  const name = typeof args?.document === 'string' ? args.document.trim().toLowerCase() : '';
  const document = name ? documents.find((d) => d.id === name || d.title.trim().toLowerCase() === name) : undefined;
  if (!document) return null;
  const text = typeof args?.text === 'string' && args.text.trim() ? args.text.trim() : `Here is ${document.title}.`;
  return { document, text };
}

/** Asking for something to be sent ("send me…", "can I get the pdf"), in the languages the offline provider greets in. */
const ASKS_TO_SEND = /\b(send|share|e-?mail|forward|attach|download|envi[ae]r?|mand[ae]r?|envoie[rz]?|schick(en)?|invia(re)?)\b|\bget\b.*\b(pdf|copy)\b/i;
export function asksToSend(question: string): boolean {
  return ASKS_TO_SEND.test(question);
}

/** Words that name a file rather than a thing: with one, a single title word is enough. */
const FILE_WORDS = /\b(pdf|file|document|doc|brochure|catalog(ue)?|price ?list|leaflet|flyer|manual|guide|menu|form|sheet|copy)s?\b/i;

/**
 * The document a customer asks to be sent, for the offline provider: the question asks for
 * something to be sent, and names a document by its title, wholly, or by a word of it next to a
 * word for a file ("send me the brochure pdf"). The best covered title wins; null when none.
 */
export function requestedDocument(question: string, documents: SendableDocument[], language: TextSearchLanguage = 'english'): SendableDocument | null {
  if (!asksToSend(question)) return null;
  const analyzer = termAnalyzer(language);
  const asked = new Set(analyzer.terms(question));
  const fileWord = FILE_WORDS.test(question);
  let best: { document: SendableDocument; share: number } | null = null;
  for (const document of documents) {
    const terms = [...new Set(analyzer.terms(document.title))];
    if (terms.length === 0) continue;
    const share = terms.filter((t) => asked.has(t)).length / terms.length;
    if (share === 0 || (share < 1 && !fileWord)) continue;
    if (!best || share > best.share) best = { document, share };
  }
  return best?.document ?? null;
}
