import { describe, expect, it } from 'vitest';
import { Conversation, ConversationRuleError, DEDUPE_WINDOW, HUMAN_AGENT_WINDOW_MS, MAX_TURNS, SERVICE_WINDOW_MS } from './conversation-state.ts';
import { BUSINESS_APP_AGENT } from './types.ts';
import type { InboundMessage } from './types.ts';

const msg = (id: string, text: string | null = id, sentAt = 1_000): InboundMessage => ({ externalMessageId: id, sentAt, kind: 'text', text, content: {} });

function opened(): Conversation {
  const c = new Conversation();
  c.open({ conversationId: 'c1', status: 'active', assignee: null, turns: [], lastInboundAt: null });
  return c;
}

describe('Conversation', () => {
  it('drops redelivered messages within the dedupe window', () => {
    const c = opened();
    expect(c.receive([msg('a'), msg('b')], 0)).toBe(2);
    expect(c.receive([msg('a')], 1)).toBe(0);
    expect(c.takePending().map((m) => m.externalMessageId)).toEqual(['a', 'b']);
  });

  it('keeps the dedupe window bounded, and carries it across continue-as-new', () => {
    const c = opened();
    for (let i = 0; i < DEDUPE_WINDOW + 10; i++) c.receive([msg(`m${i}`)], i);
    const carried = Conversation.from(c.carry());
    expect(carried.receive([msg(`m${DEDUPE_WINDOW + 9}`)], 0)).toBe(0);
    expect(carried.receive([msg('m0')], 0)).toBe(1); // fell out of the window: the unique index catches it
    expect(carried.pending).toHaveLength(DEDUPE_WINDOW + 11);
  });

  it('carries requests and stored, unanswered messages across continue-as-new', () => {
    const c = opened();
    c.handoffRequest = 'customer asked';
    c.closeRequest = 'erasure';
    c.unanswered.push(msg('u1'));
    c.receive([msg('p1')], 0);
    const carried = Conversation.from(c.carry());
    expect(carried.handoffRequest).toBe('customer asked');
    expect(carried.closeRequest).toBe('erasure');
    expect(carried.unanswered.map((m) => m.externalMessageId)).toEqual(['u1']);
    expect(carried.pending.map((m) => m.externalMessageId)).toEqual(['p1']);
    expect(carried.snapshot().pending).toBe(2);
  });

  it('answers a batch in the order the user sent it, whatever order the webhooks delivered it in', () => {
    const c = opened();
    c.unanswered.push(msg('second', 'second', 2_000), msg('first', 'first', 1_000), msg('third', 'third', 3_000));
    expect(c.takeUnanswered().map((m) => m.text)).toEqual(['first', 'second', 'third']);
    expect(c.unanswered).toEqual([]);
  });

  it('bumps the inbound sequence once per delivery with something new', () => {
    const c = opened();
    c.receive([msg('a'), msg('b')], 0);
    c.receive([msg('a')], 0);
    expect(c.inboundSeq).toBe(1);
  });

  it('matches handoff keywords as whole words, case-insensitively', () => {
    const c = opened();
    expect(c.asksForHuman('Can I talk to a HUMAN please?', ['human'])).toBe(true);
    expect(c.asksForHuman('inhuman prices', ['human'])).toBe(false);
    expect(c.asksForHuman('I want a real person now', ['real person'])).toBe(true);
    expect(c.asksForHuman('falar com atendente', ['atendente'])).toBe(true);
  });

  it('flags a flood beyond the per-minute cap', () => {
    const c = opened();
    for (let i = 0; i < 5; i++) c.receive([msg(`f${i}`)], 1_000 + i);
    expect(c.flooded(2_000, 5)).toBe(false);
    c.receive([msg('f5')], 2_000);
    expect(c.flooded(2_000, 5)).toBe(true);
    expect(c.flooded(70_000, 5)).toBe(false);
  });

  it('tracks the 24-hour service window from the last inbound message', () => {
    const c = opened();
    expect(c.withinServiceWindow(0, 'whatsapp')).toBe(false);
    c.noteInbound([msg('a', 'hi', 1_000)]);
    expect(c.withinServiceWindow(1_000 + SERVICE_WINDOW_MS - 1, 'whatsapp')).toBe(true);
    expect(c.withinServiceWindow(1_000 + SERVICE_WINDOW_MS, 'messenger')).toBe(false);
    expect(c.withinServiceWindow(1_000 + SERVICE_WINDOW_MS, 'webchat')).toBe(true);
  });

  it('walks the handoff states and enforces who may act', () => {
    const c = opened();
    expect(c.requestHandoff()).toBe(true);
    expect(c.requestHandoff()).toBe(false);
    expect(c.handoff).toBe('requested');
    expect(c.botSilent).toBe(true);
    expect(() => c.assertHeldBy('ann')).toThrow(ConversationRuleError);
    c.takeOver('ann', 10);
    expect(c.snapshot()).toMatchObject({ status: 'assigned_human', handoff: 'assigned', assignee: 'ann' });
    expect(() => c.assertCanTakeOver('bob')).toThrow(/held by another agent/);
    expect(() => c.assertHeldBy('bob')).toThrow(/another agent/);
    expect(c.agentInactivityRemaining(40, 100)).toBe(70);
    expect(c.release()).toBe(true);
    expect(c.snapshot()).toMatchObject({ status: 'active', handoff: 'none', assignee: null });
    c.close();
    expect(() => c.assertCanTakeOver('ann')).toThrow(/closed/);
    expect(c.reopen()).toBe(true);
  });

  it('keeps a bounded number of turns', () => {
    const c = opened();
    for (let i = 0; i < MAX_TURNS + 5; i++) c.addTurn({ role: 'user', text: `t${i}`, at: i });
    expect(c.turns).toHaveLength(MAX_TURNS);
    expect(c.turns[0]?.text).toBe('t5');
  });

  it('lets a Messenger agent answer tagged HUMAN_AGENT from 24 hours to 7 days, and not after', () => {
    const c = opened();
    c.noteInbound([msg('m1', 'hi', 0)]);
    expect(c.messengerAgentWindow(SERVICE_WINDOW_MS - 1)).toEqual({ open: true });
    expect(c.messengerAgentWindow(SERVICE_WINDOW_MS)).toEqual({ open: true, tag: 'HUMAN_AGENT' });
    expect(c.messengerAgentWindow(HUMAN_AGENT_WINDOW_MS - 1)).toEqual({ open: true, tag: 'HUMAN_AGENT' });
    expect(c.messengerAgentWindow(HUMAN_AGENT_WINDOW_MS)).toEqual({ open: false, reason: 'outside_human_agent_window' });
    expect(opened().messengerAgentWindow(0)).toEqual({ open: false, reason: 'outside_human_agent_window' }); // the user never wrote
  });

  it('lets a person take over from the business app, not from another person', () => {
    const c = opened();
    c.takeOver(BUSINESS_APP_AGENT, 1);
    expect(() => c.assertCanTakeOver('ann')).not.toThrow();
    c.takeOver('ann', 2);
    expect(() => c.assertCanTakeOver('bob')).toThrow(ConversationRuleError);
  });

  it('reopens a closed conversation as active when a run starts', () => {
    const c = new Conversation();
    c.open({ conversationId: 'c1', status: 'closed', assignee: 'ann', turns: [], lastInboundAt: 5 });
    expect(c.snapshot()).toMatchObject({ status: 'active', assignee: null, lastInboundAt: 5 });
  });
});
