// Which tenant's web chat channel a widget id names, and which page origins may open its socket:
// the channel's config.allowedOrigins plus the tenant's settings webchat.allowedOrigins. Every
// socket needs this before it does anything, so answers are cached in process memory briefly
// (found widgets for POSITIVE_TTL_MS, unknown ones for NEGATIVE_TTL_MS, at most MAX_ENTRIES,
// least recently used evicted first); concurrent misses for one id share one query.
//
// A disabled channel is unknown. A change to a channel or to the tenant's settings reaches new
// sockets within POSITIVE_TTL_MS; sockets already open are not closed by it.
import type { Db } from '../../lib/db.ts';

export interface Widget {
  tenantId: string;
  channelId: string;
  widgetId: string;
  allowedOrigins: ReadonlySet<string>;
}

export const POSITIVE_TTL_MS = 10_000;
export const NEGATIVE_TTL_MS = 5_000;
export const MAX_ENTRIES = 10_000;

/** Widget ids as lib/channels.ts makes them (`wc_` + 16 base64url characters), with room to spare. */
export const WIDGET_ID = /^[A-Za-z0-9_-]{4,64}$/;

function originsIn(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((o): o is string => typeof o === 'string') : [];
}

export class WidgetLookup {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #entries = new Map<string, { value: Widget | null; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<Widget | null>>();

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** The active web chat channel with this widget id, or null. */
  async find(widgetId: string): Promise<Widget | null> {
    if (!WIDGET_ID.test(widgetId)) return null;
    const cached = this.#entries.get(widgetId);
    if (cached && cached.expiresAt > this.#now()) {
      this.#entries.delete(widgetId);
      this.#entries.set(widgetId, cached);
      return cached.value;
    }
    let pending = this.#inFlight.get(widgetId);
    if (!pending) {
      pending = this.#load(widgetId).finally(() => this.#inFlight.delete(widgetId));
      this.#inFlight.set(widgetId, pending);
    }
    return pending;
  }

  clear(): void {
    this.#entries.clear();
  }

  async #load(widgetId: string): Promise<Widget | null> {
    const channel = await this.#db.channel.findUnique({ where: { type_widgetId: { type: 'webchat', widgetId } } });
    let value: Widget | null = null;
    if (channel && channel.status === 'active') {
      const tenant = await this.#db.tenant.findUnique({ where: { id: channel.tenantId }, select: { settings: true } });
      const settings = tenant?.settings as { webchat?: { allowedOrigins?: unknown } } | null | undefined;
      const allowedOrigins = new Set([...originsIn((channel.config as { allowedOrigins?: unknown } | null)?.allowedOrigins), ...originsIn(settings?.webchat?.allowedOrigins)]);
      if (tenant) value = { tenantId: channel.tenantId, channelId: channel.id, widgetId, allowedOrigins };
    }
    this.#entries.delete(widgetId);
    this.#entries.set(widgetId, { value, expiresAt: this.#now() + (value ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS) });
    while (this.#entries.size > MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return value;
  }
}
