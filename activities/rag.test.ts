// Which of a question's words select full-text candidates (activities/rag.ts chooseTextTerms).
import { describe, expect, it } from 'vitest';
import { chooseTextTerms, COMMON_WORD_SHARE } from './rag.ts';

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
