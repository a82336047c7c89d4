// What the OpenAPI fuzzing (test/api-schemathesis.test.ts, `npm run fuzz`) found, one case each:
// the answer is a 4xx and not a 5xx, and it is what the OpenAPI document says (status, content),
// or the document now says what the server refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '../generated/prisma/client.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { seedTenant, type SeededTenant } from './support/api-routes.ts';

type Operation = { security?: Record<string, string[]>[]; parameters?: { in: string; name: string; schema?: { pattern?: string } }[]; requestBody?: { content?: Record<string, { schema?: unknown }> }; responses: Record<string, { content?: unknown }> };
type Spec = { paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> } };

describe('the API answers as its OpenAPI document says', () => {
  let api: TestApi;
  let tenant: SeededTenant;
  let spec: Spec;

  beforeAll(async () => {
    api = await startTestApi('api_contract');
    tenant = await seedTenant(api.db, api.config.SECRETS_KEYS, 'Contract');
    spec = (await api.app.inject({ url: '/docs/json' })).json() as Spec;
  });
  afterAll(async () => {
    await api?.close();
  });

  const operation = (method: string, path: string) => spec.paths[path]![method.toLowerCase()]!;
  /** The status is one the document lists for the operation. */
  const expectDocumented = (method: string, path: string, status: number) =>
    expect(Object.keys(operation(method, path).responses), `${method} ${path} documents ${status}`).toContain(String(status));

  it('answers a multipart upload without a boundary, or cut short, with 400 (it was a 500)', async () => {
    const cases = [
      { contentType: 'multipart/form-data', body: 'x' },
      { contentType: 'multipart/form-data; boundary=XX', body: '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello' },
      { contentType: 'multipart/form-data; boundary=XX', body: 'no parts at all' },
    ];
    for (const [url, path] of [
      ['/api/v1/documents', '/api/v1/documents/'],
      [`/api/v1/documents/${tenant.ids.documentId}/versions`, '/api/v1/documents/{id}/versions'],
    ] as const) {
      for (const c of cases) {
        const res = await api.app.inject({ method: 'POST', url, headers: { ...bearer(tenant.key), 'content-type': c.contentType }, payload: c.body });
        expect(res.statusCode, `${url} ${c.contentType} ${res.body}`).toBe(400);
        expect(res.json().error.code).toMatch(/bad_request|validation_error/);
        expectDocumented('POST', path!, res.statusCode);
      }
    }
  });

  it('documents the session cookie and the CSRF header, and which routes take them', () => {
    expect(spec.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-metachat_session' });
    expect(spec.components.securitySchemes.csrf).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
    expect(operation('GET', '/api/v1/channels/').security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(operation('POST', '/api/v1/channels/').security).toEqual([{ bearer: [] }, { session: [], csrf: [] }]);
    expect(operation('GET', '/api/v1/me/').security).toEqual([{ session: [] }]);
    expect(operation('PATCH', '/api/v1/team/users/{id}').security).toEqual([{ session: [], csrf: [] }]);
    expect(operation('POST', '/api/v1/auth/session').security).toEqual([]);
    expect(operation('POST', '/api/v1/tenants/{id}/invitations').security).toEqual([{ bearer: [] }]);
  });

  it('documents what the team account routes answer', () => {
    const answers: [string, string, number[]][] = [
      ['POST', '/api/v1/auth/session', [200, 400, 401, 429]],
      ['POST', '/api/v1/auth/password-reset', [202, 400, 429]],
      ['POST', '/api/v1/auth/password-reset/confirm', [204, 400, 429]],
      ['POST', '/api/v1/auth/invitation/accept', [201, 400, 409, 429]],
      ['DELETE', '/api/v1/me/session', [204, 401, 403]],
      ['PUT', '/api/v1/me/password', [204, 400, 401, 403, 429]],
      ['POST', '/api/v1/team/invitations', [201, 400, 401, 403, 409, 503]],
      ['PATCH', '/api/v1/team/users/{id}', [200, 403, 404, 409]],
      ['POST', '/api/v1/team/users/{id}/password-reset', [201, 403, 404, 503]],
      ['POST', '/api/v1/tenants/{id}/invitations', [201, 404, 409, 503]],
    ];
    for (const [method, path, statuses] of answers) for (const status of statuses) expectDocumented(method, path, status);
  });

  it('documents every 204 without a body, and sends none', async () => {
    const with204 = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.responses['204']).map(([method, op]) => ({ path, method, op })));
    expect(with204.length).toBeGreaterThanOrEqual(7);
    for (const { path, method, op } of with204) expect(op.responses['204']!.content, `${method} ${path}`).toBeUndefined();

    const res = await api.app.inject({ method: 'DELETE', url: `/api/v1/functions/${tenant.ids.functionId}`, headers: bearer(tenant.key) });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
  });

  it('documents the 414 for a path parameter over the router\'s limit on every /api/v1 route with one', async () => {
    const missing = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/api/v1/') && path.includes('{'))
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => !op.responses['414']).map(([method]) => `${method.toUpperCase()} ${path}`));
    expect(missing).toEqual([]);

    const res = await api.app.inject({ method: 'GET', url: `/api/v1/channels/${'a'.repeat(600)}`, headers: bearer(tenant.key) });
    expect(res.statusCode).toBe(414);
    expect(res.json().error.message).toBe('A path parameter is too long');
  });

  it('reaches an end user whose id is as long as a webhook may give it on the GDPR routes (101 to 512 characters answered 414)', async () => {
    const externalUserId = '7'.repeat(300);
    const tdb = forTenant(api.db, tenant.ids.tenantId);
    await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: tenant.ids.channelId, externalUserId }) });
    const res = await api.app.inject({ method: 'GET', url: `/api/v1/end-users/whatsapp/${externalUserId}/export`, headers: bearer(tenant.key) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().conversations).toHaveLength(1);
    expectDocumented('GET', '/api/v1/end-users/{channel}/{externalUserId}/export', 200);
  });

  it('refuses with 400 a channel token the Graph API\'s Authorization header cannot carry, without asking it (it was a 503)', async () => {
    api.graph.reset();
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/channels',
      headers: bearer(tenant.key),
      payload: { type: 'messenger', name: 'Page', pageId: '962', pageAccessToken: 'EAAG\u0100token-1234', appSecret: 'app-secret-1234', verifyToken: 'verify-token-1234' },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.body).toContain('visible ASCII');
    expect(api.graph.requests).toHaveLength(0);
  });

  it('refuses with 400 a model provider key that a request header cannot carry', async () => {
    for (const apiKey of ['sk-key with space', 'sk-k\u00e9y-12345', 'sk-key-\u0100-12345']) {
      const res = await api.app.inject({ method: 'PUT', url: '/api/v1/llm-credentials/openai', headers: bearer(tenant.key), payload: { apiKey } });
      expect(res.statusCode, `${apiKey}: ${res.body}`).toBe(400);
    }
  });

  it('documents what the server requires of If-Match and of a function\'s parameters schema', async () => {
    const ifMatch = operation('PATCH', '/api/v1/settings/').parameters!.find((p) => p.name === 'if-match')!;
    expect(new RegExp(ifMatch.schema!.pattern!).test('"3"')).toBe(true);
    expect(new RegExp(ifMatch.schema!.pattern!).test('abc')).toBe(false);
    const bad = await api.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: { ...bearer(tenant.key), 'if-match': 'abc' }, payload: { settings: {} } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('If-Match');

    for (const path of ['/api/v1/functions/', '/api/v1/functions/{id}']) {
      const method = path.endsWith('}') ? 'PATCH' : 'POST';
      const body = operation(method, path).requestBody!.content!['application/json']!.schema as { properties: { parameters: unknown } };
      expect(body.properties.parameters, path).toMatchObject({ type: 'object', properties: { type: { enum: ['object'] } }, required: ['type'] });
    }
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/functions',
      headers: bearer(tenant.key),
      payload: { name: 'no_type', description: 'd', parameters: {}, endpoint: 'https://example.com/f', secret: 'a-signing-secret-of-some-length' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('must be a JSON Schema with \\"type\\": \\"object\\"');
  });
});
