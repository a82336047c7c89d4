// The offline provider: answers without any model or network, deterministically. It greets,
// thanks, answers extractively from the retrieved passages with their citations, and says
// plainly when it does not know, offering a person. It is the default with no keys configured.
//
// The answer is the sentence of the passages that best answers the question: sentences (and
// Markdown list items) are compared by their terms (activities/llm/local-terms.ts: stop words
// out, irregular verb forms to their infinitive, Snowball stems, a few synonyms), each question
// term weighted by how rare it is among the passages' sentences (idf), so "return" in "Can I
// return a bike?" counts less than "bike" where every sentence is about returns. A question term
// that no sentence contains also weighs by how rare the word is in everyday language, and less
// when it is a verb or adjective rather than a noun, so filler ("what happens if…", "I bought")
// does not push an answer below the threshold while a named thing the passages never mention
// ("skateboards") does. A term of the sentence's heading counts for part
// of a match, and so does a word the word net relates to the question's (activities/llm/word-net.ts:
// "EU" for "Germany"); a quantity the question names ("after three weeks") matches any quantity
// of its kind ("within 30 days"). A sentence giving the kind of fact asked for (an amount, a
// speed…) is preferred, and for "how often/much/long…" it answers before one that does not.
// The sentence must cover at least MIN_COVERAGE of the question's weight: below that, nothing in
// the passages is about the question, and the reply says so and offers a person.
import type { TextSearchLanguage } from '../../lib/tenant-settings.ts';
import type { Passage } from '../rag.ts';
import type { InboundKind, Turn } from '../../workflows/types.ts';
import { answerKinds, askedKinds, givesKind, quantitiesIn, termAnalyzer, type AnswerKind, type TermAnalyzer } from './local-terms.ts';
import type { TurnContent } from './prompt.ts';

export interface ReplyRequest {
  question: string;
  passages: Passage[];
  history: Turn[];
  /** Kinds of non-text messages in the turn (image, audio…), answered when there is no text. */
  attachments: InboundKind[];
  /** The word that asks for a person, offered when the assistant does not know. */
  handoffKeyword: string;
  /** The language questions and passages are read in (activities/llm/local-terms.ts answerLanguage); default English. */
  language?: TextSearchLanguage;
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

/** Share of the question's term weight the answering sentence must match. */
export const MIN_COVERAGE = 0.5;
/** How much a term counts when it is only in the sentence's heading, or only in its section's other sentences. */
const HEADING_MATCH = 0.8;
const SECTION_MATCH = 0.3;
/**
 * A question term in none of the passages' sentences weighs up to this many times a term in one
 * (times its word's salience: rare in the language, and naming a thing): the question is about
 * something the passages do not mention ("Do you sell skateboards?").
 */
const UNSEEN_WEIGHT = 1.75;
/** Preference for a sentence giving the kind of fact asked for (an amount for "how much"). */
const KIND_BONUS = 0.1;
/** A second sentence joins the answer when it follows the best one and covers nearly as much. */
const SECOND_SHARE = 0.9;

interface Candidate {
  text: string;
  passage: Passage;
  pi: number;
  si: number;
  terms: Set<string>;
  /** Terms of the heading the sentence sits under and of its document's title. */
  context: Set<string>;
  /** Terms of every sentence under the same heading: the topic the sentence is part of. */
  section: Set<string>;
}

const HEADING = /^\s*#{1,6}\s+(.*)$/;
const LIST_MARKER = /^\s*([-*+>]|\d+[.)])\s+/;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'sentence' });

/** The passages' sentences; a Markdown line (list item) ends one too and loses its marker; headings are context, not answers. */
function candidates(passages: Passage[], analyzer: TermAnalyzer): Candidate[] {
  const out: Candidate[] = [];
  passages.forEach((passage, pi) => {
    // The passage's section is the heading path where it starts: a heading inside it begins
    // another part, under the document's title alone ("Returns" after "Opening hours").
    const title = analyzer.terms(passage.title);
    let context = new Set([...title, ...analyzer.terms(passage.section ?? '')]);
    let section = new Set<string>();
    let si = 0;
    for (const line of passage.content.split(/\n+/)) {
      const heading = HEADING.exec(line);
      if (heading) {
        context = new Set([...title, ...analyzer.terms(heading[1]!)]);
        section = new Set<string>();
        continue;
      }
      const text = line.replace(LIST_MARKER, '').replace(/\s+/g, ' ').trim();
      for (const { segment } of segmenter.segment(text)) {
        const sentence = segment.trim();
        if (!sentence) continue;
        const terms = new Set(analyzer.terms(sentence));
        for (const t of terms) section.add(t);
        out.push({ text: sentence, passage, pi, si: si++, terms, context, section });
      }
    }
  });
  return out;
}

/** How much a question term counts in a sentence that has a word related to it (a synonym, a kind of it…) but not the term. */
const RELATED_MATCH = 0.7;

const hasPhrase = (terms: Set<string>, phrase: string[]) => phrase.every((t) => terms.has(t));

function matchOf(term: string, related: string[][], quantity: AnswerKind | undefined, c: Candidate): number {
  if (c.terms.has(term)) return 1;
  if (quantity && givesKind(c.text, quantity)) return 1;
  if (c.context.has(term)) return HEADING_MATCH;
  if (related.some((phrase) => hasPhrase(c.terms, phrase))) return RELATED_MATCH;
  return c.section.has(term) ? SECTION_MATCH : 0;
}

export interface RankedSentence {
  text: string;
  passage: Passage;
  /** Share of the question's term weight the sentence matches (0..1). */
  coverage: number;
  /** Which passage, and which sentence of the passages in order. */
  pi: number;
  si: number;
  /**
   * The sentence gives the kind of fact the question asks for outright (an amount for "how
   * much"): of the sentences that cover enough of the question, such a one answers before one
   * that only shares more words ("We recommend a service every 6 months" before "Bikes serviced
   * by an unauthorised workshop lose their warranty" for "How often should my bike be serviced?").
   */
  givesAsked: boolean;
}

/** The passages' sentences by how well they answer the question, best first (only those matching any term). */
export function rankSentences(question: string, passages: Passage[], language: TextSearchLanguage = 'english'): RankedSentence[] {
  const analyzer = termAnalyzer(language);
  const saliences = analyzer.saliences(question);
  const terms = [...saliences.keys()];
  if (terms.length === 0) return [];
  const relatives = analyzer.relatives(question);
  const related = terms.map((t) => relatives.get(t) ?? []);
  // The terms of a quantity the question names ("three weeks") match any quantity of its kind.
  const quantityOf = new Map<string, AnswerKind>();
  for (const { kind, text } of quantitiesIn(language, question)) for (const t of analyzer.terms(text)) quantityOf.set(t, kind);
  const all = candidates(passages, analyzer);
  const df = new Map<string, number>();
  for (const c of all) for (const t of c.terms) df.set(t, (df.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log(1 + (all.length + 1) / ((df.get(t) ?? 1) + 0.5));
  // An unseen word weighs by its salience: "happen" or "bought" says less than "skateboards".
  const weights = terms.map((t) => (df.has(t) ? idf(t) : idf(t) * UNSEEN_WEIGHT * saliences.get(t)!));
  const total = weights.reduce((a, b) => a + b, 0);
  const kinds = answerKinds(language, question);
  const asked = askedKinds(language, question);
  return all
    .map((c) => {
      const coverage = terms.reduce((sum, t, i) => sum + weights[i]! * matchOf(t, related[i]!, quantityOf.get(t), c), 0) / total;
      const bonus = kinds.some((k) => givesKind(c.text, k)) ? KIND_BONUS : 0;
      return { c, coverage, rank: coverage + bonus, givesAsked: asked.some((k) => givesKind(c.text, k)) };
    })
    .filter((x) => x.coverage > 0)
    .sort((a, b) => b.rank - a.rank || a.c.pi - b.c.pi || a.c.si - b.c.si)
    .map(({ c, coverage, givesAsked }) => ({ text: c.text, passage: c.passage, coverage, pi: c.pi, si: c.si, givesAsked }));
}

/** The answering sentence, and the one right after it when that covers nearly as much. */
function extract(question: string, passages: Passage[], language: TextSearchLanguage | undefined): { text: string; used: Passage[] } {
  const ranked = rankSentences(question, passages, language);
  const best = ranked.find((r) => r.givesAsked && r.coverage >= MIN_COVERAGE) ?? ranked[0];
  if (!best || best.coverage < MIN_COVERAGE) return { text: '', used: [] };
  const next = ranked.find((r) => r.pi === best.pi && r.si === best.si + 1 && r.coverage >= Math.max(MIN_COVERAGE, best.coverage * SECOND_SHARE));
  return { text: next ? `${best.text} ${next.text}` : best.text, used: [best.passage] };
}

export function localReply(request: ReplyRequest & TurnContent): Reply {
  const question = request.question.trim();
  if (!question) {
    const kind = request.attachments[0] ?? 'message';
    const image = request.images?.[0];
    if (image) {
      // It cannot look at the picture, but says that it arrived, so the customer is not left wondering.
      return { text: `Thanks, I received your image (${image.filename}). I can't look at images myself: could you tell me in words what you need?`, citations: [] };
    }
    return {
      text: `Thanks for the ${kind}. I can only read text for now: could you tell me in words what you need?`,
      citations: [],
    };
  }
  if (request.passages.length === 0 && THANKS.test(question)) return { text: "You're welcome! Anything else I can help with?", citations: [] };
  if (request.passages.length === 0 && GREETING.test(question) && question.split(/\s+/).length <= 4) {
    return { text: 'Hello! How can I help you today?', citations: [] };
  }
  const { text, used } = extract(question, request.passages, request.language);
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
