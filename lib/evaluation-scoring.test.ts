import { describe, expect, it } from 'vitest';
import { regressed, scoreCase } from './evaluation-scoring.ts';

const facts = { expectedFacts: ['30 days', 'original payment method'], expectRefusal: false };
const passage = 'Returns are accepted within 30 days. Refunds go back to the original payment method.';
const reply = (text: string, citedPassages: string[] = [passage]) => ({ outcome: 'reply' as const, text, citedPassages, handoffKeyword: 'human' });

describe('evaluation scores', () => {
  it('grounds a fact only where it is both in the answer and in a cited passage', () => {
    expect(scoreCase(facts, reply('Within 30  DAYS, refunded to the original payment method.\n\nSources:\n[1] Returns'))).toEqual({
      declined: false, passed: true, groundedness: 1, citationCorrectness: 1, refusalCorrect: true,
    });
    // The second fact is only in the passage, the first only in the answer of an uncited reply.
    expect(scoreCase(facts, reply('Within 30 days.'))).toMatchObject({ passed: false, groundedness: 0.5, citationCorrectness: 1 });
    expect(scoreCase(facts, reply('Within 30 days.', []))).toMatchObject({ passed: false, groundedness: 0, citationCorrectness: 0 });
  });

  it('does not count a fact that is only in the Sources list, and counts citations that carry no fact against it', () => {
    expect(scoreCase({ expectedFacts: ['Returns policy'], expectRefusal: false }, reply('See below.\n\nSources:\n[1] Returns policy', ['Returns policy: 30 days']))).toMatchObject({ groundedness: 0 });
    expect(scoreCase(facts, reply('Within 30 days, to the original payment method.', [passage, 'Shipping takes 2 days.']))).toMatchObject({ passed: true, citationCorrectness: 0.5 });
  });

  it('passes a refusal case that declined, fails one that answered, and fails a fact case that declined', () => {
    const refusal = { expectedFacts: [], expectRefusal: true };
    const decline = reply('I don\'t know. Reply "human" and someone will take over.', []);
    expect(scoreCase(refusal, decline)).toEqual({ declined: true, passed: true, groundedness: null, citationCorrectness: null, refusalCorrect: true });
    expect(scoreCase(refusal, { ...decline, outcome: 'handoff', text: 'A person will answer.' })).toMatchObject({ passed: true });
    expect(scoreCase(refusal, reply('Lima.'))).toMatchObject({ declined: false, passed: false, refusalCorrect: false });
    expect(scoreCase(facts, decline)).toMatchObject({ declined: true, passed: false, groundedness: 0, refusalCorrect: false });
  });

  it('neither passes nor refuses when the budget was spent or the case could not be asked', () => {
    for (const outcome of ['budget_exhausted', 'error'] as const) {
      expect(scoreCase({ expectedFacts: [], expectRefusal: true }, { ...reply('', []), outcome })).toMatchObject({ passed: false, refusalCorrect: false });
      expect(scoreCase(facts, { ...reply('30 days, original payment method'), outcome })).toMatchObject({ passed: false, groundedness: 0 });
    }
  });

  it('flags a regression only for a case that passed before and fails now', () => {
    expect([regressed({ passed: true }, { passed: false }), regressed({ passed: false }, { passed: false }), regressed(undefined, { passed: false }), regressed({ passed: true }, { passed: true })]).toEqual([true, false, false, false]);
  });
});
