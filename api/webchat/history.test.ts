import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientFrameSchema } from './frames.ts';
import { decodeCursor, encodeCursor, frameOf, visitorMessageId } from './history.ts';
import { widgetCsp } from './page.ts';
import { originAllowed } from './socket.ts';

describe('web chat cursors and ids', () => {
  it('round-trips a cursor and refuses anything else', () => {
    const row = { createdAt: new Date('2026-12-01T10:11:12.345Z'), id: randomUUID() };
    const cursor = encodeCursor(row);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ at: row.createdAt, id: row.id });
    for (const bad of ['', 'abc', Buffer.from('123.not-a-uuid').toString('base64url'), Buffer.from(`x.${row.id}`).toString('base64url'), 'a'.repeat(200), '../../etc']) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });

  it('derives a visitor message id from channel, visitor and client id, the same every time', () => {
    const channel = randomUUID();
    const id = visitorMessageId(channel, 'visitor-1', 'client-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(visitorMessageId(channel, 'visitor-1', 'client-1')).toBe(id);
    expect(visitorMessageId(channel, 'visitor-2', 'client-1')).not.toBe(id);
    expect(visitorMessageId(randomUUID(), 'visitor-1', 'client-1')).not.toBe(id);
    expect(visitorMessageId(channel, 'visitor-1', 'client-2')).not.toBe(id);
  });

  it('shows stored messages under the ids the widget knows them by', () => {
    const createdAt = new Date();
    const inbound = { id: randomUUID(), createdAt, direction: 'inbound' as const, content: { text: 'hi', clientMessageId: 'client-1' }, externalMessageId: 'ext-1' };
    expect(frameOf(inbound)).toEqual({ type: 'message', id: 'ext-1', author: 'visitor', text: 'hi', at: createdAt.toISOString(), cursor: encodeCursor(inbound), clientMessageId: 'client-1' });
    const agent = { id: randomUUID(), createdAt, direction: 'outbound' as const, content: { text: 'hello', author: 'agent', agentId: 'ann' }, externalMessageId: null };
    expect(frameOf(agent)).toMatchObject({ id: agent.id, author: 'agent', text: 'hello' });
    expect(frameOf({ ...agent, content: { text: 'x' } })).toMatchObject({ author: 'assistant' });
    expect(frameOf({ ...agent, content: { text: null } })).toBeNull();
  });
});

describe('web chat frames', () => {
  it('accepts the client frames of the protocol and nothing else', () => {
    expect(clientFrameSchema.safeParse({ type: 'message', clientMessageId: 'abcdefgh', text: 'hi' }).success).toBe(true);
    expect(clientFrameSchema.safeParse({ type: 'typing', state: 'off' }).success).toBe(true);
    expect(clientFrameSchema.safeParse({ type: 'ping' }).success).toBe(true);
    for (const bad of [
      { type: 'message', clientMessageId: 'short', text: 'hi' },
      { type: 'message', clientMessageId: 'abcdefgh', text: '' },
      { type: 'message', clientMessageId: 'abcdefgh', text: '   ' },
      { type: 'message', clientMessageId: 'abcdefgh', text: 'x'.repeat(2001) },
      { type: 'message', clientMessageId: 'abc def gh', text: 'hi' },
      { type: 'message', clientMessageId: 'abcdefgh', text: 'hi', extra: 1 },
      { type: 'typing', state: 'maybe' },
      { type: 'pong' },
      null,
      'ping',
    ]) {
      expect(clientFrameSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('web chat origins and page policy', () => {
  const widget = { tenantId: randomUUID(), channelId: randomUUID(), widgetId: 'wc_x', allowedOrigins: new Set(['https://shop.example.com']) };

  it('allows the API\'s own origin and the widget\'s, nothing else', () => {
    expect(originAllowed('http://api.example.net:3000', 'api.example.net:3000', null)).toBe(true);
    expect(originAllowed('https://api.example.net', 'api.example.net', null)).toBe(true);
    expect(originAllowed('https://shop.example.com', 'api.example.net', widget)).toBe(true);
    expect(originAllowed('https://shop.example.com', 'api.example.net', null)).toBe(false);
    expect(originAllowed('https://shop.example.com:8443', 'api.example.net', widget)).toBe(false);
    expect(originAllowed('https://api.example.net.evil.com', 'api.example.net', widget)).toBe(false);
    expect(originAllowed('null', 'api.example.net', widget)).toBe(false);
    expect(originAllowed(undefined, 'api.example.net', widget)).toBe(false);
    expect(originAllowed('file://api.example.net', 'api.example.net', widget)).toBe(false);
  });

  it('writes only a well-formed host into the page policy', () => {
    expect(widgetCsp('chat.example.net:8080', ['https://shop.example.com'])).toContain("connect-src 'self' ws://chat.example.net:8080 wss://chat.example.net:8080;");
    expect(widgetCsp("evil; script-src 'unsafe-inline'", [])).toContain("connect-src 'self';");
    expect(widgetCsp(undefined, ['https://a.example', 'https://b.example'])).toMatch(/frame-ancestors 'self' https:\/\/a\.example https:\/\/b\.example$/);
  });
});
