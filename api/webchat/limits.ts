// Web chat limits, so that anonymous visitors cannot run up a tenant's model spend faster than
// its budget notices: visitor messages per minute per visitor (its token), per client IP and per
// widget (every visitor of it together), and new visitor tokens per client IP per hour. They are
// counted by the API's rate limiter (api/plugins/external/rate-limit.ts: the same store, so with
// RATE_LIMIT_STORE=postgres the counts hold across API processes, and the same client IP, IPv6
// as its /56), in fixed windows. A message is checked against each limit in turn and stops at the
// first it is over, so a visitor over its own limit does not use up its network's or its widget's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clientOf } from '../plugins/external/rate-limit.ts';
import type { VisitorKey } from './history.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The visitor a web chat socket's upgrade request was opened for (socket.ts), from its token. */
    webchatVisitor: VisitorKey | null;
  }
}

export type LimitScope = 'visitor' | 'ip' | 'widget';

export interface Refusal {
  limit: LimitScope;
  retryAfterMs: number;
  message: string;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

const WHO: Record<LimitScope, string> = {
  visitor: 'from one visitor',
  ip: 'from one network address',
  widget: 'on this chat from all its visitors together',
};

export function createWebchatLimits(app: FastifyInstance) {
  const { config } = app;
  const visitorOf = (request: FastifyRequest): VisitorKey => {
    if (!request.webchatVisitor) throw new Error('web chat limit asked for a request without a visitor');
    return request.webchatVisitor;
  };
  const perMinute = (limit: LimitScope, max: number, key: (request: FastifyRequest) => string) => ({
    limit,
    max,
    check: app.createRateLimit({ max, timeWindow: MINUTE_MS, keyGenerator: key }),
  });
  const messages = [
    perMinute('visitor', config.WEBCHAT_MESSAGES_PER_MINUTE_PER_VISITOR, (r) => `webchat-visitor:${visitorOf(r).channelId}:${visitorOf(r).visitorId}`),
    perMinute('ip', config.WEBCHAT_MESSAGES_PER_MINUTE_PER_IP, (r) => `webchat-ip:${clientOf(r)}`),
    perMinute('widget', config.WEBCHAT_MESSAGES_PER_MINUTE_PER_WIDGET, (r) => `webchat-widget:${visitorOf(r).channelId}`),
  ];
  const newVisitors = app.createRateLimit({ max: config.WEBCHAT_VISITORS_PER_HOUR_PER_IP, timeWindow: HOUR_MS, keyGenerator: (r) => `webchat-new-visitors:${clientOf(r)}` });

  return {
    /** Counts one visitor message of the socket opened by `request`; a refusal when it is over a limit. */
    async message(request: FastifyRequest): Promise<Refusal | null> {
      for (const { limit, max, check } of messages) {
        const state = await check(request);
        if (!state.isAllowed && state.isExceeded) {
          const seconds = Math.max(1, state.ttlInSeconds);
          return { limit, retryAfterMs: Math.max(1000, state.ttl), message: `At most ${max} messages a minute ${WHO[limit]}; resend it with the same clientMessageId in ${seconds} s` };
        }
      }
      return null;
    },

    /** Counts one new visitor token for the caller's IP; a refusal when it is over the hourly limit. */
    async newVisitor(request: FastifyRequest): Promise<Refusal | null> {
      const state = await newVisitors(request);
      if (state.isAllowed || !state.isExceeded) return null;
      const seconds = Math.max(1, state.ttlInSeconds);
      return { limit: 'ip', retryAfterMs: seconds * 1000, message: `At most ${config.WEBCHAT_VISITORS_PER_HOUR_PER_IP} new visitors an hour from one network address; retry in ${seconds} s` };
    },
  };
}

export type WebchatLimits = ReturnType<typeof createWebchatLimits>;
