// Builds the Fastify app from its dependencies; api/server.ts starts it, tests `inject` into it.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../lib/config.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { REQUEST_ID } from '../lib/request-id.ts';
import { runForRequest } from '../lib/request-scope.ts';
import type { Tracing } from '../lib/tracing.ts';
import consoleRedirect from './console/index.ts';
import auth from './plugins/app/auth.ts';
import errors, { frameworkErrorReply } from './plugins/app/errors.ts';
import loginLimits from './plugins/app/login-limits.ts';
import mailer from './plugins/app/mailer.ts';
import sessions from './plugins/app/sessions.ts';
import cookie from './plugins/external/cookie.ts';
import cors from './plugins/external/cors.ts';
import helmet from './plugins/external/helmet.ts';
import metrics from './plugins/external/metrics.ts';
import otel from './plugins/external/otel.ts';
import rateLimit from './plugins/external/rate-limit.ts';
import swagger from './plugins/external/swagger.ts';
import { logIncomingRequest, RedactingLogController } from './request-log.ts';
import codecRoutes from './routes/codec.ts';
import healthRoutes from './routes/health.ts';
import v1Routes from './routes/v1/index.ts';
import webchat from './webchat/index.ts';
import webApp from './web-app/index.ts';
import webhooks from './webhooks/index.ts';

export interface AppDependencies {
  config: Config;
  db: Db;
  temporal: Client;
  logger: Logger;
  /** A span per request, trace ids in its log lines (lib/tracing.ts); unset: none. */
  tracing?: Tracing;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Db;
    temporal: Client;
  }
}

/**
 * The longest path parameter the router takes (a longer one answers 414): an end user's external
 * id, which the GDPR routes take in the path, may be as long as a webhook may give it (512).
 */
export const MAX_PATH_PARAM_LENGTH = 512;

export async function buildApp(deps: AppDependencies) {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Request lines name the path, never the query string or an end user's id (request-log.ts).
    logController: new RedactingLogController({ requestIdLogLabel: 'requestId' }),
    // A caller's request id is kept when it looks like one; otherwise a fresh one is made.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Which proxies' X-Forwarded-For to believe for request.ip (rate limits, logs); off by default.
    // (A hop count works at run time; Fastify's types only omit it.)
    trustProxy: deps.config.TRUST_PROXY as boolean | string | string[],
    frameworkErrors: frameworkErrorReply,
    // Connections left open by clients must not keep a shutdown waiting.
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('config', deps.config);
  app.decorate('db', deps.db);
  app.decorate('temporal', deps.temporal);
  if (deps.tracing) await app.register(otel, { tracing: deps.tracing });
  app.addHook('onRequest', logIncomingRequest);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // The handler and what it awaits run in the request's scope: the Temporal client puts its id
  // on the signals and updates it sends (lib/request-scope.ts). Not earlier: the body is read in
  // the socket's async context, so a scope opened in onRequest would not reach the handler.
  app.addHook('preHandler', (request, _reply, done) => runForRequest(request.id, done));

  await app.register(errors);
  await app.register(metrics);
  await app.register(helmet);
  await app.register(cors);
  await app.register(swagger);
  await app.register(rateLimit);
  await app.register(cookie);
  await app.register(sessions);
  await app.register(loginLimits);
  await app.register(mailer);
  await app.register(auth);
  await app.register(healthRoutes);
  await app.register(codecRoutes, { prefix: '/codec' });
  await app.register(v1Routes, { prefix: '/api/v1' });
  await app.register(webhooks, { prefix: '/webhooks' });
  await app.register(webchat, { prefix: '/webchat' });
  await app.register(consoleRedirect, { prefix: '/console' });
  await app.register(webApp, { prefix: '/app' });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
