import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  classifyGraphError,
  DEFAULT_THROTTLE_DELAY_MS,
  GRAPH_PERMANENT_ERROR,
  GRAPH_THROTTLED_ERROR,
  GRAPH_TRANSIENT_ERROR,
  graphNetworkFailure,
  graphResponseFailure,
  MAX_THROTTLE_DELAY_MS,
  redact,
  throttleDelayMs,
} from './graph-errors.ts';

const errorBody = (error: Record<string, unknown>) => JSON.stringify({ error: { type: 'OAuthException', fbtrace_id: 'AbC123', ...error } });
const respond = (status: number, body: string, headers: Record<string, string> = {}) =>
  graphResponseFailure({ status, body, headers: new Headers(headers) }, { operation: 'Test send', secrets: ['EAAsecret-token'] });

describe('classifyGraphError', () => {
  it.each([
    // transient
    [500, 1, 'transient'],
    [500, 2, 'transient'],
    [503, null, 'transient'],
    [500, 999999, 'transient'], // unknown code, 5xx
    [400, 131000, 'transient'],
    [null, null, 'transient'], // no response at all
    // throttled
    [429, null, 'throttled'],
    [400, 4, 'throttled'],
    [400, 17, 'throttled'],
    [400, 32, 'throttled'],
    [400, 613, 'throttled'],
    [429, 80007, 'throttled'],
    [400, 130429, 'throttled'],
    [400, 131056, 'throttled'],
    // permanent
    [401, 190, 'permanent'],
    [403, 10, 'permanent'],
    [403, 200, 'permanent'],
    [403, 299, 'permanent'],
    [400, 100, 'permanent'],
    [400, 131026, 'permanent'],
    [400, 131047, 'permanent'],
    [400, 131051, 'permanent'],
    [400, 131052, 'permanent'],
    [400, 368, 'permanent'],
    [400, 551, 'permanent'],
    [500, 190, 'permanent'], // a known code wins over the status
    [404, null, 'permanent'], // unknown 4xx
    [400, 999999, 'permanent'],
  ] as const)('HTTP %s code %s → %s', (httpStatus, code, kind) => {
    expect(classifyGraphError({ httpStatus, code })).toBe(kind);
  });

  it('trusts is_transient', () => {
    expect(classifyGraphError({ httpStatus: 400, code: 100, isTransient: true })).toBe('transient');
  });
});

describe('graphResponseFailure', () => {
  it('makes a permanent error non-retryable with the reason in details', () => {
    const failure = respond(400, errorBody({ code: 131047, message: '(#131047) Re-engagement message', error_data: { details: 'More than 24 hours have passed' } }));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(failure.message).toBe('Test send failed (HTTP 400, code 131047): (#131047) Re-engagement message: More than 24 hours have passed');
    expect(failure.details).toEqual([
      { httpStatus: 400, code: 131047, subcode: null, message: '(#131047) Re-engagement message: More than 24 hours have passed', fbtraceId: 'AbC123' },
    ]);
  });

  it('keeps the subcode', () => {
    const failure = respond(400, errorBody({ code: 10, error_subcode: 2018278, message: '(#10) This message is sent outside of allowed window.' }));
    expect(failure.details?.[0]).toMatchObject({ code: 10, subcode: 2018278 });
    expect(failure.message).toContain('subcode 2018278');
  });

  it('retries a transient error with the policy backoff', () => {
    const failure = respond(500, errorBody({ code: 2, message: 'Service temporarily unavailable' }));
    expect(failure).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
    expect(failure.nextRetryDelay).toBeUndefined();
  });

  it('retries a body that is not a Graph error by its status', () => {
    expect(respond(502, '<html>Bad Gateway</html>')).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
    expect(respond(502, '<html>Bad Gateway</html>').details?.[0]).toMatchObject({ httpStatus: 502, code: null });
    expect(respond(404, '')).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
  });

  it('turns throttling into a later retry, honouring Retry-After', () => {
    const failure = respond(429, errorBody({ code: 130429, message: 'Rate limit hit' }), { 'retry-after': '42' });
    expect(failure).toMatchObject({ type: GRAPH_THROTTLED_ERROR, nonRetryable: false, nextRetryDelay: 42_000 });
    expect(respond(400, errorBody({ code: 4 })).nextRetryDelay).toBe(DEFAULT_THROTTLE_DELAY_MS);
  });

  it('never carries the access token', () => {
    const failure = respond(401, errorBody({ code: 190, message: 'Invalid token EAAsecret-token and EAAB1234567890abcdefghijklmn' }));
    expect(JSON.stringify({ m: failure.message, d: failure.details })).not.toMatch(/EAA/);
    expect(failure.message).toContain('[redacted]');
  });
});

describe('throttleDelayMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads Retry-After in seconds or as a date, within bounds', () => {
    expect(throttleDelayMs(new Headers({ 'retry-after': '5' }), now)).toBe(5000);
    expect(throttleDelayMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:02:00 GMT' }), now)).toBe(120_000);
    expect(throttleDelayMs(new Headers({ 'retry-after': '0' }), now)).toBe(1000);
    expect(throttleDelayMs(new Headers({ 'retry-after': '999999' }), now)).toBe(MAX_THROTTLE_DELAY_MS);
  });
  it("reads Meta's Business Use Case usage header", () => {
    const usage = JSON.stringify({ '123': [{ type: 'whatsapp', call_count: 100, estimated_time_to_regain_access: 3 }] });
    expect(throttleDelayMs(new Headers({ 'x-business-use-case-usage': usage }), now)).toBe(180_000);
  });
  it('defaults when neither is usable', () => {
    expect(throttleDelayMs(new Headers({ 'retry-after': 'soon', 'x-business-use-case-usage': '{oops' }), now)).toBe(DEFAULT_THROTTLE_DELAY_MS);
  });
});

describe('graphNetworkFailure', () => {
  it('retries timeouts and connection errors', () => {
    const timeout = graphNetworkFailure(Object.assign(new Error('x'), { name: 'TimeoutError' }), { operation: 'Test send' });
    expect(timeout).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false, message: 'Test send failed: no response before the timeout' });
    const refused = graphNetworkFailure(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') }), { operation: 'Test send' });
    expect(refused.message).toBe('Test send failed: fetch failed: connect ECONNREFUSED 127.0.0.1:1');
    expect(refused.details?.[0]).toMatchObject({ httpStatus: null, code: null });
  });
});

describe('redact', () => {
  it('removes given secrets and token-shaped strings', () => {
    expect(redact('a s3cr3t b', ['s3cr3t'])).toBe('a [redacted] b');
    expect(redact('token EAAGm0PX4ZCpsBAKZCZAzZBZBqZCZCdummytoken here')).toBe('token [redacted] here');
  });
});
