// How the Temporal dev server is started, shared by `npm run dev` and the test suite so that
// both run the same server configuration.
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

/**
 * Dynamic config for the dev server (`--dynamic-config-value`; the production server reads the
 * same keys from temporal-config/dynamicconfig/development-sql.yaml).
 */
export const DEV_DYNAMIC_CONFIG: Record<string, unknown> = {
  // Search attributes registered at start are usable at once, not after a cache refresh.
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  // A conversation workflow id holds tenant, channel and external user id.
  'limit.maxIDLength': 1000,
  // A workflow task that schedules an activity hands it straight to the worker that completed
  // it when that worker has a free slot (the SDK asks by default): no trip through matching.
  'system.enableActivityEagerExecution': true,
};

export function devServerArgs(): string[] {
  return Object.entries(DEV_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/** `--search-attribute Name=Keyword` flags for the CLI. */
export function searchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
