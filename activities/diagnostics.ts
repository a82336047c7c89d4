// What a worker sees of the database: proves the worker → Postgres path end to end.
import type { Db } from '../lib/db.ts';

export interface DatabaseDiagnostics {
  serverVersion: string;
  pgvectorVersion: string | null;
  appliedMigrations: number;
}

export function createDiagnosticsActivities(db: Db) {
  return {
    async inspectDatabase(): Promise<DatabaseDiagnostics> {
      const [row] = await db.$queryRaw<{ server_version: string; pgvector: string | null; migrations: bigint }[]>`
        SELECT current_setting('server_version') AS server_version,
               (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector,
               (SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL) AS migrations`;
      if (!row) throw new Error('diagnostics query returned no row');
      return { serverVersion: row.server_version, pgvectorVersion: row.pgvector, appliedMigrations: Number(row.migrations) };
    },
  };
}
