// The settings' history: every write is a version with its author (API key or user), listed
// newest first, and any earlier one can be restored (as a new version); stale versions conflict,
// and another tenant's history is out of reach.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { createUser, sessionFor, withSession } from './support/team.ts';

describe('settings versions', () => {
  let api: TestApi;
  let tenantId: string;
  let key: string;
  let ownerHeaders: Record<string, string>;
  let agentHeaders: Record<string, string>;

  beforeAll(async () => {
    api = await startTestApi('settings_versions');
    const created = await createTenant(api.db, { name: 'Versions', slug: `versions-${Date.now()}`, settings: { locale: 'de' } });
    tenantId = created.tenant.id;
    key = created.apiKey.key;
    const owner = await createUser(api.db, tenantId, { email: 'owner@versions.example.com', role: 'owner' });
    ownerHeaders = withSession(await sessionFor(api.db, api.config, owner));
    const agent = await createUser(api.db, tenantId, { email: 'agent@versions.example.com', role: 'agent' });
    agentHeaders = withSession(await sessionFor(api.db, api.config, agent));
  });

  afterAll(async () => {
    await api?.close();
  });

  const patch = (headers: Record<string, string>, version: number, settings: Record<string, unknown>) =>
    api.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: { ...headers, 'if-match': `"${version}"` }, payload: { settings } });

  it('records each write with its author, newest first, the creation settings included', async () => {
    expect((await patch(bearer(key), 1, { llm: { temperature: 0.7 } })).statusCode).toBe(200);
    expect((await patch(ownerHeaders, 2, { llm: { temperature: 0.9 } })).statusCode).toBe(200);

    const res = await api.app.inject({ url: '/api/v1/settings/versions', headers: ownerHeaders });
    expect(res.statusCode).toBe(200);
    const { items, nextBefore } = res.json();
    expect(nextBefore).toBeNull();
    expect(items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(items[0]).toMatchObject({ settings: { locale: 'de', llm: { temperature: 0.9 } }, author: { kind: 'user', name: 'owner@versions.example.com' }, restoredFrom: null });
    expect(items[1]).toMatchObject({ settings: { locale: 'de', llm: { temperature: 0.7 } }, author: { kind: 'api_key', name: 'default' } });
    expect(items[2]).toMatchObject({ settings: { locale: 'de' }, author: { kind: 'platform', id: null } });
    // The rows sit in Postgres, scoped to the tenant.
    expect(await forTenant(api.db, tenantId).settingsVersion.count()).toBe(3);
  });

  it('pages through the history with before', async () => {
    const first = (await api.app.inject({ url: '/api/v1/settings/versions?limit=2', headers: bearer(key) })).json();
    expect(first.items.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    expect(first.nextBefore).toBe(2);
    const second = (await api.app.inject({ url: `/api/v1/settings/versions?limit=2&before=${first.nextBefore}`, headers: bearer(key) })).json();
    expect(second.items.map((v: { version: number }) => v.version)).toEqual([1]);
    expect(second.nextBefore).toBeNull();
  });

  it('restores an earlier version as a new one, and refuses a stale or missing version', async () => {
    const stale = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/2/restore', headers: { ...ownerHeaders, 'if-match': '"2"' } });
    expect(stale.statusCode, stale.body).toBe(409);
    expect(stale.json().error.code).toBe('version_conflict');
    const noVersion = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/2/restore', headers: ownerHeaders });
    expect(noVersion.statusCode).toBe(428);
    const missing = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/99/restore', headers: ownerHeaders, payload: { version: 3 } });
    expect(missing.statusCode).toBe(404);

    const restored = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/2/restore', headers: ownerHeaders, payload: { version: 3 } });
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({ version: 4, settings: { llm: { temperature: 0.7 } }, stored: { locale: 'de', llm: { temperature: 0.7 } } });
    expect(restored.headers.etag).toBe('"4"');
    const row = await forTenant(api.db, tenantId).settingsVersion.findFirstOrThrow({ where: { version: 4 } });
    expect(row).toMatchObject({ restoredFrom: 2, authorKind: 'user', authorName: 'owner@versions.example.com' });
    const tenant = await forTenant(api.db, tenantId).tenant.findFirstOrThrow();
    expect(tenant).toMatchObject({ settingsVersion: 4, settings: { locale: 'de', llm: { temperature: 0.7 } } });
  });

  it('answers 400 with the path of the field for an invalid value, and records no version', async () => {
    const res = await patch(ownerHeaders, 4, { llm: { temperature: 5 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([expect.objectContaining({ path: 'llm.temperature' })]);
    expect(await forTenant(api.db, tenantId).settingsVersion.count()).toBe(4);
  });

  it('is for owners, admins and tenant keys: an agent reads nothing of it', async () => {
    expect((await api.app.inject({ url: '/api/v1/settings/versions', headers: agentHeaders })).statusCode).toBe(403);
    expect((await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/1/restore', headers: agentHeaders, payload: { version: 4 } })).statusCode).toBe(403);
  });

  it("records the operator's replacement as a platform version, which the tenant can restore from", async () => {
    const res = await api.app.inject({ method: 'PATCH', url: `/api/v1/tenants/${tenantId}`, headers: bearer(api.adminKey), payload: { settings: { locale: 'fr' } } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ settingsVersion: 5, settings: { locale: 'fr' } });
    const [latest] = (await api.app.inject({ url: '/api/v1/settings/versions?limit=1', headers: bearer(key) })).json().items;
    expect(latest).toMatchObject({ version: 5, settings: { locale: 'fr' }, author: { kind: 'platform', id: null } });
    const restored = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/4/restore', headers: { ...bearer(key), 'if-match': '"5"' } });
    expect(restored.json()).toMatchObject({ version: 6, stored: { locale: 'de', llm: { temperature: 0.7 } } });
  });

  it("another tenant sees none of it and cannot restore it", async () => {
    const other = await createTenant(api.db, { name: 'Other', slug: `versions-other-${Date.now()}` });
    const list = (await api.app.inject({ url: '/api/v1/settings/versions', headers: bearer(other.apiKey.key) })).json();
    expect(list.items).toEqual([]);
    const restore = await api.app.inject({ method: 'POST', url: '/api/v1/settings/versions/2/restore', headers: bearer(other.apiKey.key), payload: { version: 1 } });
    expect(restore.statusCode).toBe(404);
    expect((await forTenant(api.db, tenantId).tenant.findFirstOrThrow()).settingsVersion).toBe(6);
  });
});
