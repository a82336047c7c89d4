// /api/v1/functions: a tenant registers the functions its assistant may call; /api/v1/llm-credentials:
// its own model provider keys. What is refused
// (plain http, built-in names, schemas that cannot validate arguments, duplicates), and the
// signing secret never coming back out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

describe('tenant functions and provider keys API', () => {
  let api: TestApi;
  let key: string;
  const SECRET = 'whsec-order-status-0123456789';
  const valid = {
    name: 'order_status',
    description: 'Status of an order',
    parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
    endpoint: 'https://shop.example.com/functions/order-status',
    secret: SECRET,
  };

  beforeAll(async () => {
    api = await startTestApi('functions');
    const res = await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: 'Fn', slug: 'fn' } });
    key = res.json().apiKey.key;
  });
  afterAll(async () => {
    await api?.close();
  });

  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    api.app.inject({ method, url, headers: bearer(key), ...(payload === undefined ? {} : { payload: payload as object }) });

  it('registers, lists, updates and deletes a function; the secret is never returned', async () => {
    const created = await call('POST', '/api/v1/functions', valid);
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ name: 'order_status', timeoutMs: 10_000, enabled: true, endpoint: valid.endpoint });
    expect(created.body).not.toContain(SECRET);

    expect((await call('POST', '/api/v1/functions', valid)).statusCode).toBe(409);
    const list = await call('GET', '/api/v1/functions');
    expect(list.json().items.map((f: { name: string }) => f.name)).toEqual(['order_status']);
    expect(list.body).not.toContain(SECRET);

    const patched = await call('PATCH', `/api/v1/functions/${body.id}`, { timeoutMs: 2000, enabled: false, secret: 'another-secret-0123456789' });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ timeoutMs: 2000, enabled: false });
    expect(patched.body).not.toContain('another-secret');

    expect((await call('DELETE', `/api/v1/functions/${body.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/functions/${body.id}`)).statusCode).toBe(404);
    expect(api.logs.join('\n')).not.toContain(SECRET);
  });

  it("stores a tenant's own provider key encrypted and shows none of it", async () => {
    const KEY = 'sk-tenant-secret-key-9876';
    const set = await call('PUT', '/api/v1/llm-credentials/openai', { apiKey: KEY, baseUrl: 'https://llm.example.com/v1' });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ provider: 'openai', baseUrl: 'https://llm.example.com/v1', apiKey: '••••' });
    const list = await call('GET', '/api/v1/llm-credentials');
    expect(list.json().items).toHaveLength(1);
    expect(list.body + set.body + api.logs.join('\n')).not.toContain(KEY);
    const row = await api.db.tenantLlmCredential.findFirstOrThrow({ where: { provider: 'openai' } });
    expect(Buffer.from(row.ciphertext).toString('utf8')).not.toContain(KEY);
    expect((await call('PUT', '/api/v1/llm-credentials/openai', { apiKey: KEY, baseUrl: 'http://llm.example.com' })).statusCode).toBe(400);
    expect((await call('PUT', '/api/v1/llm-credentials/openai', { apiKey: KEY, baseUrl: 'https://169.254.169.254' })).statusCode).toBe(400);
    for (const baseUrl of ['https://localhost./v1', 'https://[::ffff:127.0.0.1]/v1', 'https://metadata.google.internal./v1']) {
      expect((await call('PUT', '/api/v1/llm-credentials/openai', { apiKey: KEY, baseUrl })).statusCode, baseUrl).toBe(400);
    }
    // Not a URL at all: a 400 naming the field, not a 500 from a check that parsed it anyway.
    const notUrl = await call('PUT', '/api/v1/llm-credentials/openai', { apiKey: KEY, baseUrl: 'not a url' });
    expect(notUrl.statusCode).toBe(400);
    expect(notUrl.json().error.message).toMatch(/baseUrl/);
    expect((await call('PUT', '/api/v1/llm-credentials/mistral', { apiKey: KEY })).statusCode).toBe(400);
    expect((await call('DELETE', '/api/v1/llm-credentials/openai')).statusCode).toBe(204);
    expect((await call('DELETE', '/api/v1/llm-credentials/openai')).statusCode).toBe(404);
  });

  it('refuses plain http, built-in names, unusable schemas, short secrets and unknown fields', async () => {
    const refused = [
      { ...valid, name: 'a', endpoint: 'http://shop.example.com/fn' },
      { ...valid, name: 'request_human' },
      { ...valid, name: 'b', parameters: { type: 'string' } },
      { ...valid, name: 'c', secret: 'short' },
      { ...valid, name: '1bad' },
      { ...valid, name: 'd', timeoutMs: 120_000 },
      { ...valid, name: 'e', extra: true },
      { ...valid, name: 'f', endpoint: 'https://169.254.169.254/latest/meta-data' },
      { ...valid, name: 'g', endpoint: 'https://localhost:8443/fn' },
      { ...valid, name: 'h', endpoint: 'https://10.1.2.3/fn' },
      { ...valid, name: 'i', endpoint: 'https://[::1]/fn' },
    ];
    for (const payload of refused) {
      const res = await call('POST', '/api/v1/functions', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });
});
