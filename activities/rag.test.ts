// Which of a question's words select full-text candidates (activities/rag.ts chooseTextTerms), and
// how the ranked lists are fused (fuseRanks).
import { describe, expect, it } from 'vitest';
import { chooseTextTerms, COMMON_WORD_CHUNKS, COMMON_WORD_SHARE, fuseRanks, isCommonLexeme, wordWeight } from './rag.ts';

const shares = new Map([
  ['brake', 0.2],
  ['chain', 0.08],
  ['bike', COMMON_WORD_SHARE],
]);
const large = { chunks: 100_000, shares };
const word = (w: string, lexemes = [w]) => ({ word: w, lexemes });
const words = (terms: { rank: { word: string }[] } | null) => terms?.rank.map((t) => t.word);

describe('isCommonLexeme', () => {
  it('is a word in more than the common share of a large table', () => {
    expect(['brake', 'chain', 'bike', 'puncture'].filter((l) => isCommonLexeme(large, l))).toEqual(['brake', 'chain']);
  });

  it('is no word of a table too small for any word to cost much: all of them select there', () => {
    const small = { chunks: 7, shares: new Map([['brake', 6 / 7], ['chain', 3 / 7]]) };
    expect(isCommonLexeme(small, 'brake')).toBe(false);
    expect(chooseTextTerms([word('brake'), word('chain')], small)?.select).toBe('brake or chain');
    // 0.2 of this many chunks is just at the bound, so not yet common; one chunk more and it is.
    expect(isCommonLexeme({ chunks: COMMON_WORD_CHUNKS * 5, shares }, 'brake')).toBe(false);
    expect(isCommonLexeme({ chunks: COMMON_WORD_CHUNKS * 5 + 5, shares }, 'brake')).toBe(true);
  });
});

describe('chooseTextTerms', () => {
  it('selects by any rare word, or by all common words together, and ranks by every word', () => {
    const terms = chooseTextTerms([word('fix'), word('brake'), word('chain'), word('bike')], large);
    expect(terms?.select).toBe('fix or bike or brake chain');
    expect(words(terms)).toEqual(['fix', 'brake', 'chain', 'bike']);
  });

  it('selects only by rare words when there are no common ones', () => {
    const terms = chooseTextTerms([word('fix'), word('puncture')], large);
    expect(terms?.select).toBe('fix or puncture');
    expect(words(terms)).toEqual(['fix', 'puncture']);
  });

  it('needs every common word when the question has nothing else', () => {
    expect(chooseTextTerms([word('brake'), word('chain')], large)?.select).toBe('brake chain');
  });

  it("leaves out the language's stop words, and gives nothing when only those remain", () => {
    const terms = chooseTextTerms([word('which', []), word('brake')], large);
    expect(terms?.select).toBe('brake');
    expect(words(terms)).toEqual(['brake']);
    expect(chooseTextTerms([word('which', []), word('where', [])], large)).toBeNull();
  });

  it('counts a word as rare when any of its lexemes is', () => {
    expect(chooseTextTerms([word('brakechain', ['brake', 'gearbox']), word('chain')], large)?.select).toBe('brakechain or chain');
  });
});

describe('wordWeight', () => {
  it("weighs a word by BM25's idf of its rarest lexeme: one in every chunk next to nothing", () => {
    const stats = { chunks: 7, shares: new Map([['bike', 1], ['come', 2 / 7], ['assembl', 1 / 7]]) };
    const [bike, come, assembled] = [['bike'], ['come'], ['assembl']].map((l) => wordWeight(stats, l)) as [number, number, number];
    expect(bike).toBeCloseTo(Math.log(1 + 0.5 / 7.5), 6);
    expect(assembled).toBeCloseTo(Math.log(1 + 6.5 / 1.5), 6);
    expect(bike).toBeLessThan(come);
    expect(come).toBeLessThan(assembled);
    // The chunk with the rare word outranks the one with the two others' more frequent ones.
    expect(assembled + bike).toBeGreaterThan(come + bike);
    expect(wordWeight(stats, ['bike', 'assembl'])).toBe(assembled);
  });

  it('counts a lexeme missing from the statistics as rarer than any listed one, and weighs all alike without statistics', () => {
    expect(wordWeight(large, ['puncture'])).toBe(wordWeight(large, ['bike']));
    expect(wordWeight(large, ['puncture'])).toBeGreaterThan(wordWeight(large, ['chain']));
    const none = { chunks: 0, shares: new Map<string, number>() };
    expect(wordWeight(none, ['brake'])).toBe(wordWeight(none, ['puncture']));
  });
});

describe('fuseRanks', () => {
  const options = { rrfK: 60, minScore: 0, limit: 10 };

  it('adds weight / (k + rank) over the lists, normalised to the best possible score', () => {
    const fused = fuseRanks([{ ids: ['a', 'b'], weight: 1 }, { ids: ['a'], weight: 1 }], options);
    expect(fused.map((f) => f.id)).toEqual(['a', 'b']);
    expect(fused[0]!.score).toBeCloseTo(1);
    expect(fused[1]!.score).toBeCloseTo(1 / 62 / (2 / 61));
  });

  it('breaks a tie by the list of most weight, the first of equals, never by the random ids', () => {
    // "z…" first and third against "a…" third and first: equal sums, equal best ranks.
    const lists = (w1: number, w2: number) => [{ ids: ['z1', 'x', 'a1'], weight: w1 }, { ids: ['a1', 'y', 'z1'], weight: w2 }];
    expect(fuseRanks(lists(1, 1), options).map((f) => f.id).slice(0, 2)).toEqual(['z1', 'a1']);
    expect(fuseRanks([{ ids: ['z1'], weight: 1 }, { ids: ['a1'], weight: 1 }], options).map((f) => f.id)).toEqual(['z1', 'a1']);
    expect(fuseRanks([{ ids: ['z1'], weight: 1 }, { ids: ['a1'], weight: 2 }], options).map((f) => f.id)).toEqual(['a1', 'z1']);
  });
});
