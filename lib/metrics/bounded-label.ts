// A label whose values come from data (tenant ids, tenant-chosen model names) must not grow
// without bound: every distinct value is a series Prometheus keeps. The first `limit` distinct
// values a process sees keep their own value; every later one is reported as "other". A process
// restart starts over, so which tenants get their own label may change then.

export const OTHER = 'other';

export class BoundedLabel {
  readonly #seen = new Set<string>();

  constructor(readonly limit: number) {}

  /** The label value to use for `value`. */
  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.limit) return OTHER;
    this.#seen.add(value);
    return value;
  }
}
