// Prisma 7 reads the connection from here, not from schema.prisma. Only the CLI uses this file;
// the application connects through lib/db.ts with the pg driver adapter.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/unused' },
});
