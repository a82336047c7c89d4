// A circuit breaker per provider endpoint, kept in the worker process (cheap, no shared store):
// after `threshold` consecutive failures that say the provider itself is unwell (throttling,
// 5xx, timeouts, no connection) it opens for `openMs`, and new turns go straight to the
// fallback instead of queueing behind retries. When the time is up one call is let through
// (half-open): success closes the breaker, failure opens it again. A request the provider
// rejects (400, 401…) says nothing about its health and does not count.
//
// Each worker process learns on its own; with N workers a provider outage costs at most
// N × threshold failed calls before everyone falls back, which is the point of keeping it cheap.

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** How long it stays open before one trial call. */
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, openMs: 30_000 };

interface Entry {
  failures: number;
  openUntil: number;
  /** A trial call is in flight (half-open): others still go to the fallback. */
  trialUntil: number;
}

export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: BreakerOptions = DEFAULT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a call may go to `key` now; claims the trial slot when half-open. */
  allow(key: string): boolean {
    const e = this.entries.get(key);
    if (!e || e.failures < this.options.threshold) return true;
    const t = this.now();
    if (t < e.openUntil || t < e.trialUntil) return false;
    e.trialUntil = t + this.options.openMs; // one trial; if it hangs, another after openMs
    return true;
  }

  success(key: string): void {
    this.entries.delete(key);
  }

  failure(key: string): void {
    const e = this.entries.get(key) ?? { failures: 0, openUntil: 0, trialUntil: 0 };
    e.failures++;
    e.trialUntil = 0;
    if (e.failures >= this.options.threshold) e.openUntil = this.now() + this.options.openMs;
    this.entries.set(key, e);
  }

  /** The endpoints with failures on record (a success forgets them). */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  state(key: string): 'closed' | 'open' | 'half_open' {
    const e = this.entries.get(key);
    if (!e || e.failures < this.options.threshold) return 'closed';
    return this.now() < e.openUntil ? 'open' : 'half_open';
  }
}
