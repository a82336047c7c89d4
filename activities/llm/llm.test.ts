import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { DEFAULT_TENANT_SETTINGS, tenantSettingsSchema } from '../../lib/tenant-settings.ts';
import { anthropicError, toAnthropicMessages } from './anthropic.ts';
import { CircuitBreakers } from './breaker.ts';
import { extractiveSummary, SUMMARY_MAX_CHARS } from './memory.ts';
import { openAiError } from './openai.ts';
import { chatMessages, systemPrompt, withSources } from './prompt.ts';
import { ProviderError, retryAfterMs } from './provider.ts';
import { costUsd, priceOf } from './usage.ts';

const passage = (n: number, title = `Doc ${n}`) => ({ chunkId: `c${n}`, documentId: `d${n}`, title, page: n === 2 ? 7 : null, section: null, content: `Content ${n}.`, score: 1 });

describe('provider errors', () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  it('classifies OpenAI errors: 429 with retry-after, 5xx, context length, 401', () => {
    const e429 = openAiError(OpenAI.APIError.generate(429, { error: { message: 'slow down' } }, undefined, headers({ 'retry-after': '7' }))) as ProviderError;
    expect([e429.kind, e429.retryAfterMs]).toEqual(['throttled', 7000]);
    expect((openAiError(OpenAI.APIError.generate(503, undefined, undefined, headers({}))) as ProviderError).kind).toBe('transient');
    expect((openAiError(OpenAI.APIError.generate(400, { error: { message: 'too long', code: 'context_length_exceeded' } }, undefined, headers({}))) as ProviderError).kind).toBe('context_length');
    expect((openAiError(OpenAI.APIError.generate(401, { error: { message: 'bad key' } }, undefined, headers({}))) as ProviderError).kind).toBe('rejected');
    expect((openAiError(new OpenAI.APIConnectionError({ message: 'refused' })) as ProviderError).kind).toBe('transient');
    const other = new Error('x');
    expect(openAiError(other)).toBe(other);
  });
  it('classifies Anthropic errors: overloaded 529, prompt too long, 403', () => {
    expect((anthropicError(Anthropic.APIError.generate(529, { error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, headers({}))) as ProviderError).kind).toBe('throttled');
    expect((anthropicError(Anthropic.APIError.generate(400, { error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }, undefined, headers({}))) as ProviderError).kind).toBe('context_length');
    expect((anthropicError(Anthropic.APIError.generate(403, { error: { type: 'permission_error', message: 'no' } }, undefined, headers({}))) as ProviderError).kind).toBe('rejected');
  });
  it('reads retry-after as seconds, a date, or retry-after-ms', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }), Date.parse('2026-01-01T00:00:00Z'))).toBe(10_000);
    expect(retryAfterMs(headers({}))).toBeUndefined();
  });
});

describe('Anthropic message shape', () => {
  it('alternates roles, starts with the user, and sends tool results as tool_result blocks', () => {
    const msgs = toAnthropicMessages([
      { role: 'assistant', text: 'Hello! (greeting before the user wrote)' },
      { role: 'user', text: 'a' },
      { role: 'user', text: 'b' },
      { role: 'assistant', text: '', toolCalls: [{ id: 't1', name: 'f', arguments: '{"x":1}' }] },
      { role: 'tool', callId: 't1', name: 'f', content: 'ok', isError: false },
    ]);
    expect(msgs.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(msgs[0]!.content).toHaveLength(2);
    expect(msgs[1]!.content).toEqual([{ type: 'tool_use', id: 't1', name: 'f', input: { x: 1 } }]);
    expect(msgs[2]!.content).toEqual([{ type: 'tool_result', tool_use_id: 't1', content: 'ok', is_error: false }]);
  });
});

describe('prompt', () => {
  const settings = tenantSettingsSchema.parse({ locale: 'pt-BR', llm: { provider: 'openai', historyTurns: 2, systemPrompt: { brand: 'ACME', tone: 'warm' } } });
  const base = { settings, question: 'When?', passages: [passage(1), passage(2)], attachments: [], handoffKeyword: 'human' };
  it('puts brand, tone, locale, numbered passages and the summary in the system prompt', () => {
    const s = systemPrompt({ ...base, history: [], summary: 'Ana asked about order 7.' });
    expect(s).toContain('customer assistant of ACME');
    expect(s).toContain('Tone: warm.');
    expect(s).toContain('pt-BR');
    expect(s).toContain('[1] (Doc 1)\nContent 1.');
    expect(s).toContain('[2] (Doc 2, p. 7)');
    expect(s).toContain('Ana asked about order 7.');
  });
  it('sends the last turns verbatim and the question last, once', () => {
    const history = [
      { role: 'user' as const, text: 'old', at: 1 },
      { role: 'assistant' as const, text: 'answer', at: 2 },
      { role: 'agent' as const, text: 'agent here', at: 3 },
      { role: 'user' as const, text: 'When?', at: 4 },
    ];
    expect(chatMessages({ ...base, history })).toEqual([
      { role: 'assistant', text: '(a human agent wrote) agent here' },
      { role: 'user', text: 'When?' },
    ]);
  });
  it('lists the cited passages as sources', () => {
    expect(withSources('Yes [2], see also [9].', [passage(1), passage(2)])).toEqual({
      text: 'Yes [2], see also [9].\n\nSources:\n[2] Doc 2, p. 7',
      citations: [{ documentId: 'd2', chunkId: 'c2', title: 'Doc 2', page: 7 }],
    });
    expect(withSources('No citation.', [passage(1)]).citations).toEqual([]);
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one trial through after the open time, closes on success', () => {
    let now = 0;
    const b = new CircuitBreakers({ threshold: 2, openMs: 100 }, () => now);
    b.failure('k');
    expect(b.allow('k')).toBe(true);
    b.failure('k');
    expect(b.state('k')).toBe('open');
    expect(b.allow('k')).toBe(false);
    now = 150;
    expect(b.allow('k')).toBe(true); // the trial
    expect(b.allow('k')).toBe(false); // others wait for it
    b.failure('k');
    expect(b.allow('k')).toBe(false);
    now = 300;
    expect(b.allow('k')).toBe(true);
    b.success('k');
    expect(b.state('k')).toBe('closed');
    expect(b.allow('other')).toBe(true);
  });
  it('a success resets the count', () => {
    const b = new CircuitBreakers({ threshold: 2, openMs: 100 }, () => 0);
    b.failure('k');
    b.success('k');
    b.failure('k');
    expect(b.allow('k')).toBe(true);
  });
});

describe('usage prices', () => {
  it('prices by the longest known prefix, unknown models at the provider default', () => {
    expect(priceOf('openai', 'gpt-4o-mini-2024-07-18')).toEqual([0.15, 0.6]);
    expect(priceOf('openai', 'gpt-4o-2024-08-06')).toEqual([2.5, 10]);
    expect(priceOf('anthropic', 'claude-sonnet-4-5-20250929')).toEqual([3, 15]);
    expect(priceOf('anthropic', 'mystery')).toEqual([3, 15]);
    expect(costUsd('openai', 'gpt-4o-mini', 1_000_000, 1_000_000)).toBe(0.75);
  });

  it('prices embeddings, and rounds a cost up to the micro-dollar so that small calls never add up to nothing', () => {
    expect(costUsd('openai', 'text-embedding-3-small', 1_000_000, 0)).toBe(0.02);
    expect(costUsd('openai', 'text-embedding-3-small', 12, 0)).toBe(0.000001);
    expect(costUsd('openai', 'gpt-4o-mini', 1000, 100)).toBe(0.00021);
    expect(costUsd('openai', 'gpt-4o-mini', 0, 0)).toBe(0);
  });
});

describe('settings', () => {
  it('defaults to the local provider with a local fallback', () => {
    expect(DEFAULT_TENANT_SETTINGS.llm).toMatchObject({ provider: 'local', fallbackProvider: 'local', maxToolIterations: 5, turnBudgetSeconds: 60 });
  });
});

describe('extractive summary', () => {
  it('appends the folded turns and keeps the newest within the size cap', () => {
    const s = extractiveSummary('Customer: hi', [{ role: 'user', text: 'order 7', at: 1 }, { role: 'assistant', text: 'shipped', at: 2 }]);
    expect(s).toBe('Customer: hi\nCustomer: order 7\nAssistant: shipped');
    const long = extractiveSummary(undefined, Array.from({ length: 100 }, (_, i) => ({ role: 'user' as const, text: `message ${i} `.repeat(10), at: i })));
    expect(long.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(long).toContain('message 99');
  });
});
