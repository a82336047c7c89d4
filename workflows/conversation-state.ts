// The conversation's state and rules, free of Temporal so that they are testable on their own.
// The workflow (conversation.ts) owns one instance and delegates every decision to it.
import type { TurnPolicy } from '../activities/llm/index.ts';
import { BUSINESS_APP_AGENT } from './types.ts';
import type {
  CarriedState,
  ChannelKind,
  ConversationSnapshot,
  ConversationStatus,
  HandoffState,
  InboundMessage,
  Turn,
} from './types.ts';

/** How many provider message ids are remembered for dedupe (the unique index backs it up). */
export const DEDUPE_WINDOW = 500;
/** Turns kept verbatim for the assistant's context. */
export const MAX_TURNS = 20;
/** Turns folded into the rolling summary at once (fewer model calls than one per turn). */
export const SUMMARY_BATCH = 4;
/** Meta's customer-service window: free-form messages only within 24 h of the user's last one. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Messenger's HUMAN_AGENT tag: a person may still answer within 7 days of the user's last message. */
export const HUMAN_AGENT_WINDOW_MS = 7 * SERVICE_WINDOW_MS;
const MINUTE = 60_000;

/** The settings a conversation runs by (tenant settings, resolved by an activity). */
export interface ConversationSettings {
  quietWindowMs: number;
  idleCloseMs: number;
  floodMaxPerMinute: number;
  handoffKeywords: string[];
  agentInactivityMs: number;
  locale: string;
  /** How an assistant turn runs (budget, tool iterations, memory, fallback). */
  turn: TurnPolicy;
  /** Who handles orders and completed Flows (absent in settings carried by older runs: the assistant). */
  commerce?: CommerceSettings;
}

/** Who handles one kind of commerce message: the assistant, a person, or one of the tenant's functions. */
export type CommerceRoute = { handledBy: 'assistant' } | { handledBy: 'human' } | { handledBy: 'function'; function: string };

export interface CommerceSettings {
  order: CommerceRoute;
  flow: CommerceRoute;
}

/** When an outbound message may go out: now (Messenger agents: with the HUMAN_AGENT tag), or not, and why. */
export type OutboundWindow = { open: true; tag?: 'HUMAN_AGENT' } | { open: false; reason: string };

export class ConversationRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversationRuleError';
  }
}

export class Conversation {
  conversationId: string | null = null;
  status: ConversationStatus = 'active';
  assignee: string | null = null;
  turns: Turn[] = [];
  /** Signalled, not stored yet. */
  pending: InboundMessage[] = [];
  /** Stored as new, not answered yet (v2: stored before the quiet window, answered after it). */
  unanswered: InboundMessage[] = [];
  lastInboundAt: number | null = null;
  lastAgentActivityAt: number | null = null;
  repliesSent = 0;
  /** Bumped on every accepted inbound message: the quiet window waits for it to stop moving. */
  inboundSeq = 0;
  handoffRequest: string | null = null;
  closeRequest: string | null = null;
  /** Rolling summary of the turns older than the verbatim ones (workflows/assistant-reply.ts). */
  summary: string | null = null;
  /** Turns pushed out of `turns` that are not in the summary yet (folded in at the next answer). */
  unsummarized: Turn[] = [];
  private recentIds: string[] = [];
  private recentIdSet = new Set<string>();
  private inboundTimes: number[] = [];

  static from(carried: CarriedState): Conversation {
    const c = new Conversation();
    c.conversationId = carried.conversationId;
    c.status = carried.status;
    c.assignee = carried.assignee;
    c.turns = carried.turns;
    c.pending = carried.pending;
    c.lastInboundAt = carried.lastInboundAt;
    c.lastAgentActivityAt = carried.lastAgentActivityAt;
    c.inboundTimes = carried.inboundTimes;
    c.repliesSent = carried.repliesSent;
    c.summary = carried.summary ?? null;
    c.unsummarized = carried.unsummarized ?? [];
    c.unanswered = carried.unanswered ?? [];
    c.handoffRequest = carried.handoffRequest ?? null;
    c.closeRequest = carried.closeRequest ?? null;
    for (const id of carried.recentMessageIds) c.remember(id);
    return c;
  }

  carry(): CarriedState {
    if (!this.conversationId) throw new Error('cannot carry a conversation that was never opened');
    return {
      conversationId: this.conversationId,
      status: this.status,
      assignee: this.assignee,
      turns: this.turns,
      recentMessageIds: this.recentIds,
      pending: this.pending,
      lastInboundAt: this.lastInboundAt,
      lastAgentActivityAt: this.lastAgentActivityAt,
      inboundTimes: this.inboundTimes,
      repliesSent: this.repliesSent,
      ...(this.summary !== null && { summary: this.summary }),
      ...(this.unsummarized.length > 0 && { unsummarized: this.unsummarized }),
      ...(this.unanswered.length > 0 && { unanswered: this.unanswered }),
      ...(this.handoffRequest !== null && { handoffRequest: this.handoffRequest }),
      ...(this.closeRequest !== null && { closeRequest: this.closeRequest }),
    };
  }

  /** The database's view when a run starts fresh (a new conversation, or one reopened). */
  open(opened: { conversationId: string; status: ConversationStatus; assignee: string | null; turns: Turn[]; lastInboundAt: number | null }): void {
    this.conversationId = opened.conversationId;
    this.status = opened.status === 'closed' ? 'active' : opened.status;
    this.assignee = this.status === 'assigned_human' ? opened.assignee : null;
    this.turns = opened.turns.slice(-MAX_TURNS);
    this.lastInboundAt = opened.lastInboundAt;
  }

  // ---- Inbound ----

  /** Queues new messages; redeliveries (same provider id) are dropped. Returns how many were new. */
  receive(messages: InboundMessage[], now: number): number {
    let accepted = 0;
    for (const message of messages) {
      if (this.recentIdSet.has(message.externalMessageId)) continue;
      this.remember(message.externalMessageId);
      this.pending.push(message);
      this.inboundTimes.push(now);
      accepted++;
    }
    if (accepted) this.inboundSeq++;
    this.inboundTimes = this.inboundTimes.filter((t) => now - t < MINUTE);
    return accepted;
  }

  takePending(): InboundMessage[] {
    const batch = this.pending;
    this.pending = [];
    return batch;
  }

  /**
   * The stored batch, oldest first by the provider's timestamp: webhooks may deliver out of
   * order (a redelivery after a later message), the conversation reads in the order sent.
   */
  takeUnanswered(): InboundMessage[] {
    const batch = [...this.unanswered].sort((a, b) => a.sentAt - b.sentAt);
    this.unanswered = [];
    return batch;
  }

  /** Records the messages the database accepted as new (in the order given). */
  noteInbound(messages: InboundMessage[]): void {
    for (const m of messages) {
      this.lastInboundAt = Math.max(this.lastInboundAt ?? 0, m.sentAt);
      if (m.text) this.addTurn({ role: 'user', text: m.text, at: m.sentAt });
    }
  }

  /** Beyond the per-minute cap, a sender gets no assistant reply (messages are still stored). */
  flooded(now: number, maxPerMinute: number): boolean {
    return this.inboundTimes.filter((t) => now - t < MINUTE).length > maxPerMinute;
  }

  /**
   * Whole-word, case-insensitive match of any handoff keyword. Lower-casing is the locale-free
   * toLowerCase: workflow code must decide the same on every worker, whatever its locale.
   */
  asksForHuman(text: string, keywords: string[]): boolean {
    const lower = text.toLowerCase();
    const words = new Set(lower.split(/[^\p{L}\p{N}]+/u).filter(Boolean));
    return keywords.some((k) => {
      const parts = k.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      if (parts.length === 1) return words.has(parts[0]!);
      return parts.length > 1 && lower.includes(parts.join(' '));
    });
  }

  /** Free-form messages may go out within 24 h of the user's last message (web chat: always). */
  withinServiceWindow(now: number, channel: ChannelKind): boolean {
    if (channel === 'webchat') return true;
    return this.lastInboundAt !== null && now - this.lastInboundAt < SERVICE_WINDOW_MS;
  }

  /**
   * Messenger lets a person (never the assistant) answer for 7 days after the user's last
   * message, tagged HUMAN_AGENT once the 24-hour window has closed.
   */
  messengerAgentWindow(now: number): OutboundWindow {
    if (this.withinServiceWindow(now, 'messenger')) return { open: true };
    if (this.lastInboundAt !== null && now - this.lastInboundAt < HUMAN_AGENT_WINDOW_MS) return { open: true, tag: 'HUMAN_AGENT' };
    return { open: false, reason: 'outside_human_agent_window' };
  }

  // ---- Outbound ----

  addTurn(turn: Turn): void {
    this.turns.push(turn);
    if (this.turns.length > MAX_TURNS) this.unsummarized.push(...this.turns.splice(0, this.turns.length - MAX_TURNS));
    if (this.unsummarized.length > MAX_TURNS) this.unsummarized.splice(0, this.unsummarized.length - MAX_TURNS);
  }

  // ---- Memory: the last `keep` turns verbatim, older ones in a rolling summary ----

  /** The turns to fold into the summary so that `keep` stay verbatim; none until `batch` are due. */
  turnsToSummarize(keep: number, batch = SUMMARY_BATCH): Turn[] {
    const older = [...this.unsummarized, ...this.turns.slice(0, Math.max(0, this.turns.length - keep))];
    return older.length >= batch ? older : [];
  }

  /** The summary now covers the first `count` turns of what turnsToSummarize returned. */
  summarized(summary: string, count: number): void {
    const fromEvicted = Math.min(count, this.unsummarized.length);
    this.unsummarized.splice(0, fromEvicted);
    this.turns.splice(0, count - fromEvicted);
    this.summary = summary;
  }

  // ---- Handoff ----

  get handoff(): HandoffState {
    return this.status === 'handoff_requested' ? 'requested' : this.status === 'assigned_human' ? 'assigned' : 'none';
  }

  /** While a human is asked for or holds the conversation, the assistant stays silent. */
  get botSilent(): boolean {
    return this.status === 'handoff_requested' || this.status === 'assigned_human';
  }

  /** Returns whether the status changed (a second request while waiting changes nothing). */
  requestHandoff(): boolean {
    if (this.status !== 'active') return false;
    this.status = 'handoff_requested';
    return true;
  }

  assertCanTakeOver(agentId: string): void {
    if (!agentId.trim()) throw new ConversationRuleError('agentId is required');
    if (this.status === 'closed') throw new ConversationRuleError('the conversation is closed');
    // A person may take over from the business app (whose echoes paused the assistant), not from another person.
    if (this.status === 'assigned_human' && this.assignee !== agentId && this.assignee !== BUSINESS_APP_AGENT) {
      throw new ConversationRuleError(`the conversation is held by another agent (${this.assignee})`);
    }
  }

  takeOver(agentId: string, now: number): void {
    this.assertCanTakeOver(agentId);
    this.status = 'assigned_human';
    this.assignee = agentId;
    this.lastAgentActivityAt = now;
  }

  assertHeldBy(agentId: string): void {
    if (this.status !== 'assigned_human') throw new ConversationRuleError('no agent holds the conversation: take it over first');
    if (this.assignee !== agentId) throw new ConversationRuleError(`the conversation is held by another agent (${this.assignee})`);
  }

  agentActivity(now: number): void {
    this.lastAgentActivityAt = now;
  }

  /** Back to the assistant. Returns whether the status changed. */
  release(): boolean {
    if (!this.botSilent) return false;
    this.status = 'active';
    this.assignee = null;
    this.lastAgentActivityAt = null;
    return true;
  }

  /** Milliseconds until an assigned conversation goes back to the assistant, or null. */
  agentInactivityRemaining(now: number, inactivityMs: number): number | null {
    if (this.status !== 'assigned_human') return null;
    return Math.max(0, (this.lastAgentActivityAt ?? now) + inactivityMs - now);
  }

  close(): void {
    this.status = 'closed';
    this.assignee = null;
  }

  get closed(): boolean {
    return this.status === 'closed';
  }

  /** A message after closing reopens the conversation. Returns whether it was closed. */
  reopen(): boolean {
    if (this.status !== 'closed') return false;
    this.status = 'active';
    return true;
  }

  snapshot(): ConversationSnapshot {
    return {
      conversationId: this.conversationId,
      status: this.status,
      handoff: this.handoff,
      assignee: this.assignee,
      pending: this.pending.length + this.unanswered.length,
      lastInboundAt: this.lastInboundAt,
      repliesSent: this.repliesSent,
    };
  }

  private remember(id: string): void {
    this.recentIds.push(id);
    this.recentIdSet.add(id);
    while (this.recentIds.length > DEDUPE_WINDOW) this.recentIdSet.delete(this.recentIds.shift()!);
  }
}
