// Tenants, API keys and channels against a real database: keys stored as prefix + hash only,
// channel secrets stored as ciphertext bound to their row, verify tokens only hashed.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../test/support/config.ts';
import { createMigratedDatabase } from '../test/support/database.ts';
import {
  ChannelConflictError,
  ChannelInputError,
  createChannel,
  deleteChannel,
  getChannel,
  maskSecret,
  readChannelSecrets,
  updateChannel,
} from './channels.ts';
import { apiKeyMatches, parseApiKey, sha256, type Keyring } from './crypto.ts';
import { createDb, type Db } from './db.ts';
import { forTenant, type TenantDb } from './tenant-db.ts';
import { createApiKey, createTenant, revokeApiKey, rotateApiKey, TenantSlugTakenError } from './tenants.ts';

const token = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

describe('tenants and channels', () => {
  let databaseUrl: string;
  let db: Db;
  let keyring: Keyring;
  let tenantId: string;
  let tdb: TenantDb;

  beforeAll(async () => {
    databaseUrl = await createMigratedDatabase('channels');
    const config = testConfig({ DATABASE_URL: databaseUrl });
    keyring = config.SECRETS_KEYS;
    db = createDb(config, 'channels-test');
  });

  afterAll(async () => {
    await db?.$disconnect();
  });

  it('creates a tenant with its first key, stored as prefix and hash only', async () => {
    const { tenant, apiKey } = await createTenant(db, { name: 'ACME', slug: 'acme', settings: { locale: 'de' } });
    tenantId = tenant.id;
    tdb = forTenant(db, tenantId);
    expect(tenant.settings).toEqual({ locale: 'de' });
    const parsed = parseApiKey(apiKey.key)!;
    expect(parsed.prefix).toBe(apiKey.prefix);
    const row = await db.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(row.scope).toBe('tenant');
    expect(apiKeyMatches(parsed.secret, row.secretHash)).toBe(true);
    expect(Buffer.from(row.secretHash).toString('utf8')).not.toContain(parsed.secret);
    await expect(createTenant(db, { name: 'Other', slug: 'acme' })).rejects.toThrow(TenantSlugTakenError);
    await expect(createTenant(db, { name: 'Bad', slug: 'bad', settings: { locale: 42 } })).rejects.toThrow();
  });

  it('rotates a key with a grace period and revokes keys', async () => {
    const first = await createApiKey(tdb, { name: 'ci', scope: 'agent' });
    const now = new Date();
    const rotated = (await rotateApiKey(tdb, first.id, 3600, now))!;
    expect(rotated.apiKey.scope).toBe('agent');
    expect(rotated.apiKey.key).not.toBe(first.key);
    expect(rotated.previous.expiresAt.getTime()).toBe(now.getTime() + 3600_000);
    expect(await revokeApiKey(tdb, rotated.apiKey.id)).toBe(true);
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: rotated.apiKey.id } })).revokedAt).not.toBeNull();
    expect(await rotateApiKey(tdb, rotated.apiKey.id)).toBeUndefined();
    const other = await createTenant(db, { name: 'Other', slug: 'other' });
    expect(await rotateApiKey(tdb, other.apiKey.id)).toBeUndefined();
    expect(await revokeApiKey(tdb, other.apiKey.id)).toBe(false);
  });

  it('creates a WhatsApp channel: public ids in columns, secrets encrypted, verify token hashed', async () => {
    const input = {
      type: 'whatsapp' as const,
      name: 'Support line',
      phoneNumberId: '100200300',
      wabaId: '900800',
      accessToken: token('EAAG'),
      appSecret: token('appsecret'),
      verifyToken: token('verify'),
    };
    const view = await createChannel(tdb, keyring, input);
    expect(view).toMatchObject({ type: 'whatsapp', phoneNumberId: '100200300', wabaId: '900800', hasVerifyToken: true });
    expect(view.secrets).toEqual({ accessToken: '••••', appSecret: '••••' });
    expect(JSON.stringify(view)).not.toContain(input.accessToken);

    const row = await db.channel.findUniqueOrThrow({ where: { id: view.id } });
    expect(Buffer.from(row.verifyTokenHash!).equals(sha256(input.verifyToken))).toBe(true);
    expect(await readChannelSecrets(db, keyring, view.id)).toEqual({ accessToken: input.accessToken, appSecret: input.appSecret });

    // Raw SQL: no plaintext anywhere in the channel tables.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const dump = await client.query(`SELECT (SELECT json_agg(s)::text FROM channel_secrets s) AS secrets, (SELECT json_agg(c)::text FROM channels c) AS channels`);
      const text = `${dump.rows[0].secrets}${dump.rows[0].channels}`;
      for (const plain of [input.accessToken, input.appSecret, input.verifyToken]) {
        expect(text).not.toContain(plain);
        expect(text).not.toContain(Buffer.from(plain).toString('hex'));
      }
    } finally {
      await client.end();
    }

    // A ciphertext copied to another secret's row does not decrypt there.
    const [access, app] = await db.channelSecret.findMany({ where: { channelId: view.id }, orderBy: { name: 'asc' } });
    await db.channelSecret.update({ where: { id: app!.id }, data: { ciphertext: access!.ciphertext, iv: access!.iv, authTag: access!.authTag } });
    await expect(readChannelSecrets(db, keyring, view.id)).rejects.toThrow(/does not decrypt/);
    await updateChannel(tdb, keyring, view.id, { appSecret: input.appSecret });
    expect((await readChannelSecrets(db, keyring, view.id)).appSecret).toBe(input.appSecret);

    await expect(createChannel(tdb, keyring, { ...input, verifyToken: token('v2') })).rejects.toThrow(ChannelConflictError);
  });

  it('creates Messenger and web chat channels', async () => {
    const messenger = await createChannel(tdb, keyring, {
      type: 'messenger',
      name: 'Page',
      pageId: '5550001',
      pageAccessToken: token('EAAP'),
      appSecret: token('app'),
      verifyToken: token('verify'),
    });
    expect(Object.keys(messenger.secrets).sort()).toEqual(['appSecret', 'pageAccessToken']);
    const webchat = await createChannel(tdb, keyring, { type: 'webchat', name: 'Site', allowedOrigins: ['https://shop.example.com'] });
    expect(webchat.widgetId).toMatch(/^wc_/);
    expect(webchat.allowedOrigins).toEqual(['https://shop.example.com']);
    expect(webchat.secrets).toEqual({});
    await expect(createChannel(tdb, keyring, { type: 'messenger', name: 'x', pageId: 'abc' } as never)).rejects.toThrow();
  });

  it('updates, replaces secrets, refuses fields of another type, and deletes', async () => {
    const channel = await createChannel(tdb, keyring, {
      type: 'messenger',
      name: 'Second page',
      pageId: '5550002',
      pageAccessToken: token('EAAP'),
      appSecret: token('app'),
      verifyToken: token('verify'),
    });
    const newToken = token('EAAPnew');
    const updated = (await updateChannel(tdb, keyring, channel.id, { name: 'Renamed', pageAccessToken: newToken, status: 'disabled' }))!;
    expect(updated).toMatchObject({ name: 'Renamed', status: 'disabled' });
    expect(updated.secrets.pageAccessToken).toBe(maskSecret(newToken));
    expect((await readChannelSecrets(db, keyring, channel.id)).pageAccessToken).toBe(newToken);
    await expect(updateChannel(tdb, keyring, channel.id, { phoneNumberId: '1' })).rejects.toThrow(ChannelInputError);

    const other = forTenant(db, (await createTenant(db, { name: 'T3', slug: 't3' })).tenant.id);
    expect(await getChannel(other, keyring, channel.id)).toBeUndefined();
    expect(await updateChannel(other, keyring, channel.id, { name: 'hijack' })).toBeUndefined();
    expect(await deleteChannel(other, channel.id)).toBe(false);

    expect(await deleteChannel(tdb, channel.id)).toBe(true);
    expect(await getChannel(tdb, keyring, channel.id)).toBeUndefined();
    expect(await db.channelSecret.count({ where: { channelId: channel.id } })).toBe(0);
  });

  it('masks secrets whole, showing none of their characters', () => {
    expect(maskSecret('EAAG1234567890abcd')).toBe('••••');
    expect(maskSecret('short')).toBe('••••');
  });
});
