// Builds every activity from injected dependencies; workers register the result.
import type { Client } from '@temporalio/client';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { createDiagnosticsActivities } from './diagnostics.ts';
import { createIntegrityActivities } from './integrity.ts';
import { createMaintenanceActivities } from './maintenance.ts';

export interface ActivityDependencies {
  db: Db;
  logger: Logger;
  /** SECRETS_KEYS: the integrity checks decrypt channel secrets to prove they still can. */
  keyring: Keyring;
  /** The integrity checks look up conversation workflows. */
  temporal: Client;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createDiagnosticsActivities(deps.db),
    ...createMaintenanceActivities(deps.db, deps.logger),
    ...createIntegrityActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
