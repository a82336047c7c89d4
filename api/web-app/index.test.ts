// Without a build, /app says what to run instead of failing start-up or answering an empty page.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import errors from '../plugins/app/errors.ts';
import webApp, { WEB_APP_CSP } from './index.ts';

describe('the web app routes without a build', () => {
  it('answer 503 web_app_not_built under the page policy, and unknown assets 404', async () => {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(errors);
    await app.register(webApp, { prefix: '/app', dist: join(mkdtempSync(join(tmpdir(), 'web-dist-')), 'dist') });
    try {
      for (const url of ['/app', '/app/team']) {
        const res = await app.inject({ url });
        expect(res.statusCode, url).toBe(503);
        expect(res.json().error.code).toBe('web_app_not_built');
        expect(res.headers['content-security-policy']).toBe(WEB_APP_CSP);
      }
      expect((await app.inject({ url: '/app/assets/index.js' })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});
