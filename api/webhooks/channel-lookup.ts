// Which tenant's channel a webhook delivery is for: (type, phone_number_id | page_id |
// Instagram account id) →
// { tenantId, channelId, appSecret }. Every POST needs this before it can verify the signature,
// so answers are cached in process memory: found channels for POSITIVE_TTL_MS, unknown ones for
// NEGATIVE_TTL_MS (a flood of deliveries for a number we do not serve costs one query per few
// seconds), at most MAX_ENTRIES entries (least recently used evicted first, via Map order).
// Concurrent misses for one key share one query.
//
// A disabled channel is treated as unknown: its deliveries are acknowledged and dropped.
// Decrypted app secrets live only in this cache (never logged, never returned by the API).
// A change to a channel is seen by every replica within POSITIVE_TTL_MS; the API calls
// invalidateChannelLookups() on update/delete so that this replica sees it at once.
import type { Channel, ChannelType, Prisma } from '../../generated/prisma/client.ts';
import { readChannelSecrets } from '../../lib/channels.ts';
import type { Keyring } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import { LookupCache } from '../../lib/lookup-cache.ts';

export type MetaChannelType = Extract<ChannelType, 'whatsapp' | 'messenger' | 'instagram'>;

export interface ResolvedChannel {
  tenantId: string;
  channelId: string;
  type: MetaChannelType;
  /** phone_number_id (WhatsApp), page id (Messenger) or Instagram account id (Instagram). */
  publicId: string;
  appSecret: string;
}

export interface ChannelLookupOptions {
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export const POSITIVE_TTL_MS = 30_000;
export const NEGATIVE_TTL_MS = 5_000;
export const MAX_ENTRIES = 10_000;

/** The column a webhook names each type's channels by (each unique per type). */
const PUBLIC_ID_COLUMN = { whatsapp: 'phoneNumberId', messenger: 'pageId', instagram: 'instagramAccountId' } as const satisfies Record<MetaChannelType, keyof Channel>;

function uniquePublicId(type: MetaChannelType, publicId: string): Prisma.ChannelWhereUniqueInput {
  if (type === 'whatsapp') return { type_phoneNumberId: { type, phoneNumberId: publicId } };
  if (type === 'instagram') return { type_instagramAccountId: { type, instagramAccountId: publicId } };
  return { type_pageId: { type, pageId: publicId } };
}

/** What to forget: everything, one channel by id, or one public id. */
export type ChannelLookupInvalidation = { channelId: string } | { type: MetaChannelType; publicId: string } | undefined;

/** Every live lookup of this process, so that invalidateChannelLookups reaches them all. */
const live = new Set<ChannelLookup>();

export class ChannelLookup {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #cache: LookupCache<ResolvedChannel>;

  constructor(db: Db, keyring: Keyring, options: ChannelLookupOptions = {}) {
    this.#db = db;
    this.#keyring = keyring;
    this.#cache = new LookupCache({
      positiveTtlMs: options.positiveTtlMs ?? POSITIVE_TTL_MS,
      negativeTtlMs: options.negativeTtlMs ?? NEGATIVE_TTL_MS,
      maxEntries: options.maxEntries ?? MAX_ENTRIES,
      ...(options.now && { now: options.now }),
    });
    live.add(this);
  }

  get size(): number {
    return this.#cache.size;
  }

  /** The active channel of this type with this public id, or null if we serve none. */
  find(type: MetaChannelType, publicId: string): Promise<ResolvedChannel | null> {
    return this.#cache.get(`${type}:${publicId}`, () => this.#load(type, publicId));
  }

  /**
   * The channels of this type with these public ids, by public id (unknown ones absent). Cached
   * answers (negative ones included) cost nothing; every id not cached is read by ONE query, so
   * a delivery naming unknown ids costs one query however many it names (the caller bounds how
   * many: MAX_CHANNELS_PER_DELIVERY).
   */
  async findMany(type: MetaChannelType, publicIds: readonly string[]): Promise<Map<string, ResolvedChannel>> {
    const found = new Map<string, ResolvedChannel>();
    const missing: string[] = [];
    for (const publicId of publicIds) {
      const cached = this.#cache.peek(`${type}:${publicId}`);
      if (!cached) missing.push(publicId);
      else if (cached.value) found.set(publicId, cached.value);
    }
    if (missing.length === 0) return found;
    const loaded = missing.length === 1 ? new Map([[missing[0]!, await this.#load(type, missing[0]!)]]) : await this.#loadMany(type, missing);
    await Promise.all(
      missing.map(async (publicId) => {
        const value = await this.#cache.get(`${type}:${publicId}`, async () => loaded.get(publicId) ?? null);
        if (value) found.set(publicId, value);
      }),
    );
    return found;
  }

  /** Forgets cached answers (all of them when called without an argument). */
  invalidate(what?: ChannelLookupInvalidation): void {
    if (!what) return this.#cache.forget();
    if ('channelId' in what) return this.#cache.forget((_key, value) => value?.channelId === what.channelId);
    const key = `${what.type}:${what.publicId}`;
    this.#cache.forget((k) => k === key);
  }

  /** Drops the cache and stops receiving invalidations (the app closes). */
  dispose(): void {
    this.#cache.forget();
    live.delete(this);
  }

  async #load(type: MetaChannelType, publicId: string): Promise<ResolvedChannel | null> {
    const channel = await this.#db.channel.findUnique({ where: uniquePublicId(type, publicId) });
    return channel ? this.#resolve(type, publicId, channel) : null;
  }

  async #loadMany(type: MetaChannelType, publicIds: string[]): Promise<Map<string, ResolvedChannel | null>> {
    const channels = await this.#db.channel.findMany({ where: { type, [PUBLIC_ID_COLUMN[type]]: { in: publicIds } } });
    const out = new Map<string, ResolvedChannel | null>();
    await Promise.all(
      channels.map(async (channel) => {
        const publicId = channel[PUBLIC_ID_COLUMN[type]] ?? '';
        out.set(publicId, await this.#resolve(type, publicId, channel));
      }),
    );
    return out;
  }

  async #resolve(type: MetaChannelType, publicId: string, channel: { id: string; tenantId: string; status: string }): Promise<ResolvedChannel | null> {
    if (channel.status !== 'active') return null;
    const { appSecret } = await readChannelSecrets(this.#db, this.#keyring, channel.id);
    if (!appSecret) throw new Error(`channel ${channel.id} has no app secret`);
    return { tenantId: channel.tenantId, channelId: channel.id, type, publicId, appSecret };
  }
}

/**
 * Forgets cached channel answers in every lookup of this process: call it after a channel's
 * public id, app secret or status changes, or it is deleted (other replicas catch up within
 * POSITIVE_TTL_MS).
 */
export function invalidateChannelLookups(what?: ChannelLookupInvalidation): void {
  for (const lookup of live) lookup.invalidate(what);
}
