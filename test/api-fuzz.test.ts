// Property-based fuzzing of every /api/v1 route with fast-check: arbitrary query strings, path
// ids, JSON bodies (random and shaped like the real ones), and raw bodies. Whatever comes in,
// the answer is never a 5xx, and every error carries the envelope.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { injectRoute, ROUTES, seedTenant, type Ids, type RouteCase, type SeededTenant } from './support/api-routes.ts';

const FIELDS = [
  'name', 'slug', 'settings', 'type', 'phoneNumberId', 'wabaId', 'pageId', 'accessToken', 'appSecret', 'pageAccessToken', 'verifyToken',
  'allowedOrigins', 'status', 'scope', 'expiresInDays', 'graceSeconds', 'version', 'locale', 'handoff', 'llm', 'webchat', 'conversation',
];
/** encodeURIComponent throws on lone surrogates; the server then sees U+FFFD, as from a browser. */
const enc = (s: string) => encodeURIComponent((s as string & { toWellFormed(): string }).toWellFormed());

const QUERY_KEYS = ['limit', 'cursor', 'status', 'type', 'channel', 'channelId', 'assignee', 'since', 'until', 'order', 'from', 'to', 'slug', 'externalUserId'];

const nasty = fc.constantFrom('', ' ', '\u0000', 'null', '-1', '0', '1e309', 'NaN', '../../etc', '%', '%00', "' OR 1=1 --", '\ud800', '🙂', 'a'.repeat(5000), '2025-13-45', '9999-12-31T23:59:59Z', '0000-01-01');
const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), nasty, fc.uuid(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
const value = fc.oneof({ depthSize: 'small' }, scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(fc.constantFrom(...FIELDS, 'x', 'keywords', 'provider', 'temperature'), scalar, { maxKeys: 4 }), fc.jsonValue({ maxDepth: 3 }));
const shapedBody = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 8 });
const anyBody = fc.oneof(shapedBody, fc.jsonValue({ maxDepth: 4 }), fc.object({ maxDepth: 2 }));
const cursor = fc.oneof(
  fc.string(),
  fc.tuple(fc.oneof(scalar, fc.jsonValue({ maxDepth: 1 })), fc.oneof(fc.uuid(), fc.string())).map((t) => Buffer.from(JSON.stringify(t)).toString('base64url')),
  fc.jsonValue({ maxDepth: 2 }).map((t) => Buffer.from(JSON.stringify(t) ?? '').toString('base64url')),
);
const queryString = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })), fc.oneof(scalar.map(String), cursor)), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'));
const pathSegment = fc.oneof(fc.uuid(), fc.string({ minLength: 1 }), nasty.filter((s) => s.length > 0), fc.integer().map(String));

describe('fuzzing /api/v1', () => {
  let api: TestApi;
  let tenant: SeededTenant;
  let victim: SeededTenant;
  let requests = 0;

  beforeAll(async () => {
    api = await startTestApi('api_fuzz');
    tenant = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Fuzz');
    victim = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Bystander');
  });

  afterAll(async () => {
    await api?.close();
  });

  async function send(route: RouteCase, url: string, payload?: unknown, raw?: string) {
    requests++;
    const key = route.who === 'admin' ? api.adminKey : tenant.key;
    const res = await injectRoute(api.app, route, {
      method: route.method,
      url,
      headers: { ...bearer(key), ...(raw !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(raw !== undefined ? { payload: raw } : payload !== undefined ? { payload: JSON.stringify(payload), headers: { ...bearer(key), 'content-type': 'application/json' } } : {}),
    });
    if (res.statusCode >= 500) throw new Error(`${route.method} ${url} → ${res.statusCode} ${res.body.slice(0, 300)} (payload ${JSON.stringify(payload ?? raw)?.slice(0, 300)})`);
    if (res.statusCode >= 400) {
      const body = res.json();
      if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') throw new Error(`${route.method} ${url}: no error envelope: ${res.body}`);
    }
    return res;
  }

  /** Admin routes work on a throwaway tenant id so that a lucky DELETE cannot lock the suite out. */
  const idsFor = (route: RouteCase): Ids => (route.who === 'admin' ? { ...victim.ids, tenantId: '00000000-0000-4000-8000-000000000000' } : tenant.ids);

  it.each(ROUTES.map((r) => ({ route: r, name: `${r.method} ${r.pattern}` })))('$name: any query string, path id and body → never a 5xx', async ({ route }) => {
    const ids = idsFor(route);
    const base = route.url(ids).split('?')[0]!;

    await fc.assert(
      fc.asyncProperty(queryString, async (qs) => {
        await send(route, `${base}?${qs}`, route.body?.(ids));
      }),
      { numRuns: 60 },
    );

    if (/:/.test(route.pattern)) {
      await fc.assert(
        fc.asyncProperty(pathSegment, pathSegment, async (a, b) => {
          const url = route.pattern.replace(/:channel\b/, enc(a)).replace(/:\w+/g, () => enc(b));
          await send(route, url, route.body?.(ids));
        }),
        { numRuns: 50 },
      );
    }

    if (route.body) {
      await fc.assert(
        fc.asyncProperty(anyBody, async (body) => {
          await send(route, route.url(ids), body);
        }),
        { numRuns: 120 },
      );
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 200 }), async (raw) => {
          await send(route, route.url(ids), undefined, raw);
        }),
        { numRuns: 30 },
      );
    }
  });

  it('answers NUL bytes and other text Postgres refuses with a 4xx', async () => {
    const byPattern = (m: string, p: string) => ROUTES.find((r) => r.method === m && r.pattern === p)!;
    const cases: [RouteCase, string, unknown][] = [
      [byPattern('GET', '/api/v1/conversations/'), '/api/v1/conversations?assignee=%00&externalUserId=a%00b', undefined],
      [byPattern('GET', '/api/v1/tenants/'), '/api/v1/tenants?slug=%00', undefined],
      [byPattern('POST', '/api/v1/tenants/'), '/api/v1/tenants', { name: 'a\u0000b', slug: 'nul-name' }],
      [byPattern('POST', '/api/v1/tenants/'), '/api/v1/tenants', { name: 'ok', slug: 'nul-settings', settings: { locale: 'en', x: '\u0000' } }],
      [byPattern('POST', '/api/v1/api-keys/'), '/api/v1/api-keys', { name: 'k\u0000' }],
      [byPattern('POST', '/api/v1/channels/'), '/api/v1/channels', { type: 'webchat', name: '\u0000' }],
      [byPattern('PATCH', '/api/v1/settings/'), '/api/v1/settings', { version: 1, settings: { handoff: { keywords: ['\u0000'] } } }],
      [byPattern('GET', '/api/v1/end-users/:channel/:externalUserId/export'), '/api/v1/end-users/whatsapp/a%00b/export', undefined],
    ];
    for (const [route, url, body] of cases) {
      const res = await send(route, url, body);
      expect(res.statusCode, `${url} ${res.body}`).toBeGreaterThanOrEqual(400);
    }
  });

  it('sent thousands of requests and logged no secret', () => {
    expect(requests).toBeGreaterThan(2000);
    const text = api.logs.join('');
    for (const s of [...tenant.secrets, ...victim.secrets, api.adminKey]) expect(text).not.toContain(s);
  });
});
