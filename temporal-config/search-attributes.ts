// Registers the custom search attributes on any Temporal server (the dev server already has them
// from its start flags; a production cluster gets them when a worker first starts). Idempotent.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

export async function registerSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const { operatorService } = client.connection;
  const existing = await operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return missing.map((key) => key.name);
}
