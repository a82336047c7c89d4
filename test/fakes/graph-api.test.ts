// The fake answers raw HTTP the way Meta does, so tests of other code can trust it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGraphApi, type FakeGraphApi } from './graph-api.ts';

let fake: FakeGraphApi;
beforeAll(async () => {
  fake = await startFakeGraphApi();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: 'Bearer t' }) =>
  fetch(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const waText = { messaging_product: 'whatsapp', recipient_type: 'individual', to: '15550100001', type: 'text', text: { body: 'hi', preview_url: false } };

describe('fake Graph API', () => {
  it('requires an access token, from the header or the query', async () => {
    const missing = await post('/1/messages', waText, {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { type: 'OAuthException', code: 190, fbtrace_id: expect.any(String) } });
    expect((await post('/me/messages?access_token=t', { recipient: { id: '1' }, sender_action: 'typing_on' }, {})).status).toBe(200);
    expect(fake.requests.map((r) => r.status)).toEqual([401, 200]);
    expect(fake.requests[1]!.query).toEqual({ access_token: 't' });
  });

  it('gives every message a unique id', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, async () => ((await (await post('/1/messages', waText)).json()) as any).messages[0].id));
    expect(new Set(ids).size).toBe(20);
  });

  it('rejects what Meta rejects with code 100', async () => {
    const cases = [
      ['/1/messages', { ...waText, messaging_product: undefined }],
      ['/1/messages', { ...waText, text: { body: 'x'.repeat(4097) } }],
      ['/me/messages', { recipient: { id: '1' }, message: { text: 'no messaging_type' } }],
      ['/me/messages', { recipient: { id: '1' }, messaging_type: 'RESPONSE', message: { text: 'x'.repeat(2001) } }],
      ['/me/messages', { recipient: { id: '1' }, sender_action: 'dancing' }],
    ] as const;
    for (const [path, body] of cases) {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 100, type: 'OAuthException' } });
    }
    expect(fake.delivered).toEqual([]);
  });

  it('answers an unknown path like Graph does', async () => {
    const res = await post('/1/nothing', {});
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 2500 } });
  });

  it('fails on demand with Meta statuses, headers and error bodies', async () => {
    fake.failNext(1, { code: 131056, subcode: 2494055, retryAfterSeconds: 3 });
    fake.failNext(1, { code: 2 });
    const throttled = await post('/1/messages', waText);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('3');
    expect(await throttled.json()).toMatchObject({ error: { code: 131056, error_subcode: 2494055 } });
    expect((await post('/1/messages', waText)).status).toBe(500);
    expect((await post('/1/messages', waText)).status).toBe(200);
  });

  it('waits for requests and gives up with a message', async () => {
    const waiting = fake.waitForRequests(2, 2000);
    await post('/1/messages', waText);
    await post('/1/messages', waText);
    expect(await waiting).toHaveLength(2);
    await expect(fake.waitForRequests(3, 50)).rejects.toThrow(/expected 3 requests/);
  });

  it('closes while a delayed response is pending', async () => {
    const other = await (await import('./graph-api.ts')).startFakeGraphApi();
    other.delay(10_000);
    const pending = fetch(`${other.url}/1/messages`, { method: 'POST', headers: { authorization: 'Bearer t' }, body: '{}' }).catch((e: unknown) => e);
    await other.waitForRequests(1);
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});
