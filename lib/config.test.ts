import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const key = () => randomBytes(32).toString('base64');
const valid = {
  DATABASE_URL: 'postgresql://app@db.internal:5432/metachat',
  ADMIN_API_KEY: 'a'.repeat(40),
  SECRETS_KEYS: `k2:${key()},k1:${key()}`,
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills documented defaults', () => {
    const config = loadConfig(valid);
    expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.TEMPORAL_NAMESPACE).toBe('default');
    expect(config.PORT).toBe(3000);
    expect(config.META_GRAPH_API_URL).toBe('https://graph.facebook.com/v21.0');
    expect(config.WORKER_TASK_QUEUES).toEqual(['conversations', 'ingestion', 'maintenance']);
  });

  it('parses SECRETS_KEYS with the first key current', () => {
    const config = loadConfig(valid);
    expect(config.SECRETS_KEYS.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(config.SECRETS_KEYS[0]?.key).toHaveLength(32);
  });

  it('names every missing variable', () => {
    expect(problems({})).toEqual([
      'DATABASE_URL is required but not set',
      'ADMIN_API_KEY is required but not set',
      'SECRETS_KEYS is required but not set',
    ]);
  });

  it('refuses a webhook retry maximum below its first interval', () => {
    expect(problems({ ...valid, WEBHOOK_RETRY_INITIAL_MS: '60000', WEBHOOK_RETRY_MAX_INTERVAL_MS: '1000' })).toEqual([
      'WEBHOOK_RETRY_MAX_INTERVAL_MS: must be at least WEBHOOK_RETRY_INITIAL_MS',
    ]);
  });

  it('treats empty strings as unset', () => {
    expect(problems({ ...valid, DATABASE_URL: '' })).toEqual(['DATABASE_URL is required but not set']);
    expect(loadConfig({ ...valid, PORT: '' }).PORT).toBe(3000);
  });

  it.each([
    ['DATABASE_URL', 'mysql://x@y/z', /DATABASE_URL: must be a postgres/],
    ['PORT', '70000', /^PORT: /],
    ['PORT', 'abc', /^PORT: /],
    ['TEMPORAL_ADDRESS', 'http://localhost:7233', /TEMPORAL_ADDRESS: must be host:port/],
    ['ADMIN_API_KEY', 'short', /ADMIN_API_KEY: must be at least 32 characters/],
    ['SECRETS_KEYS', `k1:${randomBytes(16).toString('base64')}`, /key "k1" must be 32 bytes/],
    ['SECRETS_KEYS', `k1:${key()},k1:${key()}`, /key id "k1" appears twice/],
    ['SECRETS_KEYS', key(), /must be id:base64/],
    ['WORKER_TASK_QUEUES', 'conversations,billing', /^WORKER_TASK_QUEUES: /],
    ['LOG_LEVEL', 'verbose', /^LOG_LEVEL: /],
    ['WORKER_METRICS_PORT', '70000', /^WORKER_METRICS_PORT: must be a port, or 0 \/ off/],
    ['WORKER_METRICS_PORT', 'on', /^WORKER_METRICS_PORT: must be a port, or 0 \/ off/],
    ['METRICS_TENANT_LABELS', '-1', /^METRICS_TENANT_LABELS: /],
  ])('rejects a malformed %s', (name, value, message) => {
    const found = problems({ ...valid, [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('refuses ALLOW_INSECURE_TENANT_URLS in production, naming it', () => {
    expect(problems({ ...valid, NODE_ENV: 'production', ALLOW_INSECURE_TENANT_URLS: 'true' })).toEqual([
      expect.stringMatching(/^ALLOW_INSECURE_TENANT_URLS: must not be true when NODE_ENV=production/),
    ]);
    expect(loadConfig({ ...valid, NODE_ENV: 'production', ALLOW_INSECURE_TENANT_URLS: 'false' }).ALLOW_INSECURE_TENANT_URLS).toBe(false);
    expect(loadConfig({ ...valid, NODE_ENV: 'development', ALLOW_INSECURE_TENANT_URLS: 'true' }).ALLOW_INSECURE_TENANT_URLS).toBe(true);
  });

  it('stores documents in the local folder unless DOCUMENT_STORAGE=s3 names a bucket and a region', () => {
    expect(loadConfig(valid)).toMatchObject({ DOCUMENT_STORAGE: 'local', DOCUMENT_STORAGE_DIR: '.data/documents', S3_FORCE_PATH_STYLE: false, S3_MAX_ATTEMPTS: 3 });
    const s3 = { ...valid, DOCUMENT_STORAGE: 's3', S3_BUCKET: 'metachat-docs', S3_REGION: 'eu-west-1' };
    expect(loadConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000', S3_FORCE_PATH_STYLE: 'true', S3_REQUEST_TIMEOUT_MS: '1000' })).toMatchObject({
      DOCUMENT_STORAGE: 's3', S3_BUCKET: 'metachat-docs', S3_ENDPOINT: 'http://minio:9000', S3_FORCE_PATH_STYLE: true, S3_REQUEST_TIMEOUT_MS: 1000, S3_CONNECT_TIMEOUT_MS: 5000,
    });
    expect(problems({ ...valid, DOCUMENT_STORAGE: 's3' })).toEqual(['S3_BUCKET: is required when DOCUMENT_STORAGE=s3', expect.stringMatching(/^S3_REGION: is required when DOCUMENT_STORAGE=s3/)]);
    expect(problems({ ...valid, DOCUMENT_STORAGE: 'gcs' })).toEqual([expect.stringMatching(/^DOCUMENT_STORAGE: /)]);
    expect(problems({ ...s3, S3_BUCKET: 'My_Bucket' })).toEqual([expect.stringMatching(/^S3_BUCKET: must be a bucket name/)]);
    expect(problems({ ...s3, S3_ENDPOINT: 'http://key:secret@minio:9000' })).toEqual([expect.stringMatching(/^S3_ENDPOINT: must be an http\(s\):\/\/ URL without credentials/)]);
    expect(problems({ ...s3, S3_SSE_KMS_KEY_ID: 'alias/docs' })).toEqual(['S3_SSE_KMS_KEY_ID: is set but S3_SERVER_SIDE_ENCRYPTION is not aws:kms']);
    expect(problems({ ...s3, DOCUMENT_MAX_BYTES: String(6 * 1024 ** 3) })).toEqual([expect.stringMatching(/^DOCUMENT_MAX_BYTES: must be at most 5368709120/)]);
    expect(problems({ ...s3, S3_MAX_ATTEMPTS: '0' })).toEqual([expect.stringMatching(/^S3_MAX_ATTEMPTS: /)]);
    // A bucket without DOCUMENT_STORAGE=s3 would leave the files on one machine's disk unnoticed.
    expect(problems({ ...valid, S3_BUCKET: 'metachat-docs' })).toEqual([expect.stringMatching(/^S3_BUCKET: is set but DOCUMENT_STORAGE is not s3/)]);
  });

  it("reads the worker's metrics port, 0 or off for none, and the tenant label bound", () => {
    const config = loadConfig(valid);
    expect([config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST, config.METRICS_TENANT_LABELS]).toEqual([9464, '0.0.0.0', 50]);
    expect(loadConfig({ ...valid, WORKER_METRICS_PORT: '9100' }).WORKER_METRICS_PORT).toBe(9100);
    expect(loadConfig({ ...valid, WORKER_METRICS_PORT: 'off' }).WORKER_METRICS_PORT).toBe(0);
    expect(loadConfig({ ...valid, WORKER_METRICS_PORT: '0' }).WORKER_METRICS_PORT).toBe(0);
  });

  it('reads TRUST_PROXY as off, on, a hop count or proxy addresses', () => {
    expect(loadConfig(valid).TRUST_PROXY).toBe(false);
    expect(loadConfig({ ...valid, TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ ...valid, TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ ...valid, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(problems({ ...valid, TRUST_PROXY: 'yes please' })[0]).toMatch(/^TRUST_PROXY: /);
  });

  it('stops a process at start-up with a message naming the variable', () => {
    const { PATH, HOME } = process.env;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
      env: { PATH, HOME, ...valid, SECRETS_KEYS: 'nope' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('SECRETS_KEYS');
    expect(result.stderr).not.toContain(valid.ADMIN_API_KEY);
  });
});
