// FROZEN: the conversation workflow as it ran before `conversation-v2` (workflows/conversation.ts).
// Histories recorded without the v2 marker replay through this function, so it must keep issuing
// exactly the commands it issued then: do not edit it, except to add a drain point behind a new
// patch. Runs still on it move to the current code at their next wake-up (V1_DRAIN below), so it
// can be deleted once no such run is left (README: "Changing workflow code safely").
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import { assistantReply } from '../assistant-reply.ts';
import type { conversation } from '../conversation.ts';
import {
  agentMessageUpdate,
  closeSignal,
  HANDOFF_NOTICE,
  inboundSignal,
  releaseUpdate,
  requestHandoffSignal,
  stateQuery,
  takeOverUpdate,
} from '../conversation-messages.ts';
import { Conversation, type ConversationSettings } from '../conversation-state.ts';
import { ConversationStatus, HandoffState } from '../search-attributes.ts';
import type { AgentMessageResult, ConversationInput, InboundMessage } from '../types.ts';

// ---- Activities, each with the timeout and retries its side effect calls for ----

const store = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds', maximumAttempts: 20 },
});
/** Read receipts and typing indicators are a courtesy: two quick tries, then on without them. */
const courtesy = proxyActivities<Activities>({ startToCloseTimeout: '5 seconds', retry: { maximumAttempts: 2 } });
const thinking = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});
/** Sends heartbeat after each accepted part, so a dead worker's attempt is retried within 15 s. */
const sending = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** Continue-as-new at this history length even if the server has not suggested it yet. */
const MAX_HISTORY_EVENTS = 5_000;
/** A burst is answered at the latest this long after its first message, however chatty. */
const MAX_COALESCE_MS = 10_000;
const SETTINGS_REFRESH_MS = 60_000;

/** Patch of the drain points: a run that reaches one on new (not replayed) ground continues as new on the current code. */
const V1_DRAIN = 'conversation-v1-drain';

/** `drain: false` runs it as the first build did, without drain points (the upgrade test's old worker). */
export async function conversationV1(input: ConversationInput, options: { drain?: boolean } = {}): Promise<void> {
  const drains = () => options.drain !== false && patched(V1_DRAIN);
  const { tenantId, channel, channelId, externalUserId } = input;
  const state = input.carried ? Conversation.from(input.carried) : new Conversation();
  let settings: ConversationSettings | undefined;
  let settingsAt = 0;
  let lastActivityAt = Date.now();
  /** Bumped by agent actions, so that the main loop wakes and re-arms its deadlines. */
  let agentChanges = 0;

  const opened = () => condition(() => state.conversationId !== null);

  setHandler(inboundSignal, (messages) => {
    if (state.receive(messages, Date.now()) > 0) lastActivityAt = Date.now();
  });
  setHandler(requestHandoffSignal, ({ reason }) => {
    state.handoffRequest ??= reason;
  });
  setHandler(closeSignal, ({ reason }) => {
    state.closeRequest ??= reason;
  });
  setHandler(stateQuery, () => state.snapshot());
  setHandler(
    takeOverUpdate,
    async ({ agentId }) => {
      await opened();
      const changed = state.status !== 'assigned_human';
      state.takeOver(agentId, Date.now());
      agentChanges++;
      if (changed) await recordChange('handoff.assigned', { agentId });
      return state.snapshot();
    },
    { validator: ({ agentId }) => state.assertCanTakeOver(agentId) },
  );
  setHandler(
    releaseUpdate,
    async ({ agentId }) => {
      await opened();
      agentChanges++;
      if (state.release()) await recordChange('handoff.released', { agentId, reason: 'agent' });
      return state.snapshot();
    },
    { validator: ({ agentId }) => state.assertHeldBy(agentId) },
  );
  setHandler(
    agentMessageUpdate,
    async ({ agentId, text }) => {
      await opened();
      state.agentActivity(Date.now());
      lastActivityAt = Date.now();
      agentChanges++;
      return send(text, 'agent', agentId);
    },
    {
      validator: ({ agentId, text }) => {
        if (!text.trim()) throw new Error('text is empty');
        state.assertHeldBy(agentId);
      },
    },
  );

  // ---- The story ----

  if (!state.conversationId) {
    const openedRow = await store.openConversation({ tenantId, channelId, externalUserId, workflowId: workflowInfo().workflowId });
    state.open(openedRow);
    settings = openedRow.settings;
    settingsAt = Date.now();
  }
  upsertStatus();

  for (;;) {
    if (!settings || Date.now() - settingsAt > SETTINGS_REFRESH_MS) {
      settings = await store.loadConversationSettings(tenantId);
      settingsAt = Date.now();
    }
    const inactivity = state.agentInactivityRemaining(Date.now(), settings.agentInactivityMs);
    const idleRemaining = Math.max(0, lastActivityAt + settings.idleCloseMs - Date.now());
    const seenAgentChanges = agentChanges;
    const woke = await condition(
      () =>
        state.pending.length > 0 ||
        state.handoffRequest !== null ||
        state.closeRequest !== null ||
        agentChanges !== seenAgentChanges ||
        continueAsNewDue(),
      Math.max(1, Math.min(idleRemaining, inactivity ?? Number.POSITIVE_INFINITY)),
    );
    if (drains()) return drain();
    if (agentChanges !== seenAgentChanges && state.pending.length === 0) continue; // re-arm the deadlines

    if (!woke) {
      if (state.agentInactivityRemaining(Date.now(), settings.agentInactivityMs) === 0) {
        state.release();
        await recordChange('handoff.released', { reason: 'agent_inactive' });
        continue;
      }
      if (Date.now() - lastActivityAt >= settings.idleCloseMs) {
        await close('idle');
        if (state.pending.length === 0) break;
      }
      continue;
    }

    if (state.closeRequest !== null) {
      const reason = state.closeRequest;
      state.closeRequest = null;
      await close(reason);
      if (state.pending.length === 0) break;
    }
    if (state.handoffRequest !== null) {
      const reason = state.handoffRequest;
      state.handoffRequest = null;
      await startHandoff(reason);
    }
    if (state.pending.length > 0) {
      await quietWindow(settings.quietWindowMs);
      await answer(state.takePending(), settings);
      lastActivityAt = Date.now();
    }
    if (continueAsNewDue() && state.pending.length === 0 && state.handoffRequest === null && state.closeRequest === null) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof conversation>({ ...input, carried: state.carry() });
    }
  }
  // Closed: let update handlers in flight finish before the run completes.
  await condition(allHandlersFinished);
  if (state.pending.length > 0 && drains()) return drain();

  /** Hands the whole state, requests and messages not answered yet included, to a run of the current code. */
  async function drain(): Promise<void> {
    await condition(allHandlersFinished);
    await continueAsNew<typeof conversation>({ ...input, carried: { ...state.carry(), lastActivityAt, ...(settings && { settings }) } });
  }

  // ---- The steps ----

  /** Waits until no new message has arrived for the quiet window (bounded), to answer a burst once. */
  async function quietWindow(quietMs: number): Promise<void> {
    if (quietMs <= 0) return; // even a 1 ms timer costs a server round trip (~1 s on the dev server)
    const started = Date.now();
    for (;;) {
      const seq = state.inboundSeq;
      const remaining = MAX_COALESCE_MS - (Date.now() - started);
      if (remaining <= 0 || !(await condition(() => state.inboundSeq !== seq, Math.min(quietMs, remaining)))) return;
    }
  }

  async function answer(batch: InboundMessage[], s: ConversationSettings): Promise<void> {
    if (state.reopen()) await recordChange('conversation.reopened');
    const stored = new Set(await store.persistInbound({ tenantId, conversationId: state.conversationId!, channel, messages: batch }));
    const fresh = batch.filter((m) => stored.has(m.externalMessageId));
    if (fresh.length === 0) return; // all redeliveries
    state.noteInbound(fresh);
    if (state.botSilent) return; // a human is asked for or holds it: the messages wait for the agent

    // Web chat once had no acknowledgement (its sender did not exist); patched() keeps the
    // histories of conversations started before then replaying as they ran.
    if (channel !== 'webchat' || patched('webchat-typing-indicator')) {
      try {
        await courtesy.acknowledgeInbound({ tenantId, channelId, to: externalUserId, lastMessageId: fresh.at(-1)!.externalMessageId });
      } catch (err) {
        log.warn('read receipt / typing indicator failed', { error: String(err) });
      }
    }

    const question = fresh.map((m) => m.text).filter((t): t is string => !!t).join('\n');
    if (question && state.asksForHuman(question, s.handoffKeywords)) return startHandoff('keyword');
    if (state.flooded(Date.now(), s.floodMaxPerMinute)) {
      log.warn('flood guard: no reply', { perMinute: s.floodMaxPerMinute });
      return;
    }
    const attachments = fresh.filter((m) => !m.text && m.kind !== 'reaction' && m.kind !== 'unsupported').map((m) => m.kind);
    if (!question && attachments.length === 0) return; // reactions and the like need no answer

    const passages = question ? await thinking.retrieveContext({ tenantId, question }) : [];
    const handoffKeyword = s.handoffKeywords[0] ?? 'human';
    // Providers with fallback, tool calls, never silence (workflows/assistant-reply.ts).
    const text = await assistantReply(
      { tenantId, question, passages, attachments, handoffKeyword, policy: s.turn },
      { memory: state, requestHuman: (reason) => void (state.handoffRequest ??= reason) },
    );
    if (text === null || state.botSilent || state.closed) return; // handed to a person, or a human took over (or it closed) while it was thinking
    await send(text, 'assistant');
  }

  async function startHandoff(reason: string): Promise<void> {
    if (!state.requestHandoff()) return;
    await recordChange('handoff.requested', { reason });
    await send(HANDOFF_NOTICE, 'assistant');
  }

  async function close(reason: string): Promise<void> {
    state.close();
    await recordChange('conversation.closed', { reason });
  }

  /** Persists the outbound message, then delivers it; failures are recorded, never thrown. */
  async function send(text: string, author: 'assistant' | 'agent', agentId?: string): Promise<AgentMessageResult> {
    await opened();
    const id = uuid4();
    const createdAt = Date.now();
    const conversationId = state.conversationId!;
    const failedReason = state.withinServiceWindow(createdAt, channel) ? undefined : 'outside_customer_service_window';
    await store.persistOutbound({ id, createdAt, tenantId, conversationId, channel, text, author, agentId, failedReason });
    if (failedReason) return { status: 'failed', messageId: id, reason: failedReason };
    try {
      const result = await sending.deliverMessage({ id, createdAt, tenantId, conversationId, channelId, channel, to: externalUserId });
      if (result.status === 'failed') return { status: 'failed', messageId: id, reason: result.reason };
    } catch (err) {
      // Retries ran out (or the failure could not be retried): record it and carry on.
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const reason = cause instanceof ApplicationFailure && cause.type ? cause.type : 'send_failed';
      await store.markOutboundFailed({ id, createdAt, tenantId, conversationId, reason });
      return { status: 'failed', messageId: id, reason };
    }
    state.addTurn({ role: author, text, at: createdAt });
    state.repliesSent++;
    return { status: 'sent', messageId: id };
  }

  async function recordChange(type: string, payload: Record<string, unknown> = {}): Promise<void> {
    upsertStatus();
    await store.recordConversationChange({
      tenantId,
      conversationId: state.conversationId!,
      status: state.status,
      assignee: state.assignee,
      event: { type, payload },
    });
  }

  /**
   * Keeps the status attributes the run was started with current (the API starts every run with
   * them). Upserting an attribute the namespace does not know would fail every workflow task, so
   * a run started without them, e.g. on a server where they cannot be registered, leaves them be.
   */
  function upsertStatus(): void {
    const started = workflowInfo().typedSearchAttributes;
    const updates = [
      { key: ConversationStatus, value: state.status },
      { key: HandoffState, value: state.handoff },
    ].filter(({ key }) => started.get(key) !== undefined);
    if (updates.length) upsertSearchAttributes(updates);
  }

  function continueAsNewDue(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS;
  }
}
