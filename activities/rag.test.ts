// Which of a question's words select full-text candidates (activities/rag.ts chooseTextTerms).
import { describe, expect, it } from 'vitest';
import { chooseTextTerms, COMMON_WORD_SHARE, fuseRanks } from './rag.ts';

const shares = new Map([
  ['brake', 0.2],
  ['chain', 0.08],
  ['bike', COMMON_WORD_SHARE],
]);
const share = (lexeme: string) => shares.get(lexeme) ?? 0;
const word = (w: string, lexemes = [w]) => ({ word: w, lexemes });

describe('chooseTextTerms', () => {
  it('selects by any rare word, or by all common words together, and ranks by every word', () => {
    expect(chooseTextTerms([word('fix'), word('brake'), word('chain'), word('bike')], share)).toEqual({
      select: 'fix or bike or brake chain',
      rank: ['fix', 'brake', 'chain', 'bike'],
    });
  });

  it('selects only by rare words when there are no common ones', () => {
    expect(chooseTextTerms([word('fix'), word('puncture')], share)).toEqual({ select: 'fix or puncture', rank: ['fix', 'puncture'] });
  });

  it('needs every common word when the question has nothing else', () => {
    expect(chooseTextTerms([word('brake'), word('chain')], share)).toEqual({ select: 'brake chain', rank: ['brake', 'chain'] });
  });

  it("leaves out the language's stop words, and gives nothing when only those remain", () => {
    expect(chooseTextTerms([word('which', []), word('brake')], share)).toEqual({ select: 'brake', rank: ['brake'] });
    expect(chooseTextTerms([word('which', []), word('where', [])], share)).toBeNull();
  });

  it('counts a word as rare when any of its lexemes is', () => {
    expect(chooseTextTerms([word('brakechain', ['brake', 'gearbox']), word('chain')], share)?.select).toBe('brakechain or chain');
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
