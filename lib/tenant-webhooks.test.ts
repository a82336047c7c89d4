import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature, webhookEndpointInputSchema, webhookEndpointPatchSchema } from './tenant-webhooks.ts';

const SECRET = 'whsec_test-secret';
const body = JSON.stringify({ id: 'e1', type: 'message.received', createdAt: '2026-01-01T00:00:00.000Z', tenantId: 't', data: { text: 'héllo' } });

describe('webhook signatures', () => {
  it('signs "<t>.<raw body>" with HMAC-SHA256, Stripe-style', () => {
    const header = signWebhook(SECRET, 1_700_000_000, body);
    const hex = createHmac('sha256', SECRET).update(`1700000000.${body}`).digest('hex');
    expect(header).toBe(`t=1700000000,v1=${hex}`);
  });

  it('verifies within the replay window and refuses a stale, future, tampered or foreign signature', () => {
    const now = 1_700_000_000_000;
    const t = now / 1000;
    const header = signWebhook(SECRET, t, body);
    expect(verifyWebhookSignature(SECRET, header, body, 300, now)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, body, 300, now + 299_000)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, body, 300, now + 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, body, 300, now - 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, body.replace('héllo', 'hello'), 300, now)).toBe(false);
    expect(verifyWebhookSignature('whsec_other', header, body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header.replace(`t=${t}`, `t=${t + 1}`), body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'v1=abc', body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, '', body, 300, now)).toBe(false);
    // Several v1 values (e.g. during a receiver-side rotation): one matching is enough.
    expect(verifyWebhookSignature(SECRET, `${header},v1=${'0'.repeat(64)}`, body, 300, now)).toBe(true);
  });
});

describe('endpoint input', () => {
  it('takes https URLs on public hosts, known event types (deduplicated), nothing else', () => {
    expect(webhookEndpointInputSchema.parse({ url: 'https://crm.example.com/hook', events: ['message.sent', 'message.sent'] })).toEqual({ url: 'https://crm.example.com/hook', events: ['message.sent'] });
    expect(webhookEndpointInputSchema.parse({ url: 'https://crm.example.com/hook' }).events).toEqual([]);
    for (const url of ['http://crm.example.com/hook', 'https://localhost/x', 'https://192.168.1.2/x', 'https://[::1]/x', 'https://169.254.169.254/latest', 'ftp://x.example.com', 'not a url']) {
      expect(webhookEndpointInputSchema.safeParse({ url }).success, url).toBe(false);
    }
    expect(webhookEndpointInputSchema.safeParse({ url: 'https://crm.example.com/hook', events: ['ping'] }).success).toBe(false);
    expect(webhookEndpointInputSchema.safeParse({ url: 'https://crm.example.com/hook', secret: 'mine' }).success).toBe(false);
    expect(webhookEndpointPatchSchema.safeParse({ status: 'paused' }).success).toBe(false);
    expect(webhookEndpointPatchSchema.parse({ description: null, status: 'active' })).toEqual({ description: null, status: 'active' });
  });
});
