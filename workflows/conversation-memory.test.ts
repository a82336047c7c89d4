import { describe, expect, it } from 'vitest';
import { Conversation, MAX_TURNS, SUMMARY_BATCH } from './conversation-state.ts';
import type { Turn } from './types.ts';

const turn = (i: number): Turn => ({ role: i % 2 ? 'assistant' : 'user', text: `t${i}`, at: i });

function withTurns(n: number): Conversation {
  const c = new Conversation();
  c.open({ conversationId: 'c1', status: 'active', assignee: null, turns: [], lastInboundAt: null });
  for (let i = 0; i < n; i++) c.addTurn(turn(i));
  return c;
}

describe('Conversation memory', () => {
  it('folds nothing until a batch of turns is older than the verbatim window', () => {
    expect(withTurns(4 + SUMMARY_BATCH - 1).turnsToSummarize(4)).toEqual([]);
    const c = withTurns(4 + SUMMARY_BATCH);
    expect(c.turnsToSummarize(4).map((t) => t.text)).toEqual(['t0', 't1', 't2', 't3']);
    c.summarized('S1', SUMMARY_BATCH);
    expect(c.summary).toBe('S1');
    expect(c.turns.map((t) => t.text)).toEqual(['t4', 't5', 't6', 't7']);
    expect(c.turnsToSummarize(4)).toEqual([]);
  });

  it('keeps turns pushed out of the state window for the next summary, and carries both', () => {
    const c = withTurns(MAX_TURNS + 3);
    expect(c.turns).toHaveLength(MAX_TURNS);
    const carried = Conversation.from(c.carry());
    const fold = carried.turnsToSummarize(10);
    expect(fold.map((t) => t.text).slice(0, 4)).toEqual(['t0', 't1', 't2', 't3']);
    expect(fold).toHaveLength(3 + MAX_TURNS - 10);
    // A turn added while the summary was being written stays.
    carried.addTurn(turn(99));
    carried.summarized('S', fold.length);
    expect(carried.unsummarized).toEqual([]);
    expect(carried.turns.map((t) => t.text)).toEqual([...Array.from({ length: 10 }, (_, i) => `t${MAX_TURNS + 3 - 10 + i}`), 't99']);
    expect(Conversation.from(carried.carry()).summary).toBe('S');
  });
});
