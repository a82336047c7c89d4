// One assistant turn, as the conversation workflow runs it: the model answers, or asks for tools
// that run as their own activities, until it answers, the tenant's iteration cap is reached, or
// the turn's time budget is spent. Failures never end in silence:
//
//   primary provider ──fails for good──▶ fallback provider ──fails too──▶ the tenant's polite message
//
// "For good" is Temporal's verdict: a non-retryable failure (rejected request, open circuit
// breaker, a retry-after past the deadline), or retries exhausted, or the primary's share of the
// turn's budget (scheduleToCloseTimeout) spent. Once the primary failed in a turn, the fallback
// answers the rest of that turn.
//
// Memory: the last `historyTurns` turns (tenant setting) go to the model verbatim; older ones are
// folded into a rolling summary carried in the conversation's state (refreshSummary below).
import { ActivityFailure, ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { AcknowledgeInput, DeliverResult } from '../activities/channels/index.ts';
import type { GeneratedReply, GenerateReplyInput, LlmRoute, TurnPolicy } from '../activities/llm/index.ts';
import type { Passage } from '../activities/rag.ts';
import type { InboundKind, ToolCall, ToolStep, Turn } from './types.ts';

const summaries = proxyActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: { initialInterval: '1 second', maximumAttempts: 2 } });
const retrieval = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumAttempts: 3 } });
const functions = proxyActivities<Activities>({
  // The function's own timeout (at most 30 s) is enforced inside; this bounds the whole attempt.
  startToCloseTimeout: '35 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** Time kept for the fallback out of the turn's budget: the primary's retries stop before it. */
const FALLBACK_RESERVE_MS = 15_000;
/** Characters of one tool result the model sees (the activity caps results too). */
const TOOL_RESULT_MAX_CHARS = 8_000;

export interface AssistantTurn {
  tenantId: string;
  question: string;
  passages: Passage[];
  attachments: InboundKind[];
  handoffKeyword: string;
  /** From the tenant's settings, which the conversation already holds. */
  policy: TurnPolicy;
  /**
   * Work the first model call does before it answers, in the same activity: retrieve the
   * passages for the question (they replace `passages`), and acknowledge the user's messages
   * (read receipt, typing indicator) while it thinks. Sent until a call has succeeded.
   */
  prepare?: { retrieve: boolean; acknowledge?: AcknowledgeInput };
  /** Where the reply goes: the model call that answers also stores and sends it (one activity). */
  deliver?: GenerateReplyInput['deliver'];
  /** The turn's media messages, read by every model call of the turn (activities/llm/turn-media.ts). */
  media?: GenerateReplyInput['media'];
}

/** The turn's reply, and what became of it when a model call delivered it; null when handed to a person. */
export type AssistantOutcome = { text: string; delivered?: DeliverResult } | null;

/** The conversation's memory (the Conversation state class): verbatim turns and a rolling summary. */
export interface ConversationMemory {
  readonly turns: Turn[];
  readonly summary: string | null;
  turnsToSummarize(keep: number): Turn[];
  summarized(summary: string, count: number): void;
}

export interface AssistantHooks {
  memory: ConversationMemory;
  /** The model called request_human: the conversation starts a handoff. */
  requestHuman(reason: string): void;
  /** Sees each step as it completes (the playground shows them); changes nothing of the turn. */
  observe?: TurnObserver;
}

export interface TurnObserver {
  /** A model call answered (a reply, tool calls, or the budget's refusal). */
  modelReply(reply: GeneratedReply): void;
  /** A tool the model asked for ran: its result as the model sees it, or the handoff. */
  toolResult(call: ToolCall, result: { content: string; isError: boolean } | 'handoff'): void;
}

/** The text to send, or null when the model handed the conversation to a person (the first version's form). */
export async function assistantReply(input: AssistantTurn, hooks: AssistantHooks): Promise<string | null> {
  return (await assistantTurn(input, hooks))?.text ?? null;
}

/** Runs the turn; with `deliver`, the answering model call sends the reply too. */
export async function assistantTurn(input: AssistantTurn, hooks: AssistantHooks): Promise<AssistantOutcome> {
  const { prepare, deliver, ...request } = input;
  const { policy } = input;
  const deadline = Date.now() + policy.turnBudgetMs;
  await refreshSummary(input.tenantId, hooks.memory, policy.historyTurns);
  const turn = { ...request, history: hooks.memory.turns, ...(hooks.memory.summary !== null && { summary: hooks.memory.summary }) };
  const passages = [...turn.passages];
  let prepared = !prepare;
  const steps: ToolStep[] = [];
  let route: LlmRoute = 'primary';

  for (let iteration = 0; iteration < policy.maxToolIterations; iteration++) {
    const reply = await modelStep();
    if (reply) hooks.observe?.modelReply(reply);
    if (!reply) return { text: policy.unavailableMessage };
    if (reply.outcome !== 'tool_calls') return { text: reply.text, ...(reply.delivered && { delivered: reply.delivered }) };
    steps.push({ role: 'assistant', text: reply.text, toolCalls: reply.toolCalls });
    for (const call of reply.toolCalls) {
      const result = await runTool(call);
      hooks.observe?.toolResult(call, result);
      if (result === 'handoff') return null;
      steps.push({ role: 'tool', callId: call.id, name: call.name, content: result.content.slice(0, TOOL_RESULT_MAX_CHARS), isError: result.isError });
    }
  }
  log.warn('tool iteration cap reached', { maxToolIterations: policy.maxToolIterations });
  return { text: `Sorry, I couldn't finish looking that up. Shall I get a person to help? Reply "${turn.handoffKeyword}" and someone will take over.` };

  /** One model call: the primary route, then (once it failed for good) the fallback; null if both failed. */
  async function modelStep(): Promise<GeneratedReply | null> {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining < 1000) return null;
      const fallbackLeft = route === 'primary' && policy.fallbackDiffers;
      const budget = fallbackLeft ? Math.max(1000, remaining - Math.min(FALLBACK_RESERVE_MS, remaining / 3)) : remaining;
      const llm = proxyActivities<Activities>({
        // A call that delivers its reply keeps time after the model for the channel's send, and
        // heartbeats, so that a dead worker's attempt is retried within 15 s.
        startToCloseTimeout: deliver ? '45 seconds' : '30 seconds',
        ...(deliver && { heartbeatTimeout: '15 seconds' }),
        scheduleToCloseTimeout: budget,
        retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: route === 'primary' ? 5 : 2 },
      });
      const preparation = prepared ? {} : { ...(prepare!.retrieve && { retrieve: { question: turn.question } }), ...(prepare!.acknowledge && { acknowledge: prepare!.acknowledge }) };
      try {
        const reply = await llm.generateReply.executeWithOptions({ summary: modelSummary(route, 'retrieve' in preparation, 'acknowledge' in preparation, !!deliver) }, [
          { ...turn, passages, route, steps, tools: true, deadline: Date.now() + budget, ...preparation, ...(deliver && { deliver }) },
        ]);
        if (!prepared && reply.passages) passages.splice(0, passages.length, ...reply.passages);
        prepared = true;
        return reply;
      } catch (err) {
        const cause = err instanceof ActivityFailure ? err.cause : err;
        log.warn('model call failed', { route, failure: cause instanceof ApplicationFailure ? cause.type : String(cause) });
        if (route === 'fallback' || !policy.fallbackDiffers) return null;
        route = 'fallback';
      }
    }
  }

  async function runTool(call: ToolCall): Promise<{ content: string; isError: boolean } | 'handoff'> {
    const args = parseArguments(call.arguments);
    if (call.name === 'request_human') {
      hooks.requestHuman(typeof args?.reason === 'string' && args.reason ? args.reason : 'assistant');
      return 'handoff';
    }
    if (call.name === 'search_knowledge') {
      if (typeof args?.query !== 'string' || !args.query.trim()) return { content: 'invalid arguments: "query" (string) is required', isError: true };
      let found: Passage[];
      try {
        found = await retrieval.retrieveContext.executeWithOptions({ summary: 'knowledge search asked for by the model' }, [{ tenantId: turn.tenantId, question: args.query }]);
      } catch (err) {
        // The database is down or the embedder failed for good: the model hears it and answers without.
        log.warn('knowledge search failed', { error: String(err instanceof ActivityFailure ? err.cause : err) });
        return { content: 'The knowledge search is unavailable right now.', isError: true };
      }
      if (found.length === 0) return { content: 'No passages matched.', isError: false };
      // Numbered after the turn's passages, so the model cites them the same way.
      const lines = found.map((p) => {
        let n = passages.findIndex((q) => q.chunkId === p.chunkId) + 1;
        if (n === 0) n = passages.push(p);
        return `[${n}] (${p.title}${p.page ? `, p. ${p.page}` : ''})\n${p.content}`;
      });
      return { content: lines.join('\n\n'), isError: false };
    }
    try {
      return await functions.callTenantFunction.executeWithOptions({ summary: `tenant function ${call.name}` }, [
        { tenantId: turn.tenantId, name: call.name, arguments: call.arguments, callId: call.id },
      ]);
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      return { content: `the function failed: ${cause instanceof Error ? cause.message : String(cause)}`, isError: true };
    }
  }
}

/**
 * Keeps the last `keep` turns verbatim and folds older ones into the rolling summary once a
 * batch of them is due. The summary's activity never fails a turn: if it cannot run at all,
 * the turns stay verbatim (bounded) and the next answer tries again.
 */
async function refreshSummary(tenantId: string, memory: ConversationMemory, keep: number): Promise<void> {
  const fold = memory.turnsToSummarize(keep);
  if (fold.length === 0) return;
  try {
    const summary = await summaries.summarizeTurns.executeWithOptions({ summary: `fold ${fold.length} older turns into the summary` }, [
      { tenantId, turns: fold, ...(memory.summary !== null && { summary: memory.summary }) },
    ]);
    memory.summarized(summary, fold.length);
  } catch (err) {
    log.warn('conversation summary not refreshed', { error: String(err) });
  }
}

/**
 * What a model call does, for the Temporal UI's event list (an activity summary: never customer
 * text, which stays in the encrypted payloads).
 */
function modelSummary(route: LlmRoute, retrieves: boolean, acknowledges: boolean, delivers: boolean): string {
  const steps = [...(retrieves ? ['retrieve'] : []), ...(acknowledges ? ['read receipt'] : []), 'answer', ...(delivers ? ['send'] : [])];
  return `${route} model: ${steps.join(', ')}`;
}

function parseArguments(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
