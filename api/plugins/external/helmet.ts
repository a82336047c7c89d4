// Security headers (@fastify/helmet). The API answers JSON only, so its Content-Security-Policy
// forbids everything; Swagger UI under /docs needs its own scripts, styles and inline styles,
// so the policy is relaxed there (and only there).
import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https://validator.swagger.io; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

export default fp(
  async (app) => {
    await app.register(helmet, { global: true, contentSecurityPolicy: false });
    app.addHook('onSend', async (request, reply, payload) => {
      const docs = request.url === '/docs' || request.url.startsWith('/docs/') || request.url.startsWith('/docs?');
      reply.header('content-security-policy', docs ? DOCS_CSP : API_CSP);
      return payload;
    });
  },
  { name: 'helmet' },
);
