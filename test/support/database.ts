// Fresh databases on the run's shared test Postgres (see test/global-setup.ts).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** Migrated once per run by the global setup; copied for each test that needs the schema. */
export const MIGRATED_TEMPLATE = 'metachat_migrated_template';

function adminUrl(): string {
  return inject('postgresAdminUrl');
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function createDatabase(prefix: string, template?: string): Promise<string> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await client.end();
  }
  return databaseUrl(name);
}

/** An empty database (no schema, no extensions). */
export function createTestDatabase(prefix: string): Promise<string> {
  return createDatabase(prefix);
}

/** A database with every migration applied. */
export function createMigratedDatabase(prefix: string): Promise<string> {
  return createDatabase(prefix, MIGRATED_TEMPLATE);
}
