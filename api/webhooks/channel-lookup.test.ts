// The webhook channel cache (with a stand-in for the two queries it makes) and the signature check.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encryptSecret, type Keyring } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import { ChannelLookup, invalidateChannelLookups } from './channel-lookup.ts';
import { parseSignatureHeader, signatureHeader, signatureMatches } from './signature.ts';

const keyring: Keyring = [{ id: 'k1', key: randomBytes(32) }];

interface FakeChannel {
  id: string;
  tenantId: string;
  type: 'whatsapp' | 'messenger' | 'instagram';
  phoneNumberId?: string;
  pageId?: string;
  instagramAccountId?: string;
  status: 'active' | 'disabled';
  appSecret: string;
}

type PublicIdColumn = 'phoneNumberId' | 'pageId' | 'instagramAccountId';

function fakeDb(channels: FakeChannel[]) {
  const calls = { channel: 0, channels: 0, secrets: 0 };
  let gate: Promise<void> = Promise.resolve();
  const db = {
    channel: {
      async findUnique({ where }: { where: Record<string, { type: string; phoneNumberId?: string; pageId?: string; instagramAccountId?: string }> }) {
        calls.channel++;
        await gate;
        const { type, ...ids } = Object.values(where)[0]!;
        const [column, value] = Object.entries(ids)[0]!;
        return channels.find((c) => c.type === type && c[column as PublicIdColumn] === value) ?? null;
      },
      async findMany({ where }: { where: { type: string } & Partial<Record<PublicIdColumn, { in: string[] }>> }) {
        calls.channels++;
        await gate;
        const { type, ...ids } = where;
        const [column, { in: values }] = Object.entries(ids)[0]! as [PublicIdColumn, { in: string[] }];
        return channels.filter((c) => c.type === type && values.includes(c[column] ?? ''));
      },
    },
    channelSecret: {
      async findMany({ where }: { where: { channelId: string } }) {
        calls.secrets++;
        const c = channels.find((x) => x.id === where.channelId)!;
        const sealed = encryptSecret(keyring, c.appSecret, `${c.id}:appSecret`);
        return [{ channelId: c.id, name: 'appSecret', ...sealed }];
      },
    },
  };
  return {
    db: db as unknown as Db,
    calls,
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => release();
    },
  };
}

const wa: FakeChannel = { id: 'c1', tenantId: 't1', type: 'whatsapp', phoneNumberId: '111', status: 'active', appSecret: 'secret-one' };

describe('ChannelLookup', () => {
  it('finds Instagram channels by their account id, not by their page id', async () => {
    const ig = (id: string, account: string): FakeChannel => ({ id, tenantId: 't1', type: 'instagram', instagramAccountId: account, pageId: `p${account}`, status: 'active', appSecret: `secret-${id}` });
    const fake = fakeDb([ig('c7', '1784001'), ig('c8', '1784002')]);
    const lookup = new ChannelLookup(fake.db, keyring);
    expect(await lookup.find('instagram', '1784001')).toMatchObject({ channelId: 'c7', type: 'instagram', publicId: '1784001', appSecret: 'secret-c7' });
    const found = await lookup.findMany('instagram', ['1784002', 'p1784001', '1784003']);
    expect([...found.keys()]).toEqual(['1784002']);
    expect(found.get('1784002')).toMatchObject({ channelId: 'c8', publicId: '1784002' });
  });

  it('finds the channels of a delivery with one query for every id not cached, unknown ones remembered', async () => {
    const fake = fakeDb([wa, { ...wa, id: 'c2', phoneNumberId: '222', appSecret: 'secret-two' }]);
    const lookup = new ChannelLookup(fake.db, keyring);
    const ids = ['111', '222', ...Array.from({ length: 8 }, (_, i) => `9${i}`)];
    const found = await lookup.findMany('whatsapp', ids);
    expect([...found.keys()].sort()).toEqual(['111', '222']);
    expect(found.get('222')).toMatchObject({ channelId: 'c2', appSecret: 'secret-two' });
    expect(fake.calls).toMatchObject({ channel: 0, channels: 1 });
    // Known and unknown ids alike are answered from the cache now; a new one costs one query.
    await lookup.findMany('whatsapp', ids);
    expect(fake.calls.channels).toBe(1);
    await lookup.findMany('whatsapp', [...ids, '1234', '5678']);
    expect(fake.calls.channels).toBe(2);
    lookup.dispose();
  });

  it('resolves a channel with its decrypted app secret and caches it for the TTL', async () => {
    let now = 1_000;
    const fake = fakeDb([wa]);
    const lookup = new ChannelLookup(fake.db, keyring, { now: () => now, positiveTtlMs: 30_000 });
    expect(await lookup.find('whatsapp', '111')).toEqual({ tenantId: 't1', channelId: 'c1', type: 'whatsapp', publicId: '111', appSecret: 'secret-one' });
    now += 29_000;
    await lookup.find('whatsapp', '111');
    expect(fake.calls.channel).toBe(1);
    now += 2_000;
    await lookup.find('whatsapp', '111');
    expect(fake.calls.channel).toBe(2);
    lookup.dispose();
  });

  it('caches unknown and disabled channels briefly, and keeps types apart', async () => {
    let now = 0;
    const fake = fakeDb([wa, { ...wa, id: 'c2', phoneNumberId: '222', status: 'disabled' }]);
    const lookup = new ChannelLookup(fake.db, keyring, { now: () => now, negativeTtlMs: 5_000 });
    expect(await lookup.find('whatsapp', '999')).toBeNull();
    expect(await lookup.find('whatsapp', '222')).toBeNull();
    expect(await lookup.find('messenger', '111')).toBeNull();
    await lookup.find('whatsapp', '999');
    expect(fake.calls.channel).toBe(3);
    now += 5_001;
    await lookup.find('whatsapp', '999');
    expect(fake.calls.channel).toBe(4);
    expect(fake.calls.secrets).toBe(0); // secrets of a disabled channel are never decrypted
    lookup.dispose();
  });

  it('shares one query between concurrent misses', async () => {
    const fake = fakeDb([wa]);
    const lookup = new ChannelLookup(fake.db, keyring);
    const release = fake.hold();
    const pending = Promise.all([lookup.find('whatsapp', '111'), lookup.find('whatsapp', '111'), lookup.find('whatsapp', '111')]);
    release();
    const results = await pending;
    expect(results.every((r) => r?.channelId === 'c1')).toBe(true);
    expect(fake.calls.channel).toBe(1);
    lookup.dispose();
  });

  it('keeps found channels when a flood of unknown ids fills its bound', async () => {
    const fake = fakeDb([wa]);
    const lookup = new ChannelLookup(fake.db, keyring, { maxEntries: 3 });
    await lookup.find('whatsapp', '111');
    for (let i = 0; i < 10; i++) await lookup.find('whatsapp', `9${i}`);
    expect(lookup.size).toBe(4); // the channel and the three most recent unknown ids
    const before = fake.calls.channel;
    expect(await lookup.find('whatsapp', '111')).toMatchObject({ channelId: 'c1' });
    expect(fake.calls.channel).toBe(before);
    lookup.dispose();
  });

  it('stays within its size bound, evicting the least recently used', async () => {
    const channels = Array.from({ length: 5 }, (_, i) => ({ ...wa, id: `c${i}`, phoneNumberId: String(i) }));
    const fake = fakeDb(channels);
    const lookup = new ChannelLookup(fake.db, keyring, { maxEntries: 3 });
    for (const i of [0, 1, 2]) await lookup.find('whatsapp', String(i));
    await lookup.find('whatsapp', '0'); // 0 is now the most recent
    await lookup.find('whatsapp', '3'); // evicts 1
    expect(lookup.size).toBe(3);
    const before = fake.calls.channel;
    await lookup.find('whatsapp', '0');
    await lookup.find('whatsapp', '2');
    expect(fake.calls.channel).toBe(before);
    await lookup.find('whatsapp', '1');
    expect(fake.calls.channel).toBe(before + 1);
    lookup.dispose();
  });

  it('forgets on invalidation: by channel id, by public id, everything, and in every live lookup', async () => {
    const channel = { ...wa };
    const fake = fakeDb([channel]);
    const lookup = new ChannelLookup(fake.db, keyring);
    await lookup.find('whatsapp', '111');
    channel.appSecret = 'rotated-secret';
    expect((await lookup.find('whatsapp', '111'))?.appSecret).toBe('secret-one');
    lookup.invalidate({ channelId: 'c1' });
    expect((await lookup.find('whatsapp', '111'))?.appSecret).toBe('rotated-secret');

    channel.appSecret = 'third';
    lookup.invalidate({ type: 'whatsapp', publicId: '111' });
    expect((await lookup.find('whatsapp', '111'))?.appSecret).toBe('third');

    channel.appSecret = 'fourth';
    invalidateChannelLookups({ channelId: 'c1' });
    expect((await lookup.find('whatsapp', '111'))?.appSecret).toBe('fourth');
    invalidateChannelLookups();
    expect(lookup.size).toBe(0);
    lookup.dispose();
  });

  it('does not remember an answer loaded before an invalidation', async () => {
    const channel = { ...wa };
    const fake = fakeDb([channel]);
    const lookup = new ChannelLookup(fake.db, keyring);
    const release = fake.hold();
    const stale = lookup.find('whatsapp', '111');
    lookup.invalidate();
    release();
    await stale;
    expect(lookup.size).toBe(0);
    lookup.dispose();
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"object":"page","entry":[]}');

  it('accepts the HMAC-SHA256 of the raw body under the app secret, and nothing else', () => {
    const header = signatureHeader(body, 'app-secret');
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    const digest = parseSignatureHeader(header)!;
    expect(signatureMatches(body, 'app-secret', digest)).toBe(true);
    expect(signatureMatches(body, 'other-secret', digest)).toBe(false);
    expect(signatureMatches(Buffer.from(`${body} `), 'app-secret', digest)).toBe(false);
    expect(parseSignatureHeader(header.toUpperCase().replace('SHA256=', 'sha256='))).toEqual(digest);
  });

  it('refuses missing and malformed headers', () => {
    for (const bad of [undefined, '', 'sha256=', 'sha1=0123', `sha256=${'0'.repeat(63)}`, `sha256=${'g'.repeat(64)}`, ['sha256=00']]) {
      expect(parseSignatureHeader(bad as string | undefined)).toBeUndefined();
    }
  });
});
