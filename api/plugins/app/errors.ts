// Every error leaves as `{ error: { code, message, requestId } }`. 4xx say what was wrong;
// 5xx say nothing internal (the details are logged with the request id instead).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export interface ErrorBody {
  error: { code: string; message: string; requestId: string; details?: unknown };
}

/** Thrown by handlers for an expected client error with a stable machine-readable code. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * For Fastify's `frameworkErrors` option: errors raised before routing (a malformed URL, a path
 * parameter over the router's length limit) get the same envelope as everything else.
 */
export function frameworkErrorReply(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'Malformed URL';
  return reply.status(status).send({ error: { code: CODES[status] ?? 'bad_request', message, requestId: request.id } } satisfies ErrorBody);
}

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
};

export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
      const requestId = request.id;
      if (hasZodFastifySchemaValidationErrors(err)) {
        const details = err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message }));
        return reply.status(400).send({
          error: { code: 'validation_error', message: `Invalid ${err.validationContext ?? 'request'}: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, requestId, details },
        } satisfies ErrorBody);
      }
      if (err instanceof HttpError) {
        return reply.status(err.statusCode).send({
          error: { code: err.code, message: err.message, requestId, ...(err.details === undefined ? {} : { details: err.details }) },
        } satisfies ErrorBody);
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      if (status < 500) {
        // Fastify's own client errors (bad JSON, body too large, wrong content type) explain themselves.
        return reply.status(status).send({
          error: { code: CODES[status] ?? 'bad_request', message: err.message, requestId },
        } satisfies ErrorBody);
      }
      request.log.error({ err }, 'request failed');
      return reply.status(status).send({
        error: { code: 'internal_error', message: 'Internal server error', requestId },
      } satisfies ErrorBody);
    });

    app.setNotFoundHandler((request, reply) =>
      reply.status(404).send({
        error: { code: 'not_found', message: `Route ${request.method} ${request.url.split('?')[0]} not found`, requestId: request.id },
      } satisfies ErrorBody),
    );
  },
  { name: 'errors' },
);
