// Function signing secrets and tenant provider keys survive a key rotation (npm run secrets:rotate).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../test/support/config.ts';
import { createMigratedDatabase } from '../test/support/database.ts';
import { loadConfig } from './config.ts';
import { createDb, type Db } from './db.ts';
import { llmCredentialKey, rotateLlmCredentials, setLlmCredential } from './llm-credentials.ts';
import { forTenant } from './tenant-db.ts';
import { createTenantFunction, functionSecret, httpsUrl, isInternalHost, rotateFunctionSecrets, tenantUrl } from './tenant-functions.ts';
import { createTenant } from './tenants.ts';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('assistant secrets', () => {
  let db: Db;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = testEnv({ DATABASE_URL: await createMigratedDatabase('assistant-secrets'), SECRETS_KEYS: key('old') });
    db = createDb(loadConfig(env), 'assistant-secrets-test');
  });
  afterAll(async () => {
    await db?.$disconnect();
  });

  it('re-encrypts function secrets and provider keys under the current key', async () => {
    const old = loadConfig(env).SECRETS_KEYS;
    const { tenant } = await createTenant(db, { name: 'S', slug: 's' });
    const tdb = forTenant(db, tenant.id);
    await createTenantFunction(tdb, old, { name: 'f', description: 'd', parameters: { type: 'object' }, endpoint: 'https://example.com/f', secret: 'function-secret-123456' });
    await setLlmCredential(tdb, old, tenant.id, 'openai', { apiKey: 'sk-own-key-123456' });

    const rotated = loadConfig({ ...env, SECRETS_KEYS: `${key('new')},${env.SECRETS_KEYS}` }).SECRETS_KEYS;
    expect(await rotateFunctionSecrets(db, rotated)).toEqual({ total: 1, alreadyCurrent: 0, reencrypted: 1, failed: 0 });
    expect(await rotateLlmCredentials(db, rotated)).toEqual({ total: 1, alreadyCurrent: 0, reencrypted: 1, failed: 0 });
    expect(await rotateFunctionSecrets(db, rotated)).toEqual({ total: 1, alreadyCurrent: 1, reencrypted: 0, failed: 0 });

    const onlyNew = [rotated[0]!];
    expect(functionSecret(onlyNew, await db.tenantFunction.findFirstOrThrow())).toBe('function-secret-123456');
    expect(llmCredentialKey(onlyNew, await db.tenantLlmCredential.findFirstOrThrow())).toBe('sk-own-key-123456');
    expect(await rotateLlmCredentials(db, loadConfig({ ...env, SECRETS_KEYS: key('other') }).SECRETS_KEYS)).toEqual({ total: 1, alreadyCurrent: 0, reencrypted: 0, failed: 1 });
  });

  it('recognises internal hosts written in a URL', () => {
    for (const h of ['localhost', '127.0.0.1', '10.0.0.5', '172.20.1.1', '192.168.1.1', '169.254.169.254', '[::1]', 'metadata.google.internal', '100.64.0.1', '198.18.0.1', '[fd00::1]', '[fe80::1]', '[64:ff9b::a00:1]']) {
      expect(isInternalHost(h), h).toBe(true);
    }
    for (const h of ['example.com', '8.8.8.8', '172.32.0.1', 'api.openai.com', 'fcc.gov', 'fd-hooks.example.com', 'fe80.example.com']) expect(isInternalHost(h), h).toBe(false);
  });

  it('refuses endpoint URLs with a user name or password, with or without the development switch', () => {
    expect(httpsUrl.safeParse('https://user:pass@hooks.example.com/x').success).toBe(false);
    expect(tenantUrl(true).safeParse('http://user@127.0.0.1:4020/x').success).toBe(false);
    expect(tenantUrl(true).safeParse('http://127.0.0.1:4020/x').success).toBe(true);
    expect(tenantUrl(false).safeParse('http://127.0.0.1:4020/x').success).toBe(false);
  });
});
