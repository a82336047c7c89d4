// What a model is told: the system prompt from the tenant's settings (persona or brand, tone,
// locale, house rules), the retrieved passages numbered for citation, a rolling summary of older
// turns, the recent turns verbatim, then the question (and any tool calls of this turn).
import type { TenantSettings } from '../../lib/tenant-settings.ts';
import type { Passage } from '../rag.ts';
import type { InboundKind, ToolStep, Turn } from '../../workflows/types.ts';
import type { ChatImage, ChatMessage } from './provider.ts';

/** What the model call adds from the turn's media (activities/llm/turn-media.ts). */
export interface TurnContent {
  /** Images the customer sent, given to a vision-capable model with the question. */
  images?: ChatImage[];
  /** Media named in words: documents, videos, files that could not be received. */
  mediaNotes?: string[];
}

export interface PromptInput extends TurnContent {
  settings: TenantSettings;
  question: string;
  passages: Passage[];
  history: Turn[];
  summary?: string;
  attachments: InboundKind[];
  handoffKeyword: string;
  steps?: ToolStep[];
}

const PASSAGE_MAX_CHARS = 2000;

export function systemPrompt(input: PromptInput): string {
  const { systemPrompt: sp } = input.settings.llm;
  const who = sp.persona ?? (sp.brand ? `You are the customer assistant of ${sp.brand}.` : 'You are a helpful customer assistant.');
  const lines = [who];
  if (sp.tone) lines.push(`Tone: ${sp.tone}.`);
  lines.push(`Answer in the language the customer writes in; if unsure, use ${input.settings.locale}. Keep answers short enough for a chat message.`);
  if (sp.instructions) lines.push(sp.instructions);
  const dontKnow = sp.fallback ?? `Say that you don't know and offer a person: the customer can reply "${input.handoffKeyword}".`;
  if (input.passages.length > 0) {
    lines.push(
      'Answer from the numbered passages below when they are relevant, and cite each passage you use inline as [n]. ' +
        `Do not invent facts that are not in them. If they do not answer the question: ${dontKnow}`,
    );
    lines.push(
      'Passages:\n' +
        input.passages
          .map((p, i) => {
            const where = [p.title, p.page ? `p. ${p.page}` : null, p.section].filter(Boolean).join(', ');
            return `[${i + 1}] (${where})\n${p.content.slice(0, PASSAGE_MAX_CHARS)}`;
          })
          .join('\n\n'),
    );
  } else {
    lines.push(`No passages from the company's documents matched this question. If you cannot answer from the conversation: ${dontKnow}`);
  }
  if (input.summary) lines.push(`Summary of the earlier conversation:\n${input.summary}`);
  return lines.join('\n\n');
}

export function chatMessages(input: PromptInput): ChatMessage[] {
  const turns = input.history.slice(-input.settings.llm.historyTurns);
  const messages: ChatMessage[] = turns.map((t) =>
    t.role === 'user' ? { role: 'user', text: t.text } : { role: 'assistant', text: t.role === 'agent' ? `(a human agent wrote) ${t.text}` : t.text },
  );
  const described = [input.question.trim(), ...(input.mediaNotes ?? [])].filter(Boolean).join('\n');
  const question = described || `(the customer sent ${input.attachments.map((a) => `a ${a}`).join(', ') || 'a message'} without text)`;
  const last = messages.at(-1);
  if (!(last?.role === 'user' && input.question && input.question.includes(last.text) && described === input.question.trim())) messages.push({ role: 'user', text: question });
  const asked = messages.at(-1);
  if (input.images?.length && asked?.role === 'user') asked.images = input.images;
  for (const step of input.steps ?? []) messages.push(step.role === 'assistant' ? { role: 'assistant', text: step.text, toolCalls: step.toolCalls } : step);
  return messages;
}

/** A smaller prompt after a context-length error: fewer passages, only the latest turns. */
export function trimmed(input: PromptInput): PromptInput {
  return { ...input, passages: input.passages.slice(0, Math.max(1, Math.floor(input.passages.length / 2))), history: input.history.slice(-2) };
}

/** The passages the text cites as [n], and the text with a Sources list (as the local provider writes it). */
export function withSources(text: string, passages: Passage[]): { text: string; citations: { documentId: string; chunkId: string; title: string; page: number | null }[] } {
  const cited = [...new Set([...text.matchAll(/\[(\d{1,2})\]/g)].map((m) => Number(m[1])))]
    .filter((n) => n >= 1 && n <= passages.length)
    .sort((a, b) => a - b);
  if (cited.length === 0) return { text: text.trim(), citations: [] };
  const citations = cited.map((n) => ({ documentId: passages[n - 1]!.documentId, chunkId: passages[n - 1]!.chunkId, title: passages[n - 1]!.title, page: passages[n - 1]!.page }));
  if (/\n\s*Sources:/i.test(text)) return { text: text.trim(), citations };
  const sources = cited.map((n, i) => `[${n}] ${citations[i]!.title}${citations[i]!.page ? `, p. ${citations[i]!.page}` : ''}`).join('\n');
  return { text: `${text.trim()}\n\nSources:\n${sources}`, citations };
}
