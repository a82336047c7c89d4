// The custom search attributes (workflows/search-attributes.ts) are registered once per namespace
// by a setup step, `npm run temporal:setup` (scripts/temporal-setup.ts; `npm run dev` and the test
// and benchmark stacks pass them to the dev server's start flags). Workers only check that they
// exist (missingSearchAttributes) and refuse to start without them, naming what is missing, so
// that no fleet of workers races to change a namespace's schema at every start.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

/** The platform's search attributes the namespace does not have as Keyword attributes. */
export async function missingSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const custom = existing.customAttributes ?? {};
  const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  return SEARCH_ATTRIBUTES.filter((key) => custom[key.name] !== keyword).map((key) => key.name);
}

/** Registers the missing ones; returns their names. Idempotent. */
export async function registerSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const missing = await missingSearchAttributes(client, namespace);
  if (missing.length === 0) return [];
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((name) => [name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return missing;
}

/** The worker's start-up check: an error that names the missing attributes and the fix. */
export async function assertSearchAttributes(client: Client, namespace: string): Promise<void> {
  const missing = await missingSearchAttributes(client, namespace);
  if (missing.length) {
    throw new Error(
      `Temporal namespace "${namespace}" lacks the search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (Keyword): run \`npm run temporal:setup\` once against it`,
    );
  }
}
