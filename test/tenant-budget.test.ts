// The default daily model budget as a tenant sees it through the API: the platform's
// DEFAULT_DAILY_BUDGET_USD for a tenant that set none, its own once it sets one, the default again
// after PATCH null; documented in the OpenAPI document. (The worker enforcing it: test/llm.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestApi, type TestApi } from './support/api.ts';

describe('default daily budget', () => {
  let api: TestApi;
  let key: string;

  beforeAll(async () => {
    api = await startTestApi('tenant_budget', { DEFAULT_DAILY_BUDGET_USD: '7.5' });
    const created = await api.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(api.adminKey), payload: { name: 'New shop', slug: 'new-shop' } });
    expect(created.statusCode, created.body).toBe(201);
    key = (created.json() as { apiKey: { key: string } }).apiKey.key;
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = () => api.app.inject({ url: '/api/v1/settings', headers: bearer(key) });
  const patch = async (settings: Record<string, unknown>) => {
    const { version } = (await get()).json() as { version: number };
    return api.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: bearer(key), payload: { version, settings } });
  };

  it('a new tenant sees the platform default, can change it, and returns to it with null', async () => {
    const fresh = (await get()).json();
    expect(fresh.settings.llm.dailyBudgetUsd).toBe(7.5);
    expect(fresh.stored).toEqual({});

    const raised = await patch({ llm: { dailyBudgetUsd: 40 } });
    expect(raised.statusCode, raised.body).toBe(200);
    expect(raised.json()).toMatchObject({ settings: { llm: { dailyBudgetUsd: 40 } }, stored: { llm: { dailyBudgetUsd: 40 } } });
    expect((await get()).json().settings.llm.dailyBudgetUsd).toBe(40);

    const none = await patch({ llm: { dailyBudgetUsd: 0 } });
    expect(none.json().settings.llm.dailyBudgetUsd).toBe(0);

    const back = await patch({ llm: { dailyBudgetUsd: null } });
    expect(back.statusCode, back.body).toBe(200);
    expect(back.json()).toMatchObject({ settings: { llm: { dailyBudgetUsd: 7.5 } }, stored: { llm: {} } });
  });

  it('refuses a budget that is not a number from 0 to 1,000,000 with 400, keeping the old one', async () => {
    await patch({ llm: { dailyBudgetUsd: 12 } });
    for (const bad of [-1, 1_000_001, 'unlimited']) {
      const res = await patch({ llm: { dailyBudgetUsd: bad } });
      expect(res.statusCode, String(bad)).toBe(400);
      expect(res.json().error.code).toBe('validation_error');
    }
    expect((await get()).json().settings.llm.dailyBudgetUsd).toBe(12);
  });

  it('documents the effective budget in the settings response of the OpenAPI document', async () => {
    const spec = (await api.app.inject({ url: '/docs/json' })).json();
    const schema = spec.paths['/api/v1/settings/'].get.responses['200'].content['application/json'].schema;
    expect(schema.properties.settings.properties.llm.properties.dailyBudgetUsd).toMatchObject({ type: 'number' });
    expect(schema.properties.settings.properties.llm.properties.dailyBudgetUsd.description).toContain('DEFAULT_DAILY_BUDGET_USD');
  });
});
