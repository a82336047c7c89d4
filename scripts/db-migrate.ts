// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL with Prisma's WASM schema
// engine (see lib/migrations.ts), like `prisma migrate deploy` would.
import { applyMigrations } from '../lib/migrations.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is not set: set it to the Postgres (with pgvector) to migrate.');
  process.exit(1);
}

try {
  const { applied } = await applyMigrations(databaseUrl);
  console.log(applied.length ? `Applied:\n${applied.map((name) => `  ${name}`).join('\n')}` : 'Database is up to date.');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
