// Builds every activity from injected dependencies; workers register the result.
import type { Client } from '@temporalio/client';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import { createChannelActivities } from './channels/index.ts';
import { createDiagnosticsActivities } from './diagnostics.ts';
import { createIntegrityActivities } from './integrity.ts';
import { createLlmActivities } from './llm/index.ts';
import { createMaintenanceActivities } from './maintenance.ts';
import { createRagActivities } from './rag.ts';
import { createStoreActivities } from './store.ts';

export interface ActivityDependencies {
  db: Db;
  logger: Logger;
  /** SECRETS_KEYS: the integrity checks decrypt channel secrets to prove they still can. */
  keyring: Keyring;
  /** The integrity checks look up conversation workflows. */
  temporal: Client;
  /** META_GRAPH_API_URL: every Graph API call goes through it. */
  graphApiUrl: string;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createDiagnosticsActivities(deps.db),
    ...createMaintenanceActivities(deps.db, deps.logger),
    ...createIntegrityActivities(deps),
    ...createStoreActivities(deps.db),
    ...createChannelActivities(deps),
    ...createRagActivities(deps.db),
    ...createLlmActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
