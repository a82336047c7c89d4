// Health endpoints against a real Postgres that the test stops, and the real Temporal server.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import type { Config } from '../lib/config.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { EmbeddedPostgres } from '../scripts/provision/embedded-postgres.ts';
import { testConfig } from './support/config.ts';

describe('health', () => {
  // This file's own Postgres, so that stopping it disturbs no other test.
  const dataRoot = mkdtempSync(join(tmpdir(), 'metachat-health-'));
  chmodSync(dataRoot, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
  let postgres: EmbeddedPostgres;
  let db: Db;
  let app: App;
  let config: Config;

  beforeAll(async () => {
    postgres = new EmbeddedPostgres({
      binDir: inject('postgresBinDir'),
      dataDir: join(dataRoot, 'pgdata'),
      port: await getPort(),
      logFile: join(dataRoot, 'postgres.log'),
      durable: false,
    });
    await postgres.start();
    config = testConfig({ DATABASE_URL: postgres.url(), DATABASE_CONNECT_TIMEOUT_MS: '1000', HEALTH_CHECK_TIMEOUT_MS: '1500' });
    db = createDb(config, 'health-test');
    app = await buildApp({ config, db, temporal: createTemporalClient(config), logger: createLogger({ level: 'silent', name: 'test' }) });
  });

  afterAll(async () => {
    await app?.close();
    await db?.$disconnect();
    await postgres?.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it('is live and echoes a well-formed request id', async () => {
    const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'req-12345678' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers['x-request-id']).toBe('req-12345678');
  });

  it('replaces a malformed request id', async () => {
    const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with the error envelope', async () => {
    const res = await app.inject({ url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'not_found', message: 'Route GET /nope not found', requestId: res.headers['x-request-id'] },
    });
  });

  it('exposes Prometheus metrics with request latency by route pattern', async () => {
    await app.inject({ url: '/health/live' });
    await app.inject({ url: '/nope/123' });
    // Behind the admin key by default (METRICS_ACCESS=admin).
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${config.ADMIN_API_KEY}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/metachat_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} \d+/);
    expect(res.body).toContain('route="unmatched"');
    expect(res.body).not.toContain('/nope/123');
    expect(res.body).toContain('metachat_process_cpu_seconds_total');
  });

  it('serves the OpenAPI document', async () => {
    const res = await app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json().paths)).toEqual(expect.arrayContaining(['/health/live', '/health/ready']));
  });

  it('is ready when Postgres and Temporal answer', async () => {
    const res = await app.inject({ url: '/health/ready' });
    expect(res.json()).toMatchObject({ status: 'ready', down: [], checks: { postgres: { status: 'up' }, temporal: { status: 'up' } } });
    expect(res.statusCode).toBe(200);
  });

  it('turns 503 naming Temporal when Temporal is unreachable', async () => {
    const config = testConfig({ DATABASE_URL: postgres.url(), TEMPORAL_ADDRESS: `127.0.0.1:${await getPort()}`, HEALTH_CHECK_TIMEOUT_MS: '1000' });
    const temporal = createTemporalClient(config);
    const other = await buildApp({ config, db, temporal, logger: createLogger({ level: 'silent', name: 'test' }) });
    try {
      const res = await other.inject({ url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'unavailable', down: ['temporal'], checks: { postgres: { status: 'up' } } });
    } finally {
      await other.close();
    }
  });

  it('turns 503 naming Postgres when Postgres stops, and recovers when it is back', async () => {
    await postgres.stop();
    const down = await app.inject({ url: '/health/ready' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', down: ['postgres'], checks: { temporal: { status: 'up' }, postgres: { status: 'down' } } });

    await postgres.start();
    const up = await app.inject({ url: '/health/ready' });
    expect(up.statusCode).toBe(200);
  });
});
