// "Test connection" of a channel (POST /api/v1/channels/{id}/test) against the local fake Graph
// API speaking Meta's error format, and the addresses a channel carries to paste elsewhere.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_TESTS_PER_MINUTE } from '../api/routes/v1/channels/index.ts';
import { testChannelConnection } from '../lib/channel-connection-test.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
const token = () => `EAAG${randomBytes(16).toString('hex')}`;
const PUBLIC_ORIGIN = 'https://chat.example.com';

describe('channel connection test', () => {
  let api: TestApi;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    api = await startTestApi('channel_connection', { APP_BASE_URL: PUBLIC_ORIGIN });
    const tenant = async (slug: string) => {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: slug, slug: `${slug}-${randomBytes(3).toString('hex')}` } });
      return res.json().apiKey.key as string;
    };
    [key, otherKey] = [await tenant('tester'), await tenant('stranger')];
  });

  afterAll(async () => {
    await api?.close();
  });

  const runTest = (id: string, k = key) => api.app.inject({ method: 'POST', url: `/api/v1/channels/${id}/test`, headers: bearer(k) });

  async function whatsapp(): Promise<{ id: string; number: string; accessToken: string }> {
    const number = digits(15);
    const accessToken = token();
    api.graph.own(accessToken, { phoneNumberIds: [number] });
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/channels',
      headers: bearer(key),
      payload: { type: 'whatsapp', name: 'Support', phoneNumberId: number, wabaId: digits(15), accessToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` },
    });
    expect(res.statusCode, res.body).toBe(201);
    return { id: res.json().id, number, accessToken };
  }

  it('answers what the Graph API says the WhatsApp number is, asked with the stored token', async () => {
    const { id, number, accessToken } = await whatsapp();
    api.graph.reset();
    const res = await runTest(id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      ok: true,
      found: { id: number, displayPhoneNumber: `+1 555-${number.slice(-4)}`, verifiedName: 'Test Business' },
      problem: null,
    });
    expect(res.json().durationMs).toBeGreaterThanOrEqual(0);
    const [asked] = api.graph.requests;
    expect(asked).toMatchObject({ method: 'GET', path: `/v21.0/${number}`, query: { fields: 'display_phone_number,verified_name' } });
    expect(asked!.headers.authorization).toBe(`Bearer ${accessToken}`);
  });

  it('classifies the Graph API errors and never shows the token, in the answer or the logs', async () => {
    const { id, accessToken } = await whatsapp();
    const cases = [
      [{ code: 190, message: `Error validating access token: the session of ${accessToken} has expired` }, 'invalid_token', 401],
      [{ code: 200, message: '(#200) Requires whatsapp_business_messaging permission' }, 'missing_permission', 403],
      [{ code: 100, subcode: 33, message: "Unsupported get request. Object with ID '1' does not exist" }, 'wrong_id', 400],
      [{ code: 80007 }, 'throttled', 429],
      [{ code: 2 }, 'unreachable', 500],
      [{ code: 1, status: 502, rawBody: '<html>Bad gateway</html>' }, 'unreachable', 502],
    ] as const;
    for (const [error, kind, httpStatus] of cases) {
      api.graph.failNext(1, error);
      const res = await runTest(id);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json(), kind).toMatchObject({ ok: false, found: null, problem: { kind, httpStatus } });
      expect(res.body).not.toContain(accessToken);
    }
    api.graph.failNext(1, { code: 190, subcode: 463 });
    const expired = (await runTest(id)).json();
    expect(expired.problem).toMatchObject({ kind: 'invalid_token', graphCode: 190, graphSubcode: 463 });
    expect(expired.problem.message).toMatch(/^Meta refused the token/);
    expect(api.logs.join('\n')).not.toContain(accessToken);
    expect(api.logs.some((line) => line.includes('"msg":"channel connection tested"') && line.includes('"problem":"invalid_token"'))).toBe(true);
  });

  it('says unreachable when Meta does not answer in time or at all', async () => {
    const { id, number } = await whatsapp();
    const channel = { id, type: 'whatsapp' as const, phoneNumberId: number, pageId: null };
    api.graph.delay(1000);
    try {
      const slow = await testChannelConnection(api.db, api.config.SECRETS_KEYS, api.graph.url, channel, 100);
      expect(slow).toMatchObject({ ok: false, problem: { kind: 'unreachable', httpStatus: null, message: expect.stringContaining('no response within 0.1 s') } });
    } finally {
      api.graph.delay(0);
    }
    const closed = await testChannelConnection(api.db, api.config.SECRETS_KEYS, 'http://127.0.0.1:9/v21.0', channel);
    expect(closed).toMatchObject({ ok: false, problem: { kind: 'unreachable', httpStatus: null, message: 'The Graph API could not be reached or failed: try again later. (no connection)' } });
  });

  it("tests a Messenger page with GET /me, which must be this page's token", async () => {
    const pageId = digits(15);
    const pageToken = token();
    api.graph.own(pageToken, { pageId });
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/v1/channels',
      headers: bearer(key),
      payload: { type: 'messenger', name: 'Page', pageId, pageAccessToken: pageToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` },
    });
    const id = created.json().id as string;
    expect(created.json().webhookUrl).toBe(`${PUBLIC_ORIGIN}/webhooks/messenger`);
    api.graph.reset();
    expect((await runTest(id)).json()).toMatchObject({ ok: true, found: { id: pageId, name: 'Test Page' } });
    expect(api.graph.requests[0]).toMatchObject({ path: '/v21.0/me', query: { fields: 'id,name' } });

    // The token now answers for another page (Meta's /me is the page a token belongs to).
    const otherPage = digits(15);
    api.graph.own(pageToken, { pageId: otherPage });
    const wrong = (await runTest(id)).json();
    expect(wrong).toMatchObject({ ok: false, found: { id: otherPage }, problem: { kind: 'wrong_id' } });
    expect(wrong.problem.message).toContain(`not to page ${pageId}`);
  });

  it('tests an Instagram account through its page: the page token must see the account linked to the page', async () => {
    const [pageId, accountId] = [digits(15), `1784${digits(11)}`];
    const pageToken = token();
    api.graph.own(pageToken, { pageId, instagramAccountId: accountId });
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/v1/channels',
      headers: bearer(key),
      payload: { type: 'instagram', name: 'Shop', instagramAccountId: accountId, pageId, pageAccessToken: pageToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().webhookUrl).toBe(`${PUBLIC_ORIGIN}/webhooks/instagram`);
    const id = created.json().id as string;
    api.graph.reset();
    expect((await runTest(id)).json()).toMatchObject({ ok: true, found: { id: accountId, name: 'test_shop' }, problem: null });
    expect(api.graph.requests[0]).toMatchObject({ path: '/v21.0/me', query: { fields: 'id,name,instagram_business_account{id,username}' } });

    // The account was unlinked from the page (Meta then leaves the field out).
    api.graph.own(pageToken, { pageId, instagramAccountId: `1784${digits(11)}` });
    const moved = (await runTest(id)).json();
    expect(moved).toMatchObject({ ok: false, problem: { kind: 'wrong_id' } });
    expect(moved.problem.message).toContain(`not to ${accountId}`);
  });

  it("refuses web chat (409), another tenant's channel (404), and more than its limit per minute (429 with Retry-After)", async () => {
    const webchat = await api.app.inject({ method: 'POST', url: '/api/v1/channels', headers: bearer(key), payload: { type: 'webchat', name: 'Site', allowedOrigins: [] } });
    const { id: webchatId, widgetId, widgetUrl, webhookUrl } = webchat.json();
    expect({ widgetUrl, webhookUrl }).toEqual({ widgetUrl: `${PUBLIC_ORIGIN}/webchat/widget/${widgetId}`, webhookUrl: null });
    const notTestable = await runTest(webchatId);
    expect(notTestable.statusCode).toBe(409);
    expect(notTestable.json().error.code).toBe('not_testable');

    const { id } = await whatsapp();
    expect((await runTest(id, otherKey)).statusCode).toBe(404);
    expect((await api.app.inject({ method: 'GET', url: `/api/v1/channels/${id}`, headers: bearer(key) })).json().webhookUrl).toBe(`${PUBLIC_ORIGIN}/webhooks/whatsapp`);

    api.graph.reset();
    for (let i = 0; i < CONNECTION_TESTS_PER_MINUTE; i++) expect((await runTest(id)).statusCode).toBe(200);
    const limited = await runTest(id);
    expect(limited.statusCode, limited.body).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(api.graph.requests).toHaveLength(CONNECTION_TESTS_PER_MINUTE);
  });
});
