// Builds every activity from injected dependencies; workers register the result.
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { createDiagnosticsActivities } from './diagnostics.ts';
import { createMaintenanceActivities } from './maintenance.ts';

export interface ActivityDependencies {
  db: Db;
  logger: Logger;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createDiagnosticsActivities(deps.db),
    ...createMaintenanceActivities(deps.db, deps.logger),
  };
}

export type Activities = ReturnType<typeof createActivities>;
