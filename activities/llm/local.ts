// The offline provider: answers without any model or network, deterministically. It greets,
// thanks, answers extractively from the retrieved passages with their citations, and says
// plainly when it does not know, offering a person. It is the default with no keys configured.
import { questionTerms, type Passage } from '../rag.ts';
import type { InboundKind, Turn } from '../../workflows/types.ts';

export interface ReplyRequest {
  question: string;
  passages: Passage[];
  history: Turn[];
  /** Kinds of non-text messages in the turn (image, audio…), answered when there is no text. */
  attachments: InboundKind[];
  /** The word that asks for a person, offered when the assistant does not know. */
  handoffKeyword: string;
}

export interface Reply {
  text: string;
  /** The passages the text cites, in its order (chunkId: which passage). */
  citations: { documentId: string; chunkId?: string; title: string; page: number | null }[];
  /** The reply says the assistant does not know (and offers a person). */
  unanswered?: boolean;
}

const GREETING = /^(hi|hello|hey|hiya|good (morning|afternoon|evening)|ol[aá]|hola|bonjour|hallo|ciao)\b/i;
const THANKS = /^(thanks|thank you|thx|cheers|obrigad[oa]|gracias|merci|danke)\b/i;
const MAX_SENTENCES = 3;

/** A passage's sentences; a Markdown line (heading, list item) ends one too, and loses its marker. */
function sentences(text: string): string[] {
  return text
    .split(/\n+/)
    .map((line) => line.replace(/^\s*(#{1,6}|[-*+>]|\d+[.)])\s+/, ''))
    .flatMap((line) => line.replace(/\s+/g, ' ').match(/[^.!?]+[.!?]*/g) ?? [])
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The passages' sentences that share the most words with the question, in passage order. */
function extract(question: string, passages: Passage[]): { text: string; used: Passage[] } {
  const terms = new Set(questionTerms(question));
  const scored = passages.flatMap((p, pi) =>
    sentences(p.content).map((s, si) => {
      const words = new Set(questionTerms(s));
      let overlap = 0;
      for (const t of terms) if (words.has(t)) overlap++;
      return { s, p, pi, si, overlap };
    }),
  );
  const best = scored
    .filter((x) => x.overlap > 0)
    .sort((a, b) => b.overlap - a.overlap || a.pi - b.pi || a.si - b.si)
    .slice(0, MAX_SENTENCES)
    .sort((a, b) => a.pi - b.pi || a.si - b.si);
  const used = [...new Set(best.map((x) => x.p))];
  return { text: best.map((x) => x.s).join(' '), used };
}

export function localReply(request: ReplyRequest): Reply {
  const question = request.question.trim();
  if (!question) {
    const kind = request.attachments[0] ?? 'message';
    return {
      text: `Thanks for the ${kind}. I can only read text for now: could you tell me in words what you need?`,
      citations: [],
    };
  }
  if (request.passages.length === 0 && THANKS.test(question)) return { text: "You're welcome! Anything else I can help with?", citations: [] };
  if (request.passages.length === 0 && GREETING.test(question) && question.split(/\s+/).length <= 4) {
    return { text: 'Hello! How can I help you today?', citations: [] };
  }
  const { text, used } = extract(question, request.passages);
  if (!text) {
    return {
      text: `I don't know the answer to that from what I have. Shall I get a person to help? Reply "${request.handoffKeyword}" and someone will take over.`,
      citations: [],
      unanswered: true,
    };
  }
  const citations = used.map((p) => ({ documentId: p.documentId, chunkId: p.chunkId, title: p.title, page: p.page }));
  const sources = citations.map((c, i) => `[${i + 1}] ${c.title}${c.page ? `, p. ${c.page}` : ''}`).join('\n');
  return { text: `${text}\n\nSources:\n${sources}`, citations };
}
