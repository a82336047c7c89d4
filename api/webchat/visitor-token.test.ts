import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Keyring } from '../../lib/crypto.ts';
import { TOKEN_MAX_AGE_MS, TOKEN_RENEW_AFTER_MS, VisitorTokens } from './visitor-token.ts';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('web chat visitor tokens', () => {
  const ring: Keyring = [key('k1')];
  const channel = randomUUID();

  it('carries a server-chosen visitor id for one channel, and verifies', () => {
    const tokens = new VisitorTokens(ring);
    const a = tokens.issue(channel);
    const b = tokens.issue(channel);
    expect(a.visitorId).toMatch(/^wv_[A-Za-z0-9_-]{22}$/);
    expect(b.visitorId).not.toBe(a.visitorId);
    expect(a.token).toMatch(/^wt1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(a.token, channel)).toEqual({ ok: true, claims: { visitorId: a.visitorId, channelId: channel, issuedAt: a.issuedAt } });
    expect(a.expiresAt.getTime() - a.issuedAt.getTime()).toBe(TOKEN_MAX_AGE_MS);
  });

  it('refuses another channel, a changed payload or signature, another key, and anything else', () => {
    const tokens = new VisitorTokens(ring);
    const { token } = tokens.issue(channel);
    const [v, kid, payload, sig] = token.split('.') as [string, string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, v: 'v_chosen_by_me' })).toString('base64url');
    expect(tokens.verify(token, randomUUID())).toEqual({ ok: false, reason: 'issued for another widget' });
    expect(tokens.verify(`${v}.${kid}.${forged}.${sig}`, channel)).toEqual({ ok: false, reason: 'bad signature' });
    expect(tokens.verify(`${v}.${kid}.${payload}.${sig.slice(0, -2)}AA`, channel)).toEqual({ ok: false, reason: 'bad signature' });
    expect(new VisitorTokens([key('k1')]).verify(token, channel)).toEqual({ ok: false, reason: 'bad signature' });
    expect(new VisitorTokens([key('k2')]).verify(token, channel)).toEqual({ ok: false, reason: 'signed with a key this server does not hold' });
    for (const bad of ['', 'v_1234567890', `wt2.${kid}.${payload}.${sig}`, `${token}.x`, 'wt1.k1..', 'x'.repeat(600)]) {
      expect(tokens.verify(bad, channel).ok, bad).toBe(false);
    }
  });

  it('expires after the maximum age, and is due for renewal a day after it was issued', () => {
    let now = Date.UTC(2026, 0, 1);
    const tokens = new VisitorTokens(ring, () => now);
    const issued = tokens.issue(channel);
    now += TOKEN_RENEW_AFTER_MS - 1000;
    const fresh = tokens.verify(issued.token, channel);
    expect(fresh.ok && tokens.dueForRenewal(fresh.claims)).toBe(false);
    now += 2000;
    const old = tokens.verify(issued.token, channel);
    expect(old.ok && tokens.dueForRenewal(old.claims)).toBe(true);
    const renewed = tokens.issue(channel, issued.visitorId);
    expect(renewed.visitorId).toBe(issued.visitorId);
    now = issued.issuedAt.getTime() + TOKEN_MAX_AGE_MS + 1000;
    expect(tokens.verify(issued.token, channel)).toEqual({ ok: false, reason: 'expired' });
    expect(new VisitorTokens(ring, () => issued.issuedAt.getTime() - 3600_000).verify(issued.token, channel)).toEqual({ ok: false, reason: 'expired' });
  });

  it('keeps verifying tokens of an older key after a rotation, and signs with the new one', () => {
    const old = new VisitorTokens(ring).issue(channel);
    const rotated = new VisitorTokens([key('k2'), ring[0]!]);
    expect(rotated.verify(old.token, channel).ok).toBe(true);
    expect(rotated.issue(channel).token.split('.')[1]).toBe('k2');
  });
});
