import { describe, expect, it } from 'vitest';
import { webhookEnvelope } from '../lib/tenant-events.ts';
import { MAX_RETRY_AFTER_MS, nextWebhookRetryDelay, refusedUrl } from './webhooks.ts';

describe('webhook delivery helpers', () => {
  it('refuses at send time what registration refuses, unless insecure endpoints are allowed (tests)', () => {
    expect(refusedUrl('https://crm.example.com/hook', false)).toBeUndefined();
    expect(refusedUrl('http://crm.example.com/hook', false)).toBe('the endpoint URL is not https');
    expect(refusedUrl('https://127.0.0.1:8443/hook', false)).toMatch(/loopback, private or link-local/);
    expect(refusedUrl('https://10.0.0.7/hook', false)).toMatch(/loopback/);
    expect(refusedUrl('nonsense', false)).toBe('the endpoint URL is not a URL');
    expect(refusedUrl('http://127.0.0.1:9000/hook', true)).toBeUndefined();
  });

  it('wraps an event as { id, type, createdAt, tenantId, data }', () => {
    const createdAt = new Date('2026-03-04T05:06:07.089Z');
    expect(webhookEnvelope({ id: 'e', type: 'document.indexed', createdAt, tenantId: 't', payload: { documentId: 'd' } })).toEqual({
      id: 'e', type: 'document.indexed', createdAt: '2026-03-04T05:06:07.089Z', tenantId: 't', data: { documentId: 'd' },
    });
  });

  it("waits at least the policy's backoff whatever Retry-After says, longer when it asks, at most an hour", () => {
    const policy = { initialIntervalMs: 30_000, maximumIntervalMs: 3_600_000 };
    expect(nextWebhookRetryDelay(1, 0, policy)).toBe(30_000);
    expect(nextWebhookRetryDelay(3, 1_000, policy)).toBe(120_000);
    expect(nextWebhookRetryDelay(1, 300_000, policy)).toBe(300_000);
    expect(nextWebhookRetryDelay(20, 0, policy)).toBe(3_600_000);
    expect(nextWebhookRetryDelay(1, 10 * 3_600_000, policy)).toBe(MAX_RETRY_AFTER_MS);
  });
});
