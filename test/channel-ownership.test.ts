// A tenant registers a WhatsApp number or Messenger page only with a token that owns it (the Graph
// API says so), and the answer to a claim never reveals that the id is registered elsewhere.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChannelSecrets } from '../lib/channels.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
const token = () => `EAAG${randomBytes(16).toString('hex')}`;

describe('channel ownership at registration', () => {
  let api: TestApi;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    api = await startTestApi('channel_ownership');
    const tenant = async (slug: string) => {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: slug, slug: `${slug}-${randomBytes(3).toString('hex')}` } });
      return res.json().apiKey.key as string;
    };
    [keyA, keyB] = [await tenant('owner'), await tenant('claimant')];
  });

  afterAll(async () => {
    await api?.close();
  });

  const post = (key: string, body: object) => api.app.inject({ method: 'POST', url: '/api/v1/channels', headers: bearer(key), payload: body });
  const patch = (key: string, id: string, body: object) => api.app.inject({ method: 'PATCH', url: `/api/v1/channels/${id}`, headers: bearer(key), payload: body });
  const whatsapp = (phoneNumberId: string, accessToken: string) => ({
    type: 'whatsapp', name: 'Support', phoneNumberId, wabaId: digits(15), accessToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}`,
  });

  it("asks the Graph API with the channel's own token, and refuses a number the token does not own with 422", async () => {
    const number = digits(15);
    const accessToken = token();
    api.graph.reset();
    const refused = await post(keyA, whatsapp(number, accessToken));
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error.code).toBe('channel_not_owned');
    expect(await api.db.channel.count({ where: { phoneNumberId: number } })).toBe(0);
    const [asked] = api.graph.requests;
    expect(asked).toMatchObject({ method: 'GET', path: `/v21.0/${number}`, query: { fields: 'id,display_phone_number' }, kind: 'whatsapp.phone_number' });
    expect(asked!.headers.authorization).toBe(`Bearer ${accessToken}`);

    api.graph.own(accessToken, { phoneNumberIds: [number] });
    expect((await post(keyA, whatsapp(number, accessToken))).statusCode).toBe(201);
  });

  it('answers a claim of a number registered by another tenant exactly as a number the token does not own: never a 409', async () => {
    const number = digits(15);
    const ownerToken = token();
    api.graph.own(ownerToken, { phoneNumberIds: [number] });
    expect((await post(keyA, whatsapp(number, ownerToken))).statusCode).toBe(201);

    const notOwned = await post(keyB, whatsapp(number, token()));
    // Even with a token Meta says owns it (a second system user of the same business), the id is taken.
    const taken = await post(keyB, whatsapp(number, ownerToken));
    const untaken = await post(keyB, whatsapp(digits(15), token()));
    for (const res of [notOwned, taken, untaken]) expect(res.statusCode, res.body).toBe(422);
    const message = (res: typeof taken) => ({ code: res.json().error.code, message: res.json().error.message });
    expect(message(taken)).toEqual(message(notOwned));
    expect(message(taken)).toEqual(message(untaken));
    expect(taken.body).not.toMatch(/already|another channel|exists/i);

    // The owner registering its own number twice is told so.
    const twice = await post(keyA, whatsapp(number, ownerToken));
    expect(twice.statusCode).toBe(409);
  });

  it('checks a Messenger page with GET /me and the page token', async () => {
    const pageId = digits(15);
    const pageToken = token();
    const page = () => ({ type: 'messenger', name: 'Page', pageId, pageAccessToken: pageToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}` });
    expect((await post(keyA, page())).statusCode).toBe(422); // /me is some user, not the page
    api.graph.own(pageToken, { pageId });
    api.graph.reset();
    expect((await post(keyA, page())).statusCode).toBe(201);
    expect(api.graph.requests[0]).toMatchObject({ method: 'GET', path: '/v21.0/me', query: { fields: 'id' }, kind: 'messenger.me' });
  });

  it('registers an Instagram account only with the token of the page it is linked to, and checks a changed account id', async () => {
    const [pageId, accountId] = [digits(15), `1784${digits(11)}`];
    const pageToken = token();
    const account = (instagramAccountId = accountId) => ({
      type: 'instagram', name: 'Shop', instagramAccountId, pageId, pageAccessToken: pageToken, appSecret: randomBytes(16).toString('hex'), verifyToken: `verify-${randomBytes(8).toString('hex')}`,
    });
    api.graph.own(pageToken, { pageId });
    expect((await post(keyA, account())).statusCode).toBe(422); // the page has no Instagram account linked
    api.graph.own(pageToken, { pageId, instagramAccountId: accountId });
    api.graph.reset();
    const created = await post(keyA, account());
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ type: 'instagram', instagramAccountId: accountId, pageId, secrets: { pageAccessToken: '••••', appSecret: '••••' }, hasVerifyToken: true });
    expect(api.graph.requests[0]).toMatchObject({ method: 'GET', path: '/v21.0/me', query: { fields: 'id,instagram_business_account' } });
    expect(api.graph.requests[0]!.headers.authorization).toBe(`Bearer ${pageToken}`);

    expect((await patch(keyA, created.json().id, { instagramAccountId: `1784${digits(11)}` })).statusCode).toBe(422); // not the page's account
    expect((await patch(keyA, created.json().id, { phoneNumberId: digits(15) })).statusCode).toBe(400); // not an Instagram field
    expect((await post(keyA, account())).statusCode).toBe(409); // its own account again
    expect((await post(keyB, account())).statusCode).toBe(422); // another tenant's: as if not owned
  });

  it('answers 503 and registers nothing when the Graph API cannot be asked', async () => {
    const number = digits(15);
    const accessToken = token();
    api.graph.own(accessToken, { phoneNumberIds: [number] });
    api.graph.failNext(1, { code: 2 });
    const unavailable = await post(keyA, whatsapp(number, accessToken));
    expect(unavailable.statusCode, unavailable.body).toBe(503);
    expect(unavailable.json().error.code).toBe('graph_unavailable');
    api.graph.failNext(1, { code: 4 }); // throttled
    expect((await post(keyA, whatsapp(number, accessToken))).statusCode).toBe(503);
    expect(await api.db.channel.count({ where: { phoneNumberId: number } })).toBe(0);

    const offline = await startTestApi('channel_ownership_offline', { META_GRAPH_API_URL: 'http://127.0.0.1:9/v21.0' });
    try {
      const res = await offline.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(offline.adminKey), payload: { name: 'o', slug: 'offline' } });
      const created = await offline.app.inject({ method: 'POST', url: '/api/v1/channels', headers: bearer(res.json().apiKey.key), payload: whatsapp(number, accessToken) });
      expect(created.statusCode, created.body).toBe(503);
    } finally {
      await offline.close();
    }
  });

  it('checks a changed number or token like a new one, and leaves a new app secret alone', async () => {
    const number = digits(15);
    const accessToken = token();
    api.graph.own(accessToken, { phoneNumberIds: [number] });
    const created = await post(keyA, whatsapp(number, accessToken));
    const id = created.json().id as string;

    const foreign = await patch(keyA, id, { phoneNumberId: digits(15) });
    expect(foreign.statusCode, foreign.body).toBe(422);
    const stolenToken = await patch(keyA, id, { accessToken: token() });
    expect(stolenToken.statusCode).toBe(422);
    expect((await api.db.channel.findUniqueOrThrow({ where: { id } })).phoneNumberId).toBe(number);
    expect((await readChannelSecrets(api.db, api.config.SECRETS_KEYS, id)).accessToken).toBe(accessToken);

    const moved = digits(15);
    api.graph.own(accessToken, { phoneNumberIds: [moved] });
    expect((await patch(keyA, id, { phoneNumberId: moved })).statusCode).toBe(200);

    api.graph.reset();
    expect((await patch(keyA, id, { appSecret: randomBytes(16).toString('hex') })).statusCode).toBe(200);
    expect(api.graph.requests).toHaveLength(0);
  });
});
