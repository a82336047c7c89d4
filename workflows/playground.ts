// The playground: one assistant turn exactly as a customer's conversation runs it — the tenant's
// settings, the handoff keywords, retrieval, prompt, model and fallback, tools (tenant functions
// included) and budget, through the same activities (workflows/assistant-reply.ts) — but nothing
// is stored as a message or sent on a channel, and no conversation is created or changed. The API
// starts it on the conversations queue and waits for its result (POST /api/v1/playground/messages).
// Model spend is recorded in `usage` like any conversation's.
import { proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { GeneratedReply } from '../activities/llm/index.ts';
import { assistantTurn } from './assistant-reply.ts';
import { HANDOFF_NOTICE } from './conversation-messages.ts';
import { Conversation } from './conversation-state.ts';
import type { ToolCall } from './types.ts';

/** Bounded like the API's wait: a database that is down fails the run rather than hang it. */
const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumAttempts: 5 },
});

export const playgroundWorkflowId = (tenantId: string, requestId: string) => `playground:${tenantId}:${requestId}`;

export interface PlaygroundTurn {
  role: 'user' | 'assistant';
  text: string;
}

export interface PlaygroundInput {
  tenantId: string;
  message: string;
  /** The earlier turns of this playground chat, oldest first (the conversation's memory). */
  previous: PlaygroundTurn[];
}

export interface PlaygroundSource {
  documentId: string;
  chunkId: string;
  title: string;
  page: number | null;
  section: string | null;
  score: number;
  excerpt: string;
  /** The reply cites it. */
  cited: boolean;
}

export interface PlaygroundToolCall {
  name: string;
  /** The model's arguments, as JSON text. */
  arguments: string;
  /** What the model was told, or that the call handed the conversation to a person. */
  outcome: { kind: 'result'; content: string; isError: boolean } | { kind: 'handoff' };
}

export interface PlaygroundResult {
  /**
   * reply: the model answered; handoff: the customer would be handed to a person (a keyword, or
   * the model asked); budget_exhausted: no model was called (the tenant's budget message);
   * no_answer: every provider failed or the tool loop ran out (the tenant's polite message).
   */
  outcome: 'reply' | 'handoff' | 'budget_exhausted' | 'no_answer';
  /** What the customer would read. */
  text: string;
  handoffReason: string | null;
  sources: PlaygroundSource[];
  toolCalls: PlaygroundToolCall[];
  /** The provider and model of the last model call (null when none answered). */
  provider: string | null;
  model: string | null;
  modelCalls: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** Characters of a passage shown with the answer. */
const EXCERPT_CHARS = 400;

export async function playground(input: PlaygroundInput): Promise<PlaygroundResult> {
  const { tenantId, message } = input;
  const settings = await store.loadConversationSettings.executeWithOptions({ summary: "load the tenant's conversation settings" }, [tenantId]);
  const memory = new Conversation();
  const startedAt = workflowInfo().startTime.getTime();
  memory.turns = input.previous.map((t, i) => ({ ...t, at: startedAt - (input.previous.length - i) }));

  const result: PlaygroundResult = {
    outcome: 'reply', text: '', handoffReason: null, sources: [], toolCalls: [], provider: null, model: null, modelCalls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0,
  };
  // The conversation's own guardrail, before any model: the keyword hands over at once.
  if (memory.asksForHuman(message, settings.handoffKeywords)) {
    return { ...result, outcome: 'handoff', text: HANDOFF_NOTICE, handoffReason: 'keyword' };
  }

  let last: GeneratedReply | undefined;
  const outcome = await assistantTurn(
    { tenantId, question: message, passages: [], attachments: [], handoffKeyword: settings.handoffKeywords[0] ?? 'human', policy: settings.turn, prepare: { retrieve: true } },
    {
      memory,
      requestHuman: (reason) => void (result.handoffReason ??= reason),
      observe: {
        modelReply(reply) {
          last = reply;
          result.modelCalls++;
          if (reply.passages) result.sources = reply.passages.map((p) => ({ documentId: p.documentId, chunkId: p.chunkId, title: p.title, page: p.page, section: p.section, score: p.score, excerpt: p.content.slice(0, EXCERPT_CHARS), cited: false }));
          result.promptTokens += reply.usage?.promptTokens ?? 0;
          result.completionTokens += reply.usage?.completionTokens ?? 0;
          result.costUsd += reply.usage?.costUsd ?? 0;
        },
        toolResult(call: ToolCall, outcome) {
          result.toolCalls.push({ name: call.name, arguments: call.arguments, outcome: outcome === 'handoff' ? { kind: 'handoff' } : { kind: 'result', ...outcome } });
        },
      },
    },
  );
  result.provider = last?.provider ?? null;
  result.model = last?.model ?? null;
  result.costUsd = Math.round(result.costUsd * 1e6) / 1e6;
  if (outcome === null) return { ...result, outcome: 'handoff', text: HANDOFF_NOTICE };
  // A citation names its passage when the provider says which (chunkId), else its document and page.
  const cites = (c: { documentId: string; page: number | null; chunkId?: string }, s: PlaygroundSource) =>
    c.chunkId ? c.chunkId === s.chunkId : c.documentId === s.documentId && c.page === s.page;
  for (const source of result.sources) source.cited = (last?.citations ?? []).some((c) => cites(c, source));
  const kind = last?.outcome === 'reply' ? 'reply' : last?.outcome === 'budget_exhausted' ? 'budget_exhausted' : 'no_answer';
  return { ...result, outcome: kind, text: outcome.text };
}
