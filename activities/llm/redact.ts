// A model call with the customer's personal data left out (tenant setting privacy.redactPii):
// every text of the request — system prompt (passages, summary), messages, the model's earlier
// tool call arguments and the tools' results — goes with placeholders (lib/pii.ts), and the
// answer's text and tool call arguments come back with the values restored, so the customer
// reads their own values and a tool runs with the real ones. A streamed answer's pieces are
// restored as they come (lib/pii.ts restoringStream).
import { createRedaction, restoringStream, type Redaction } from '../../lib/pii.ts';
import type { CountryCode } from 'libphonenumber-js';
import type { ChatMessage, ChatRequest, ChatResult } from './provider.ts';

function redactMessage(m: ChatMessage, r: Redaction): ChatMessage {
  if (m.role === 'tool') return { ...m, content: r.redact(m.content) };
  if (m.role === 'assistant') return { ...m, text: r.redact(m.text), ...(m.toolCalls && { toolCalls: m.toolCalls.map((c) => ({ ...c, arguments: r.redact(c.arguments) })) }) };
  return { ...m, text: r.redact(m.text) };
}

/** Runs `complete` on the request with placeholders, and gives its result with the values back. */
export async function completeRedacted(request: ChatRequest, country: CountryCode | undefined, complete: (request: ChatRequest) => Promise<ChatResult>): Promise<ChatResult> {
  const r = createRedaction(country);
  // A streamed answer's pieces reach the listener restored too, never half a placeholder.
  const stream = request.onText && restoringStream(r, request.onText);
  const result = await complete({
    ...request, system: r.redact(request.system), messages: request.messages.map((m) => redactMessage(m, r)), ...(stream && { onText: (piece: string) => stream.write(piece) }),
  });
  stream?.end();
  return { ...result, text: r.restore(result.text), toolCalls: result.toolCalls.map((c) => ({ ...c, arguments: r.restore(c.arguments) })) };
}
