// Limits on guessing passwords, counted in the API's rate-limit store (RATE_LIMIT_STORE: shared
// by every API process with `postgres`):
// - attempts per client IP per minute (LOGIN_ATTEMPTS_PER_MINUTE_PER_IP), on every route that
//   takes a password or a link's token without a session (sign-in, reset, invitation);
// - attempts per account per minute (LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT);
// - lockout: LOGIN_LOCKOUT_FAILURES failed attempts on an account within LOGIN_LOCKOUT_MINUTES
//   lock it until that window ends (a fixed window opened by the first failure), whatever the
//   password then sent.
// An account is a tenant slug and an email as given (normalised), hashed: an email that has no
// account is counted and locked exactly like one that has, so neither answer nor timing tells
// them apart. Every refusal is 429 `rate_limited` with Retry-After.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { clientOf } from '../external/rate-limit.ts';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    loginLimits: {
      /** One attempt from the caller's IP (429 beyond its limit). */
      attemptFromIp(request: FastifyRequest, reply: FastifyReply): Promise<void>;
      /** One attempt on an account: 429 when it is locked or over its per-minute limit. */
      attemptOnAccount(request: FastifyRequest, reply: FastifyReply, tenantSlug: string, email: string): Promise<void>;
      /** Counts a failed attempt towards the account's lockout. */
      failedOnAccount(request: FastifyRequest, tenantSlug: string, email: string): Promise<void>;
    };
  }
}

const MINUTE_MS = 60_000;

/** The account's bucket name: no email in the rate-limit table. */
export function accountKey(tenantSlug: string, email: string): string {
  return createHash('sha256').update(`${tenantSlug.toLowerCase()}\n${email.toLowerCase()}`).digest('base64url');
}

export default fp(
  async (app) => {
    const { config } = app;
    // The limiter asks for the bucket's key from the request; the account being tried rides on it.
    const accounts = new WeakMap<FastifyRequest, string>();
    const accountOf = (request: FastifyRequest) => accounts.get(request) ?? 'none';

    const perIp = app.createRateLimit({ max: config.LOGIN_ATTEMPTS_PER_MINUTE_PER_IP, timeWindow: MINUTE_MS, keyGenerator: (r) => `login-ip:${clientOf(r)}` });
    const perAccount = app.createRateLimit({ max: config.LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT, timeWindow: MINUTE_MS, keyGenerator: (r) => `login-account:${accountOf(r)}` });
    const failures = app.createRateLimit({
      max: config.LOGIN_LOCKOUT_FAILURES,
      timeWindow: config.LOGIN_LOCKOUT_MINUTES * MINUTE_MS,
      keyGenerator: (r) => `login-failures:${accountOf(r)}`,
    });

    function refuse(reply: FastifyReply, seconds: number, message: string): never {
      const after = Math.max(1, seconds);
      reply.header('retry-after', String(after));
      throw new HttpError(429, 'rate_limited', `${message}; retry in ${after} s`);
    }

    app.decorate('loginLimits', {
      async attemptFromIp(request: FastifyRequest, reply: FastifyReply) {
        const state = await perIp(request);
        if (!state.isAllowed && state.isExceeded) refuse(reply, state.ttlInSeconds, 'Too many sign-in attempts from this address');
      },
      async attemptOnAccount(request: FastifyRequest, reply: FastifyReply, tenantSlug: string, email: string) {
        accounts.set(request, accountKey(tenantSlug, email));
        const lock = await failures(request, { increment: false });
        if (!lock.isAllowed && lock.remaining === 0) refuse(reply, lock.ttlInSeconds, 'Too many failed sign-ins for this account: it is locked for a while');
        const state = await perAccount(request);
        if (!state.isAllowed && state.isExceeded) refuse(reply, state.ttlInSeconds, 'Too many sign-in attempts for this account');
      },
      async failedOnAccount(request: FastifyRequest, tenantSlug: string, email: string) {
        accounts.set(request, accountKey(tenantSlug, email));
        await failures(request);
      },
    });
  },
  { name: 'login-limits', dependencies: ['errors', 'rate-limit'] },
);
