// OpenAPI document generated from the routes' zod schemas, served with Swagger UI at /docs.
// DOCS_ACCESS decides who reads it: `public` (the default: the document describes routes anyone
// can probe anyway, and clients generate from it), `admin` (Bearer ADMIN_API_KEY) or `off` (not
// served; app.swagger() still builds it for scripts and tests).
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

export default fp(
  async (app) => {
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'Meta Chat Platform API',
          description: 'Tenant REST API (`/api/v1`, with an API key or a signed-in user\'s session), Meta webhooks and health endpoints.',
          version: '1',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'Tenant or admin API key' },
            session: { type: 'apiKey', in: 'cookie', name: '__Host-metachat_session', description: 'A signed-in user\'s session (POST /api/v1/auth/session sets it); a Bearer key, when sent too, wins' },
            csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'The session\'s CSRF token (GET /api/v1/me): required with the session cookie on POST, PUT, PATCH and DELETE' },
          },
        },
      },
      transform: jsonSchemaTransform,
    });
    const access = app.config.DOCS_ACCESS;
    if (access === 'off') return;
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      ...(access === 'admin' && { uiHooks: { onRequest: (request, reply, done) => void app.authenticateAdmin(request, reply).then(() => done(), done) } }),
    });
  },
  { name: 'swagger' },
);
