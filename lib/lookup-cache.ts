// A small in-process cache for lookups every request needs before it can do anything (which
// channel a webhook is for, which widget a socket names): answers kept for a while, unknown keys
// for a shorter while (a flood for a key we do not serve costs one query per few seconds), at
// most `maxEntries` (least recently used evicted first, via Map order), and concurrent misses for
// one key sharing one load.
export interface LookupCacheOptions {
  positiveTtlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  now?: () => number;
}

export class LookupCache<V> {
  readonly #options: Required<LookupCacheOptions>;
  readonly #entries = new Map<string, { value: V | null; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<V | null>>();
  /** Bumped by every forget: a load that started before it must not be remembered. */
  #generation = 0;

  constructor(options: LookupCacheOptions) {
    this.#options = { now: Date.now, ...options };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached answer for `key` if there is a live one (`value` null: known not to exist). */
  peek(key: string): { value: V | null } | undefined {
    const cached = this.#entries.get(key);
    return cached && cached.expiresAt > this.#options.now() ? { value: cached.value } : undefined;
  }

  /** The cached answer for `key`, or `load`'s (null: no such thing). */
  get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const cached = this.#entries.get(key);
    if (cached && cached.expiresAt > this.#options.now()) {
      // Refresh its place in the LRU order.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return Promise.resolve(cached.value);
    }
    if (cached) this.#entries.delete(key);
    let pending = this.#inFlight.get(key);
    if (!pending) {
      const generation = this.#generation;
      const settle = () => {
        if (this.#inFlight.get(key) === pending) this.#inFlight.delete(key);
      };
      pending = load().then(
        (value) => {
          settle();
          if (generation === this.#generation) this.#remember(key, value);
          return value;
        },
        (err: unknown) => {
          settle();
          throw err;
        },
      );
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Forgets every answer, or those `which` picks; loads under way are not remembered. */
  forget(which?: (key: string, value: V | null) => boolean): void {
    this.#generation++;
    this.#inFlight.clear();
    if (!which) return this.#entries.clear();
    for (const [key, entry] of this.#entries) if (which(key, entry.value)) this.#entries.delete(key);
  }

  #remember(key: string, value: V | null): void {
    const { now, positiveTtlMs, negativeTtlMs, maxEntries } = this.#options;
    this.#entries.set(key, { value, expiresAt: now() + (value ? positiveTtlMs : negativeTtlMs) });
    while (this.#entries.size > maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}
