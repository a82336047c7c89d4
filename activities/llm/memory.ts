// The rolling summary of a conversation's older turns. A model writes it when the tenant has
// one and it answers; otherwise (local provider, budget spent, provider failing) it is kept
// extractively: the previous summary plus the folded turns, one short line each, trimmed from
// the front to a fixed size. A summary is a convenience: it never fails the turn.
import type { Turn } from '../../workflows/types.ts';

export const SUMMARY_MAX_CHARS = 1500;
const LINE_MAX_CHARS = 160;

const speaker = (t: Turn) => (t.role === 'user' ? 'Customer' : t.role === 'agent' ? 'Agent' : 'Assistant');

export function transcript(turns: Turn[]): string {
  return turns.map((t) => `${speaker(t)}: ${t.text.replace(/\s+/g, ' ').trim()}`).join('\n');
}

export function extractiveSummary(previous: string | undefined, turns: Turn[]): string {
  const lines = [
    ...(previous ? previous.split('\n') : []),
    ...turns.map((t) => {
      const text = t.text.replace(/\s+/g, ' ').trim();
      return `${speaker(t)}: ${text.length > LINE_MAX_CHARS ? `${text.slice(0, LINE_MAX_CHARS - 1)}…` : text}`;
    }),
  ];
  while (lines.length > 1 && lines.join('\n').length > SUMMARY_MAX_CHARS) lines.shift();
  return lines.join('\n').slice(-SUMMARY_MAX_CHARS);
}

export const SUMMARY_SYSTEM_PROMPT =
  'You maintain the running summary of a customer-service chat. Given the current summary and the next messages, ' +
  'write the updated summary: the facts the customer gave (names, order numbers, products, dates), what they asked, ' +
  `what was answered or promised, and what is still open. At most ${SUMMARY_MAX_CHARS} characters, plain text, no preamble.`;
