// The addresses people paste elsewhere: the webhook URL into Meta's app dashboard, the widget's
// address into a tenant's site, links into emails. All start from the API's public origin,
// APP_BASE_URL (the web app is served by the API, so its origin is the API's), never from a
// request's Host or X-Forwarded-Host header: a client writes those.
import type { ChannelType } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';

/** APP_BASE_URL, else this API on localhost (development). */
export function publicBaseUrl(config: Pick<Config, 'APP_BASE_URL' | 'PORT'>): string {
  return config.APP_BASE_URL ?? `http://localhost:${config.PORT}`;
}

/** Where Meta delivers a channel type's webhooks (one URL per type: the channel is found from the delivery). */
export function webhookUrlOf(baseUrl: string, type: ChannelType): string | null {
  return type === 'webchat' ? null : `${baseUrl}/webhooks/${type}`;
}

/** The web chat widget's page, to frame on the tenant's site. */
export function widgetUrlOf(baseUrl: string, widgetId: string | null): string | null {
  return widgetId ? `${baseUrl}/webchat/widget/${widgetId}` : null;
}
