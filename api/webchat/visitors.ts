// `POST /webchat/visitors`: a new visitor of a widget gets its visitor token (visitor-token.ts),
// which the widget keeps and opens every socket with. The same origin rule as the socket's (the
// API's own origin or one the widget allows), and at most WEBCHAT_VISITORS_PER_HOUR_PER_IP new
// visitors an hour per client IP, so that fresh identities cannot multiply the per-visitor limits.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../plugins/app/errors.ts';
import { errorBody } from '../schemas/common.ts';
import type { WebchatLimits } from './limits.ts';
import { originAllowed } from './socket.ts';
import type { VisitorTokens } from './visitor-token.ts';
import { WIDGET_ID, type WidgetLookup } from './widget-lookup.ts';

export interface VisitorRoutesOptions {
  lookup: WidgetLookup;
  tokens: VisitorTokens;
  limits: WebchatLimits;
}

export const visitorRoutes: FastifyPluginAsyncZod<VisitorRoutesOptions> = async (app, { lookup, tokens, limits }) => {
  app.post(
    '/visitors',
    {
      schema: {
        tags: ['webchat'],
        summary: 'A new web chat visitor: its visitor token, to open the socket with (GET /webchat?widgetId=&token=)',
        description:
          '403 origin_not_allowed: the Origin is neither the API\'s nor one the widget allows. 404 unknown_widget: no active web chat channel has this widget id. ' +
          '429 rate_limited (with Retry-After): too many new visitors from this network address this hour.',
        body: z.object({ widgetId: z.string().regex(WIDGET_ID, 'must be a widget id (4-64 characters of A-Z, a-z, 0-9, "_" and "-")') }).strict(),
        response: {
          201: z.object({
            token: z.string().describe('Keep it (the widget uses localStorage) and open every socket with it: it names this visitor'),
            visitorId: z.string(),
            expiresAt: z.string().describe('A socket opened with it after a day gets a fresh token in its ready frame'),
          }),
          400: errorBody,
          403: errorBody,
          404: errorBody,
          413: errorBody,
          415: errorBody,
          429: errorBody,
        },
      },
    },
    async (request, reply) => {
      const widget = await lookup.find(request.body.widgetId);
      if (!originAllowed(request.headers.origin, request.headers.host, widget)) throw new HttpError(403, 'origin_not_allowed', 'This widget cannot be used from this origin');
      if (!widget) throw new HttpError(404, 'unknown_widget', 'No such widget, or its chat is disabled');
      const refused = await limits.newVisitor(request);
      if (refused) {
        reply.header('retry-after', String(Math.ceil(refused.retryAfterMs / 1000)));
        throw new HttpError(429, 'rate_limited', refused.message);
      }
      const issued = tokens.issue(widget.channelId);
      request.log.info({ tenantId: widget.tenantId, channelId: widget.channelId }, 'web chat visitor token issued');
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ token: issued.token, visitorId: issued.visitorId, expiresAt: issued.expiresAt.toISOString() });
    },
  );
};
