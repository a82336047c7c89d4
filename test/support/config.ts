// A valid Config for tests: real validation, test-only secrets.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { DataConverter } from '@temporalio/common';
import { loadConfig, type Config } from '../../lib/config.ts';
import { temporalDataConverter } from '../../lib/temporal.ts';

/**
 * One SECRETS_KEYS per test file (vitest loads this module once per file): the configs of a file
 * and its Temporal clients (connectTestTemporal) share it, so that a test's client decodes what
 * its workers encrypt (lib/payload-codec.ts) and the other way round.
 */
export const TEST_SECRETS_KEYS = `test:${randomBytes(32).toString('base64')}`;

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/unused',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    ADMIN_API_KEY: randomBytes(24).toString('base64url'),
    SECRETS_KEYS: TEST_SECRETS_KEYS,
    DOCUMENT_STORAGE_DIR: join(tmpdir(), 'metachat-test-documents'),
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}

/** The data converter of the test file's clients: payloads encrypted under TEST_SECRETS_KEYS, like the workers'. */
export function testDataConverter(): DataConverter {
  return temporalDataConverter(loadConfig(testEnv()).SECRETS_KEYS);
}
