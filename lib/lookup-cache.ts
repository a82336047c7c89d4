// A small in-process cache for lookups every request needs before it can do anything (which
// channel a webhook is for, which widget a socket names): answers kept for a while, unknown keys
// for a shorter while (a flood for a key we do not serve costs one query per few seconds), and
// concurrent misses for one key sharing one load. Found and unknown answers are kept apart, each
// at most `maxEntries` (least recently used evicted first, via Map order): a flood of made-up keys
// evicts only other unknown keys, never the answers real traffic needs.
export interface LookupCacheOptions {
  positiveTtlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  now?: () => number;
}

type Entry<V> = { value: V | null; expiresAt: number };

export class LookupCache<V> {
  readonly #options: Required<LookupCacheOptions>;
  readonly #found = new Map<string, Entry<V>>();
  readonly #unknown = new Map<string, Entry<V>>();
  readonly #inFlight = new Map<string, Promise<V | null>>();
  /** Bumped by every forget: a load that started before it must not be remembered. */
  #generation = 0;

  constructor(options: LookupCacheOptions) {
    this.#options = { now: Date.now, ...options };
  }

  get size(): number {
    return this.#found.size + this.#unknown.size;
  }

  #entry(key: string): { map: Map<string, Entry<V>>; entry: Entry<V> } | undefined {
    const found = this.#found.get(key);
    if (found) return { map: this.#found, entry: found };
    const unknown = this.#unknown.get(key);
    return unknown ? { map: this.#unknown, entry: unknown } : undefined;
  }

  /** The cached answer for `key` if there is a live one (`value` null: known not to exist). */
  peek(key: string): { value: V | null } | undefined {
    const cached = this.#entry(key)?.entry;
    return cached && cached.expiresAt > this.#options.now() ? { value: cached.value } : undefined;
  }

  /** The cached answer for `key`, or `load`'s (null: no such thing). */
  get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const cached = this.#entry(key);
    if (cached && cached.entry.expiresAt > this.#options.now()) {
      // Refresh its place in the LRU order.
      cached.map.delete(key);
      cached.map.set(key, cached.entry);
      return Promise.resolve(cached.entry.value);
    }
    if (cached) cached.map.delete(key);
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
    for (const map of [this.#found, this.#unknown]) {
      if (!which) map.clear();
      else for (const [key, entry] of map) if (which(key, entry.value)) map.delete(key);
    }
  }

  #remember(key: string, value: V | null): void {
    const { now, positiveTtlMs, negativeTtlMs, maxEntries } = this.#options;
    (value ? this.#unknown : this.#found).delete(key);
    const map = value ? this.#found : this.#unknown;
    map.set(key, { value, expiresAt: now() + (value ? positiveTtlMs : negativeTtlMs) });
    while (map.size > maxEntries) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }
}
