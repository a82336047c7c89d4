// A valid Config for tests: real validation, test-only secrets.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../lib/config.ts';

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/unused',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    ADMIN_API_KEY: randomBytes(24).toString('base64url'),
    SECRETS_KEYS: `test:${randomBytes(32).toString('base64')}`,
    DOCUMENT_STORAGE_DIR: join(tmpdir(), 'metachat-test-documents'),
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}
