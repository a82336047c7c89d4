// Which tenant's web chat channel a widget id names, and which page origins may open its socket:
// the channel's config.allowedOrigins plus the tenant's settings webchat.allowedOrigins. Every
// socket needs this before it does anything, so answers are cached in process memory briefly
// (lib/lookup-cache.ts: found widgets for POSITIVE_TTL_MS, unknown ones for NEGATIVE_TTL_MS).
//
// A disabled channel is unknown. A change to a channel or to the tenant's settings reaches new
// sockets within POSITIVE_TTL_MS; sockets already open are not closed by it.
import type { Db } from '../../lib/db.ts';
import { LookupCache } from '../../lib/lookup-cache.ts';

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
  readonly #cache: LookupCache<Widget>;

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#cache = new LookupCache({ positiveTtlMs: POSITIVE_TTL_MS, negativeTtlMs: NEGATIVE_TTL_MS, maxEntries: MAX_ENTRIES, now });
  }

  /** The active web chat channel with this widget id, or null. */
  async find(widgetId: string): Promise<Widget | null> {
    if (!WIDGET_ID.test(widgetId)) return null;
    return this.#cache.get(widgetId, () => this.#load(widgetId));
  }

  clear(): void {
    this.#cache.forget();
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
    return value;
  }
}
