// The conversation workflow: one per external user of a tenant's channel
// (id `conversation:{tenantId}:{channelId}:{externalUserId}`, see ids.ts). Webhooks signalWithStart
// it; Temporal delivers the signals in order, so ordering and per-conversation locking come free.
//
// The promise: a message the API acknowledged is stored once and answered once, whatever crashes.
// - Every step is idempotent by its input: stored rows get ids chosen here (so a retried store
//   tells the same messages new), outbound messages too (a retried send finds its own row).
// - Nothing fails a run: database steps retry until the database is back, a lost retrieval is
//   "no passages", a failed model is the fallback and then the tenant's polite message, a failed
//   send is recorded. Only a tenant or channel that no longer exists ends a run (completed).
// - Requests and messages that arrive while the run closes or continues as new are carried.
//
// The hot path, a reply in two workflow tasks: the signal's task stores the message with a local
// activity (a marker) and schedules one activity, which retrieves, acknowledges the message (read
// receipt, typing), asks the model and stores and sends its reply; the task after it records it.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { TypedSearchAttributes } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';
import type { DeliverInput, DeliverResult } from '../activities/channels/index.ts';
import type { ReceivedInbound, StoredBusinessEchoes } from '../activities/store.ts';
import { assistantTurn, type AssistantOutcome } from './assistant-reply.ts';
import {
  agentMessageUpdate,
  businessEchoSignal,
  closeSignal,
  HANDOFF_NOTICE,
  inboundSignal,
  releaseUpdate,
  requestHandoffSignal,
  stateQuery,
  takeOverUpdate,
} from './conversation-messages.ts';
import { commerceArguments, commerceRoute, functionReply } from './commerce-routing.ts';
import { Conversation, type ConversationSettings } from './conversation-state.ts';
import { LazyTimer } from './lazy-timer.ts';
import { conversationV1 } from './legacy/conversation-v1.ts';
import { Assignee, ChannelId, ConversationId, ConversationStatus, HandoffState } from './search-attributes.ts';
import {
  BUSINESS_APP_AGENT,
  SUPERSEDED_BY_AGENT,
  type AgentMessageResult,
  type BusinessEcho,
  type CarriedState,
  type ChoiceSet,
  type ConversationInput,
  type InboundMessage,
  type OutboundAttachment,
} from './types.ts';

export * from './conversation-messages.ts';
export { SUPERSEDED_BY_AGENT } from './types.ts';

/**
 * Marks runs of this code. A history without it was recorded by the first version and replays
 * through it (legacy/conversation-v1.ts), which hands over to this code at its next wake-up.
 */
export const CONVERSATION_V2 = 'conversation-v2';

/**
 * Marks runs that keep the operators' view in the Temporal UI current: the ConversationId and
 * Assignee search attributes and the memo. Runs recorded before it upserted neither.
 */
export const OPERATOR_VIEW = 'operator-view';

/** Marks runs that stored the business's own messages (echoes) and paused the assistant for them. */
export const BUSINESS_ECHO = 'business-app-echo';
/**
 * Marks runs that sent a Messenger or Instagram agent's message with the HUMAN_AGENT tag, or
 * refused it after 7 days (Instagram runs before it refused it after 24 hours).
 */
export const HUMAN_AGENT_TAG = 'messenger-human-agent-tag';
/** Marks runs that routed an order or a completed Flow by the tenant's commerce setting. */
export const COMMERCE_ROUTING = 'commerce-routing';

/**
 * Marks runs whose assistant turns hand the model call the turn's media messages (images to
 * look at, voice notes to transcribe). Runs recorded before it answered media by their kind only.
 */
export const TURN_MEDIA = 'turn-media';
const MEDIA_MESSAGE_KINDS: readonly string[] = ['image', 'audio', 'video', 'document', 'sticker'];

// ---- Activities, each with the timeout and retries its side effect calls for ----

/**
 * Short database steps: local activities (a marker in the history, no task of their own),
 * retried without limit so that a database outage pauses the conversation instead of ending it.
 */
const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '20 seconds' },
});
/**
 * Sends heartbeat after each accepted part, so a dead worker's attempt is retried within 15 s.
 * No attempt limit: the activity itself gives up on a channel that keeps failing (it records the
 * message failed), never on the database.
 */
const sending = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Tenant functions that handle orders and Flows: the function's own timeout (at most 30 s) is enforced inside. */
const functions = proxyActivities<Activities>({
  startToCloseTimeout: '35 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

/**
 * Continue-as-new past this many history events. A conversation pushed out of a worker's sticky
 * cache replays its whole run at its next message, at a cost linear in the run's length: 0.5–0.8
 * ms per event in the replay API, about 0.8 ms in a worker (history fetch included), some 85 % of
 * it the SDK's stack-trace promise hook (a source-mapped stack captured for every promise a
 * workflow creates), not this code (`npm run bench:idle`, bench/RESULTS.md). 100 events, about
 * eight messages, keep the first reply after an eviction near 100 ms over a cached
 * conversation's, well within 150 ms. A run continues as new only between messages, so one busy
 * without a pause may run longer; it is cached then.
 */
export const MAX_HISTORY_EVENTS = 100;
/**
 * Marks runs that continue as new past MAX_HISTORY_EVENTS. Runs recorded before it did so only
 * past LEGACY_MAX_HISTORY_EVENTS or at the server's suggestion: while such a history replays it
 * keeps that limit (no marker where it passed the cap: patched() is false), and it continues as
 * new at its next live workflow task instead. The same holds for a run recorded under an
 * earlier, higher cap (conversation-v4: 150).
 */
export const SHORT_RUNS = 'short-runs';
const LEGACY_MAX_HISTORY_EVENTS = 5_000;
/** A burst is answered at the latest this long after its first message, however chatty. */
const MAX_COALESCE_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function conversation(input: ConversationInput): Promise<void> {
  if (!patched(CONVERSATION_V2)) return conversationV1(input);
  return conversationV2(input);
}

async function conversationV2(input: ConversationInput): Promise<void> {
  const { tenantId, channel, channelId, externalUserId } = input;
  const { workflowId } = workflowInfo();
  const state = input.carried ? Conversation.from(input.carried) : new Conversation();
  let settings: ConversationSettings | undefined = input.carried?.settings;
  let lastActivityAt = input.carried?.lastActivityAt ?? Date.now();
  /** Bumped by agent actions, so that the main loop wakes and re-arms its deadlines. */
  let agentChanges = 0;
  /** Set when the conversation belongs to a still-running run under an older workflow id. */
  let forwarded = false;
  /** The tenant or channel is gone: nothing can be stored any more. */
  let ended = false;
  const deadlines = new LazyTimer();
  /** The business's own messages, signalled and not stored yet. */
  const echoes: BusinessEcho[] = [];

  const opened = () => condition(() => state.conversationId !== null);

  setHandler(inboundSignal, (messages) => {
    if (state.receive(messages, Date.now()) > 0) lastActivityAt = Date.now();
  });
  setHandler(businessEchoSignal, (messages) => {
    echoes.push(...messages);
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
      const changed = state.status !== 'assigned_human' || state.assignee !== agentId;
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
    async ({ agentId, text, messageId, choices, attachment }) => {
      await opened();
      state.agentActivity(Date.now());
      lastActivityAt = Date.now();
      agentChanges++;
      // An attachment rides in the send activity's input: the same commands as a text.
      return send(text, 'agent', { agentId, ...(choices && { choices }), ...(attachment && { attachment }), ...(messageId && { message: outboundMessage(messageId, Date.now(), 'agent') }) });
    },
    {
      validator: ({ agentId, text, messageId, attachment }) => {
        if (!text.trim() && !attachment) throw new Error('text is empty');
        if (messageId !== undefined && !UUID.test(messageId)) throw new Error('messageId must be a UUID');
        state.assertHeldBy(agentId);
      },
    },
  );

  // ---- The story ----

  for (;;) {
    await converse();
    // Closed, forwarded or ended: update handlers in flight finish first, and a message that
    // arrived meanwhile is not dropped: it reopens the conversation (or is forwarded again).
    await condition(allHandlersFinished);
    if (ended || (state.pending.length === 0 && state.unanswered.length === 0 && echoes.length === 0)) return;
    forwarded = false;
  }

  /** Runs the conversation until it closes (or its messages belong to another run). */
  async function converse(): Promise<void> {
    if (state.conversationId) upsertStatus();
    for (;;) {
      if (state.pending.length > 0) await storePending();
      if (forwarded || ended) return;
      // patched() only where echoes are stored: runs that never get one record no marker.
      if (echoes.length > 0 && patched(BUSINESS_ECHO)) await storeEchoes();
      if (ended) return;
      if (!state.conversationId) {
        await condition(() => state.pending.length > 0 || echoes.length > 0); // started without a message: wait for one
        continue;
      }
      // A run carried over without them.
      settings ??= await store.loadConversationSettings.executeWithOptions({ summary: 'load the tenant\'s conversation settings' }, [tenantId]);
      const s = settings;

      if (state.closeRequest !== null) {
        const reason = state.closeRequest;
        state.closeRequest = null;
        await close(reason);
      }
      if (state.handoffRequest !== null) {
        const reason = state.handoffRequest;
        state.handoffRequest = null;
        await startHandoff(reason);
      }
      if (state.unanswered.length > 0) {
        await quietWindow(s.quietWindowMs);
        if (forwarded || ended) return;
        await answer(state.takeUnanswered(), settings);
        upsertStatus(); // the answer may have folded turns into the summary the memo shows
        lastActivityAt = Date.now();
        continue;
      }
      if (deadlines.consume()) await deadlinesDue(s);
      if (state.closed && state.pending.length === 0 && echoes.length === 0) return;

      if (continueAsNewDue() && idle()) {
        await condition(allHandlersFinished);
        if (idle()) await continueAsNew<typeof conversation>({ ...input, carried: carry() });
        continue;
      }

      deadlines.ensure(nextDeadline(s));
      const seenAgentChanges = agentChanges;
      await condition(
        () =>
          state.pending.length > 0 ||
          echoes.length > 0 ||
          state.handoffRequest !== null ||
          state.closeRequest !== null ||
          deadlines.fired ||
          agentChanges !== seenAgentChanges ||
          continueAsNewDue(),
      );
    }
  }

  // ---- The steps ----

  /**
   * Stores the messages signalled since the last store, before any quiet window, with row ids
   * chosen here: the activity tells which of them it stored as new, the same on every retry.
   */
  async function storePending(): Promise<void> {
    const batch = state.takePending();
    let received: ReceivedInbound;
    try {
      received = await store.receiveInbound.executeWithOptions({ summary: `store ${plural(batch.length, 'inbound message')}` }, [
        {
          tenantId, channel, channelId, externalUserId, workflowId,
          conversationId: state.conversationId,
          messages: batch.map((m) => ({ ...m, rowId: uuid4() })),
        },
      ]);
    } catch (err) {
      // Retries never run out; only a failure no retry can fix lands here.
      log.error('inbound messages cannot be stored: the conversation ends', { error: String(err instanceof ActivityFailure ? err.cause : err) });
      ended = true;
      return;
    }
    if (received.forwardedTo) {
      log.info('messages forwarded to the conversation run under the older workflow id', { to: received.forwardedTo });
      forwarded = true;
      return;
    }
    if (received.opened) {
      state.open(received.opened);
      upsertStatus();
    }
    settings = received.settings;
    const freshIds = new Set(received.fresh);
    const fresh = batch.filter((m) => freshIds.has(m.externalMessageId)).sort(bySentAt);
    if (fresh.length === 0) return; // redeliveries of messages stored before
    if (state.reopen()) await recordChange('conversation.reopened');
    state.noteInbound(fresh);
    // While a human is asked for or holds the conversation, messages wait for the agent.
    if (!state.botSilent) state.unanswered.push(...fresh);
  }

  /**
   * Stores the business's own messages (sent from its WhatsApp Business app or the Page inbox)
   * and hands the conversation to the business app as a take-over would: the assistant stays
   * silent until the agent inactivity timeout gives it back, or a person takes it over.
   */
  async function storeEchoes(): Promise<void> {
    const batch = echoes.splice(0);
    let stored: StoredBusinessEchoes;
    try {
      stored = await store.storeBusinessEchoes.executeWithOptions({ summary: `store ${plural(batch.length, 'business app message')}` }, [
        { tenantId, channel, channelId, externalUserId, workflowId, conversationId: state.conversationId, echoes: batch.map((e) => ({ ...e, rowId: uuid4() })) },
      ]);
    } catch (err) {
      log.error('business app messages cannot be stored: the conversation ends', { error: String(err instanceof ActivityFailure ? err.cause : err) });
      ended = true;
      return;
    }
    if (stored.opened) {
      state.open(stored.opened);
      upsertStatus();
    }
    const freshIds = new Set(stored.fresh);
    const fresh = batch.filter((e) => freshIds.has(e.externalMessageId)).sort(bySentAt);
    if (fresh.length === 0) return; // redeliveries
    for (const e of fresh) if (e.text) state.addTurn({ role: 'agent', text: e.text, at: e.sentAt });
    lastActivityAt = Date.now();
    if (state.reopen()) await recordChange('conversation.reopened');
    if (state.status === 'assigned_human') {
      state.agentActivity(Date.now()); // whoever holds it keeps it; the inactivity clock restarts
      return;
    }
    state.takeOver(BUSINESS_APP_AGENT, Date.now());
    await recordChange('handoff.assigned', { agentId: BUSINESS_APP_AGENT, reason: 'business_app' });
  }

  /** Waits until no new message has arrived for the quiet window (bounded), to answer a burst once. */
  async function quietWindow(quietMs: number): Promise<void> {
    if (quietMs <= 0) return; // even a 1 ms timer costs a server round trip
    const started = Date.now();
    for (;;) {
      const seq = state.inboundSeq;
      const remaining = MAX_COALESCE_MS - (Date.now() - started);
      if (remaining <= 0 || !(await condition(() => state.inboundSeq !== seq, Math.min(quietMs, remaining)))) return;
      await storePending();
      if (forwarded || ended) return;
    }
  }

  async function answer(given: InboundMessage[], s: ConversationSettings): Promise<void> {
    if (given.length === 0 || state.botSilent || state.closed) return;
    // patched() only for a batch with an order or a Flow in it.
    const batch = given.some((m) => commerceRoute(m, s.commerce) !== null) && patched(COMMERCE_ROUTING) ? await routeCommerce(given, s) : given;
    if (batch.length === 0 || state.botSilent) return;
    const question = batch.map((m) => m.text).filter((t): t is string => !!t).join('\n');
    if (question && state.asksForHuman(question, s.handoffKeywords)) return startHandoff('keyword');
    if (state.flooded(Date.now(), s.floodMaxPerMinute)) {
      log.warn('flood guard: no reply', { perMinute: s.floodMaxPerMinute });
      return;
    }
    // Meta's notices (system, request_welcome, referral, optin) are the customer saying nothing.
    const attachments = batch.filter((m) => !m.text && m.kind !== 'reaction' && m.kind !== 'unsupported' && m.kind !== 'system').map((m) => m.kind);
    if (!question && attachments.length === 0) return; // reactions and the like need no answer
    // The model call reads the turn's media itself (transcripts, images): the same commands, more input.
    const withMedia = batch.filter((m) => MEDIA_MESSAGE_KINDS.includes(m.kind));
    const media = withMedia.length > 0 && patched(TURN_MEDIA) ? withMedia.map((m) => ({ channel, externalMessageId: m.externalMessageId, kind: m.kind })) : [];

    // One activity per reply: the model call retrieves first and acknowledges the messages (read
    // receipt, typing) meanwhile, and the call that answers stores and sends the reply. Providers
    // with fallback, tool calls, never silence: workflows/assistant-reply.ts.
    const reply = outboundMessage(uuid4(), Date.now());
    const outcome = await assistantTurn(
      {
        tenantId, question, passages: [], attachments, handoffKeyword: s.handoffKeywords[0] ?? 'human', policy: s.turn,
        ...(media.length > 0 && { media }),
        // A voice note's transcript is a question too: the call retrieves for it.
        prepare: { retrieve: !!question || media.some((m) => m.kind === 'audio'), acknowledge: { tenantId, channelId, to: externalUserId, lastMessageId: batch.at(-1)!.externalMessageId } },
        ...(!reply.failedReason && { deliver: reply }),
      },
      { memory: state, requestHuman: (reason) => void (state.handoffRequest ??= reason) },
    );
    if (outcome === null) return; // handed to a person
    if (outcome.delivered) {
      await noteSent(reply, outcome.text, 'assistant', outcome.delivered);
      return;
    }
    // Not delivered by a model call (the polite message after failures, or the reply whose send
    // failed for good there): under the same id, so a reply already stored is the one sent.
    // An agent who took over meanwhile wins: the send refuses too, this only saves the call.
    if (state.botSilent || state.closed) {
      await noteSent(reply, outcome.text, 'assistant', { status: 'failed', reason: SUPERSEDED_BY_AGENT });
      return;
    }
    await send(outcome.text, 'assistant', { message: reply, assistantTurn: true });
  }

  /**
   * Orders and Flows the tenant has a person or a function handle (commerce-routing.ts); returns
   * the messages left for the assistant. A function that fails, or refuses the call, hands the
   * conversation to a person: such a message is never left unanswered.
   */
  async function routeCommerce(batch: InboundMessage[], s: ConversationSettings): Promise<InboundMessage[]> {
    const rest: InboundMessage[] = [];
    for (const m of batch) {
      const route = commerceRoute(m, s.commerce);
      if (!route || route.handledBy === 'assistant') rest.push(m);
      else if (route.handledBy === 'human') await startHandoff(`${route.kind}_received`);
      else {
        let result: { content: string; isError: boolean };
        try {
          result = await functions.callTenantFunction.executeWithOptions({ summary: `tenant function ${route.function} for an ${route.kind}` }, [
            { tenantId, name: route.function, arguments: commerceArguments(m, route.kind, state.conversationId!, externalUserId), callId: `${route.kind}:${m.externalMessageId}` },
          ]);
        } catch (err) {
          const cause = err instanceof ActivityFailure ? err.cause : err;
          result = { content: cause instanceof Error ? cause.message : String(cause), isError: true };
        }
        if (result.isError) {
          log.warn('commerce function failed: handed to a person', { function: route.function, kind: route.kind });
          await startHandoff(`${route.kind}_function_failed`);
          continue;
        }
        const reply = functionReply(result.content);
        if (reply) await send(reply, 'assistant');
      }
    }
    return state.botSilent ? [] : rest;
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

  /** Agent inactivity hands the conversation back to the assistant; silence closes it. */
  async function deadlinesDue(s: ConversationSettings): Promise<void> {
    if (state.agentInactivityRemaining(Date.now(), s.agentInactivityMs) === 0) {
      state.release();
      await recordChange('handoff.released', { reason: 'agent_inactive' });
    }
    if (!state.closed && Date.now() - lastActivityAt >= s.idleCloseMs) await close('idle');
  }

  function nextDeadline(s: ConversationSettings): number {
    const inactivity = state.agentInactivityRemaining(Date.now(), s.agentInactivityMs);
    return Math.min(lastActivityAt + s.idleCloseMs, inactivity === null ? Number.POSITIVE_INFINITY : Date.now() + inactivity);
  }

  /**
   * The identity of an outbound message, fixed before it is stored so that every retry finds it.
   * Outside Meta's 24-hour window it is stored failed, except a Messenger or Instagram agent's
   * within 7 days, which goes out tagged HUMAN_AGENT (the assistant never uses the tag).
   */
  function outboundMessage(id: string, createdAt: number, author: 'assistant' | 'agent' = 'assistant'): OutboundMessage {
    const base = { id, createdAt, tenantId, conversationId: state.conversationId!, channelId, channel, to: externalUserId };
    if (state.withinServiceWindow(createdAt, channel)) return base;
    if (author === 'agent' && (channel === 'messenger' || channel === 'instagram') && patched(HUMAN_AGENT_TAG)) {
      const window = state.messengerAgentWindow(createdAt);
      return window.open ? { ...base, ...(window.tag && { messageTag: window.tag }) } : { ...base, failedReason: window.reason };
    }
    return { ...base, failedReason: 'outside_customer_service_window' };
  }

  /**
   * Stores and delivers one outbound message (one activity); failures are recorded, never
   * thrown. An assistant reply (`assistantTurn`) is not sent once the conversation's row says a
   * person is asked for or holds it: the take-over writes that as it is accepted.
   */
  async function send(
    text: string,
    author: 'assistant' | 'agent',
    options: { agentId?: string; message?: OutboundMessage; assistantTurn?: boolean; choices?: ChoiceSet; attachment?: OutboundAttachment } = {},
  ): Promise<AgentMessageResult> {
    await opened();
    const message = options.message ?? outboundMessage(uuid4(), Date.now(), author);
    let result: DeliverResult;
    try {
      result = await sending.deliverMessage.executeWithOptions({ summary: `send the ${author}'s message` }, [
        {
          ...message, text, author,
          ...(options.agentId && { agentId: options.agentId }), ...(options.assistantTurn && { assistantTurn: true }), ...(options.choices && { choices: options.choices }),
          ...(options.attachment && { attachment: options.attachment }),
        },
      ]);
    } catch (err) {
      // The channel could not be given it at all (retries cannot fix it).
      const cause = err instanceof ActivityFailure ? err.cause : err;
      result = { status: 'failed', reason: cause instanceof ApplicationFailure && cause.type ? cause.type : 'send_failed' };
    }
    return noteSent(message, text, author, result);
  }

  /** What a delivery's result means for the conversation's memory and for the caller. */
  async function noteSent(message: { id: string; createdAt: number }, text: string, author: 'assistant' | 'agent', result: DeliverResult): Promise<AgentMessageResult> {
    if (result.status === 'failed') {
      // The activity records the failures it sees; a cancelled or given-up one is recorded here.
      await store.markOutboundFailed.executeWithOptions({ summary: `record the ${author}'s message failed: ${result.reason}` }, [
        { id: message.id, createdAt: message.createdAt, tenantId, conversationId: state.conversationId!, reason: result.reason },
      ]);
      return { status: 'failed', messageId: message.id, reason: result.reason };
    }
    state.addTurn({ role: author, text, at: message.createdAt });
    state.repliesSent++;
    return { status: 'sent', messageId: message.id };
  }

  async function recordChange(type: string, payload: Record<string, unknown> = {}): Promise<void> {
    upsertStatus();
    try {
      await store.recordConversationChange.executeWithOptions({ summary: `record ${type}` }, [
        { tenantId, conversationId: state.conversationId!, status: state.status, assignee: state.assignee, event: { type, payload } },
      ]);
    } catch (err) {
      log.error('conversation change not recorded', { type, error: String(err instanceof ActivityFailure ? err.cause : err) });
    }
  }

  /**
   * Keeps the status attributes the run was started with current (the API starts every run with
   * them). Upserting an attribute the namespace does not know would fail every workflow task, so
   * a run started without them, e.g. on a server where they cannot be registered, leaves them be.
   * Unchanged values are not upserted again (each upsert is a history event). Such runs also show
   * ConversationId, ChannelId and Assignee and the memo: workers start only on a namespace that
   * has them (temporal-config/search-attributes.ts). ChannelId is not a start attribute: one more
   * attribute at start cost a third of signalWithStart's throughput on the dev server, while here
   * it rides on the ConversationId upsert a new conversation makes anyway.
   */
  function upsertStatus(): void {
    const info = workflowInfo();
    const typed = info.typedSearchAttributes;
    const started = [
      { key: ConversationStatus, value: state.status },
      { key: HandoffState, value: state.handoff },
    ].filter(({ key, value }) => {
      const current = typed.get(key);
      return current !== undefined && current !== value;
    });
    const shown = typed.get(ConversationStatus) !== undefined ? operatorViewChanges(typed, info.memo ?? {}) : null;
    // patched() only where the new commands are due: a run that never needs them gets no marker.
    const view = shown && (shown.attributes.length > 0 || shown.memo !== null) && patched(OPERATOR_VIEW) ? shown : null;
    const updates = [...started, ...(view?.attributes ?? [])];
    if (updates.length) upsertSearchAttributes(updates);
    if (view?.memo) upsertMemo(view.memo);
  }

  /**
   * What the operators' view lacks: ConversationId, ChannelId, Assignee (removed while nobody
   * holds the conversation) and the memo's rolling summary, the conversation in a few lines (memo
   * payloads are encrypted like every other). Status and assignee are attributes already: not
   * repeated in the memo, which costs a history event per change.
   */
  function operatorViewChanges(typed: TypedSearchAttributes, memo: Record<string, unknown>) {
    const attributes = [
      { key: ConversationId, value: state.conversationId },
      { key: ChannelId, value: channelId },
      { key: Assignee, value: state.assignee },
    ].filter(({ key, value }) => (typed.get(key) ?? null) !== value);
    return { attributes, memo: state.summary !== null && memo.summary !== state.summary ? { summary: state.summary } : null };
  }

  function idle(): boolean {
    return state.pending.length === 0 && echoes.length === 0 && state.unanswered.length === 0 && state.handoffRequest === null && state.closeRequest === null;
  }

  function carry(): CarriedState {
    return { ...state.carry(), lastActivityAt, ...(settings && { settings }) };
  }

  function continueAsNewDue(): boolean {
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > LEGACY_MAX_HISTORY_EVENTS) return true;
    // patched() only past the cap: shorter runs record no marker.
    return info.historyLength > MAX_HISTORY_EVENTS && patched(SHORT_RUNS);
  }
}

/** An outbound message's identity and where it goes, before its content. */
type OutboundMessage = Pick<DeliverInput, 'id' | 'createdAt' | 'tenantId' | 'conversationId' | 'channelId' | 'channel' | 'to' | 'failedReason' | 'messageTag'>;

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function bySentAt(a: InboundMessage, b: InboundMessage): number {
  return a.sentAt - b.sentAt;
}
