// What Fastify's own request log lines say about a request. Its defaults write the raw URL at
// info level, and URLs here carry things that must not reach logs above debug: verify tokens
// (`GET /webhooks/whatsapp?hub.verify_token=…`), web chat visitor tokens (`/webchat?token=…`),
// end users' phone numbers (`/api/v1/end-users/whatsapp/<phone>/export`). So the request line
// is the path without its query string, and a path parameter's value is kept only when it is a
// UUID (a row id) or names a channel type or a provider: any other value is written as its
// `:name` (`/api/v1/end-users/whatsapp/:externalUserId/export`), and a wildcard's only when it is
// a static file's name (`/app/favicon.ico`, else `/app/*`). At debug level the line also
// carries the full URL, for local troubleshooting.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Parameters whose values are names chosen by the platform, never an end user's data. */
const NAMING_PARAMS = new Set(['channel', 'provider']);
/** A wildcard's value kept as it is: a static file's path (`favicon.ico`, `static/index.css`). */
const STATIC_FILE = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*\.[a-z0-9]{1,8}$/;

function safeParam(name: string, value: unknown): boolean {
  return typeof value === 'string' && (UUID.test(value) || (NAMING_PARAMS.has(name) && /^[a-z]{1,32}$/.test(value)));
}

/** The request's path for logs: no query string, and unsafe path parameters as `:name`. */
export function loggedPath(request: FastifyRequest): string {
  const pattern = request.routeOptions?.url;
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (!pattern) return request.url.split('?')[0] ?? '/';
  return pattern
    .split('/')
    .map((segment) => {
      if (segment === '*') return typeof params['*'] === 'string' && STATIC_FILE.test(params['*']) ? params['*'] : '*';
      if (!segment.startsWith(':')) return segment;
      const name = segment.slice(1).replace(/\(.*$/, '');
      return safeParam(name, params[name]) ? String(params[name]) : `:${name}`;
    })
    .join('/');
}

/** The `req` of a log line, as Fastify's serializer shapes it, with the path instead of the URL. */
function requestFields(request: FastifyRequest) {
  return { method: request.method, url: loggedPath(request), headers: {}, host: request.host, ip: request.ip, socket: request.socket };
}

/**
 * The "incoming request" line, written by an onRequest hook (api/app.ts) rather than before the
 * hooks as Fastify does, so that it comes after the request's span and carries its trace id.
 */
export async function logIncomingRequest(request: FastifyRequest): Promise<void> {
  request.log.info({ req: requestFields(request) }, 'incoming request');
  request.log.debug({ url: request.url }, 'request url');
}

export class RedactingLogController extends LogController {
  /** Written by logIncomingRequest instead. */
  override incomingRequest(): void {}

  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (reply.statusCode >= 500) reply.log.error({ req: requestFields(request), res: reply, err: error }, error?.message);
    else reply.log.info({ res: reply, err: error }, error?.message);
  }

  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.info(`Route ${request.method}:${loggedPath(request)} not found`);
  }

  override writeHeadError(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    reply.log.warn({ req: requestFields(request), res: reply, err: error }, error?.message);
  }
}
