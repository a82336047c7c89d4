// Deterministic scores of one evaluation case's answer (no model involved):
// - groundedness: the share of the expected facts that appear both in the answer the customer
//   reads (its Sources list left out) and in a passage the answer cites;
// - citation correctness: the share of the cited passages that contain an expected fact;
// - refusal: it declined (handed over, or offered a person) when the case expects that, and
//   answered when it does not.
// Facts are matched as phrases, case- and whitespace-insensitively.

export interface CaseExpectation {
  expectedFacts: string[];
  expectRefusal: boolean;
}

export interface CaseAnswer {
  /** The playground's outcome (workflows/playground.ts), or error when the case could not be asked. */
  outcome: 'reply' | 'handoff' | 'budget_exhausted' | 'no_answer' | 'error';
  text: string;
  /** The full text of each passage the answer cites. */
  citedPassages: string[];
  /** The tenant's handoff keyword: the "I don't know" answer offers it in quotes. */
  handoffKeyword: string;
}

export interface CaseScore {
  declined: boolean;
  passed: boolean;
  /** 0..1; null for a refusal case. */
  groundedness: number | null;
  /** 0..1; null for a refusal case. */
  citationCorrectness: number | null;
  refusalCorrect: boolean;
}

const normalize = (s: string) => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
const contains = (text: string, fact: string) => normalize(text).includes(normalize(fact));
/** What the customer reads as the answer: a fact in the Sources list does not count. */
const answerPart = (text: string) => text.split(/\n\s*Sources:/)[0] ?? '';

export function declines(answer: Pick<CaseAnswer, 'outcome' | 'text' | 'handoffKeyword'>): boolean {
  if (answer.outcome === 'handoff' || answer.outcome === 'no_answer') return true;
  return answer.outcome === 'reply' && answer.text.includes(`"${answer.handoffKeyword}"`);
}

export function scoreCase(expected: CaseExpectation, answer: CaseAnswer): CaseScore {
  const declined = declines(answer);
  // A spent budget or a failed ask says nothing about the assistant: it neither passes nor refuses.
  const asked = answer.outcome !== 'budget_exhausted' && answer.outcome !== 'error';
  if (expected.expectRefusal) {
    return { declined, passed: asked && declined, groundedness: null, citationCorrectness: null, refusalCorrect: asked && declined };
  }
  const facts = expected.expectedFacts;
  const text = answerPart(answer.text);
  const grounded = facts.filter((f) => contains(text, f) && answer.citedPassages.some((p) => contains(p, f))).length;
  const groundedness = asked && !declined && facts.length > 0 ? grounded / facts.length : 0;
  const cited = answer.citedPassages;
  const citationCorrectness = asked && cited.length > 0 ? cited.filter((p) => facts.some((f) => contains(p, f))).length / cited.length : 0;
  return { declined, passed: asked && !declined && groundedness === 1, groundedness, citationCorrectness, refusalCorrect: asked && !declined };
}

/** A case regressed when it passed in the previous run and fails in this one. */
export const regressed = (previous: { passed: boolean } | undefined, now: { passed: boolean }) => previous?.passed === true && !now.passed;
