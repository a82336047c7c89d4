// `npm run secrets:rotate` against a real database: after a new key is put first, every channel
// secret is re-encrypted under it, a second run changes nothing, and nothing secret is printed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannel, readChannelSecrets } from '../lib/channels.ts';
import { createDb, type Db } from '../lib/db.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { testEnv } from '../test/support/config.ts';
import { createMigratedDatabase } from '../test/support/database.ts';
import { loadConfig } from '../lib/config.ts';
import { rotateSecrets } from './rotate-secrets.ts';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('secrets:rotate', () => {
  let db: Db;
  let env: Record<string, string>;
  const plaintexts: string[] = [];
  let channelIds: string[] = [];

  beforeAll(async () => {
    const oldKey = key('old');
    env = testEnv({ DATABASE_URL: await createMigratedDatabase('rotate'), SECRETS_KEYS: oldKey });
    const config = loadConfig(env);
    db = createDb(config, 'rotate-test');
    const { tenant } = await createTenant(db, { name: 'R', slug: 'r' });
    const tdb = forTenant(db, tenant.id);
    for (let i = 0; i < 3; i++) {
      const accessToken = `EAAG${randomBytes(16).toString('hex')}`;
      const appSecret = `app${randomBytes(16).toString('hex')}`;
      plaintexts.push(accessToken, appSecret);
      const view = await createChannel(tdb, config.SECRETS_KEYS, {
        type: 'whatsapp',
        name: `wa ${i}`,
        phoneNumberId: `70000${i}`,
        wabaId: '1',
        accessToken,
        appSecret,
        verifyToken: `verify-${randomBytes(8).toString('hex')}`,
      });
      channelIds.push(view.id);
    }
    // The new key goes first; the old one stays to decrypt.
    env = { ...env, SECRETS_KEYS: `${key('new')},${oldKey}` };
  });

  afterAll(async () => {
    await db?.$disconnect();
  });

  it('re-encrypts every secret under the current key, once', async () => {
    const lines: string[] = [];
    const first = await rotateSecrets(env, (l) => lines.push(l));
    expect(first).toMatchObject({ code: 0, result: { total: 6, reencrypted: 6, alreadyCurrent: 0, failed: 0 } });
    expect(await db.channelSecret.count({ where: { keyId: 'new' } })).toBe(6);

    const again = await rotateSecrets(env, (l) => lines.push(l));
    expect(again).toMatchObject({ code: 0, result: { total: 6, reencrypted: 0, alreadyCurrent: 6, failed: 0 } });

    // Still readable with only the new key.
    const onlyNew = loadConfig({ ...env, SECRETS_KEYS: env.SECRETS_KEYS!.split(',')[0]! }).SECRETS_KEYS;
    const read = await Promise.all(channelIds.map((id) => readChannelSecrets(db, onlyNew, id)));
    expect(read.flatMap((r) => [r.accessToken, r.appSecret])).toEqual(plaintexts);

    const output = lines.join('\n');
    expect(output).toContain('6 re-encrypted');
    for (const p of plaintexts) expect(output).not.toContain(p);
  });

  it('counts secrets it cannot decrypt as failures and exits non-zero', async () => {
    const lines: string[] = [];
    const result = await rotateSecrets({ ...env, SECRETS_KEYS: key('newer') }, (l) => lines.push(l));
    expect(result).toMatchObject({ code: 1, result: { total: 6, failed: 6, reencrypted: 0 } });
  });

  it('runs as `npm run secrets:rotate`', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/rotate-secrets.ts'], { env: { ...process.env, ...env }, cwd: process.cwd() });
    expect(stdout).toMatch(/6 in total, 6 already under key "new", 0 re-encrypted, 0 failed/);
  });
});
