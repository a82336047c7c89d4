// Streaming through the official SDKs against the fake vendors' server-sent events: the pieces
// make up the answer, tool calls are assembled, usage is read, a stream that breaks off is a
// transient failure; and a redacted call's pieces come back restored, never half a placeholder.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedaction, restoringStream } from '../../lib/pii.ts';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic } from '../../test/fakes/anthropic.ts';
import type { FakeLlmServer } from '../../test/fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from '../../test/fakes/openai.ts';
import { createAnthropicProvider } from './anthropic.ts';
import { createOpenAiProvider } from './openai.ts';
import { ProviderError, type ChatProvider, type ChatRequest } from './provider.ts';
import { completeRedacted } from './redact.ts';

const ANSWER = 'The store opens at 9 am on weekdays and at 11 am on Sundays.';

describe.each([
  ['openai', () => startFakeOpenAi(), (url: string) => createOpenAiProvider({ apiKey: FAKE_OPENAI_KEY, baseURL: url })],
  ['anthropic', () => startFakeAnthropic(), (url: string) => createAnthropicProvider({ apiKey: FAKE_ANTHROPIC_KEY, baseURL: url })],
] as const)('%s streaming', (_name, start, provider) => {
  let fake: FakeLlmServer;
  let client: ChatProvider;
  beforeAll(async () => {
    fake = await start();
    client = provider(fake.url);
  });
  afterAll(() => fake?.close());
  beforeEach(() => fake.reset());

  const request = (pieces: string[], tools: string[] = []): ChatRequest => ({
    model: 'm', system: 'Be brief.', messages: [{ role: 'user', text: 'When do you open?' }], temperature: 0, maxTokens: 100, timeoutMs: 10_000,
    tools: tools.map((name) => ({ name, description: name, parameters: { type: 'object', properties: {} } })),
    onText: (p) => pieces.push(p),
  });

  it('hands over the text in pieces that make up the answer, with usage', async () => {
    fake.respond(() => ({ text: ANSWER }));
    const pieces: string[] = [];
    const result = await client.complete(request(pieces));
    expect(result.text).toBe(ANSWER);
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.join('')).toBe(ANSWER);
    expect(result.promptTokens).toBeGreaterThan(0);
    expect(result.completionTokens).toBeGreaterThan(0);
    expect((fake.requests[0]!.body as { stream?: unknown }).stream).toBe(true);
  });

  it('assembles a tool call and stops handing over text once it begins', async () => {
    fake.respond(() => ({ text: 'Let me look.', toolCalls: [{ name: 'search_knowledge', arguments: { query: 'opening hours' } }] }));
    const pieces: string[] = [];
    let toolRounds = 0;
    const result = await client.complete({ ...request(pieces, ['search_knowledge']), onToolCall: () => toolRounds++ });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ name: 'search_knowledge' });
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ query: 'opening hours' });
    expect(toolRounds).toBe(1);
    expect(pieces.join('')).toBe('Let me look.');
  });

  it('fails a stream that breaks off as transient, never as a short answer', async () => {
    fake.respond(() => ({ text: ANSWER }));
    fake.cutStreams(1);
    const pieces: string[] = [];
    const failure = await client.complete(request(pieces)).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ProviderError);
    expect((failure as ProviderError).kind).toBe('transient');
    expect(ANSWER.startsWith(pieces.join(''))).toBe(true);
  });

  it('restores a redacted call\'s pieces, holding a placeholder split across pieces until it is whole', async () => {
    fake.respond((call) => ({ text: `We will write to ${/\[EMAIL_\d\]/.exec(call.messages[0]!.text)?.[0]} today.` }));
    const pieces: string[] = [];
    const req = { ...request(pieces), messages: [{ role: 'user' as const, text: 'Write to ann@example.com' }] };
    const result = await completeRedacted(req, undefined, (r) => client.complete(r));
    expect(result.text).toBe('We will write to ann@example.com today.');
    expect(pieces.join('')).toBe(result.text);
    expect(pieces.some((p) => p.includes('['))).toBe(false);
  });
});

describe('restoringStream', () => {
  it('never passes on part of a placeholder, and passes on text that only looked like one', () => {
    const r = createRedaction();
    r.redact('mail ann@example.com');
    const out: string[] = [];
    const stream = restoringStream(r, (t) => out.push(t));
    for (const piece of ['Write to [EM', 'AIL', '_1', '] or [see', ' notes] [A']) stream.write(piece);
    expect(out.join('')).toBe('Write to ann@example.com or [see notes] ');
    stream.end();
    expect(out.join('')).toBe('Write to ann@example.com or [see notes] [A');
  });
});
