// The web app's API types are the OpenAPI document's: a route, body or answer changed in the API
// without `npm run web:types` fails here, before the web app can drift from the API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WEB_API_TYPES, webApiTypes } from '../scripts/web-api-types.ts';

describe('the web app API types', () => {
  // Generated once for both tests: building the app and the types is most of the file's time.
  let generated: Promise<string> | undefined;
  const current = () => (generated ??= webApiTypes());

  it('match the OpenAPI document the API serves (run `npm run web:types` if not)', async () => {
    const committed = readFileSync(WEB_API_TYPES, 'utf8');
    const types = await current();
    // One line in the message, not a 12,000-line diff: the first path whose types differ.
    const committedLines = committed.split('\n');
    const firstDiff = types.split('\n').findIndex((line, i) => line !== committedLines[i]);
    expect(committed === types, `web/src/api/schema.d.ts is stale from line ${firstDiff + 1}: run \`npm run web:types\``).toBe(true);
  });

  it('leave the web app out of the document', async () => {
    expect(await current()).not.toMatch(/"\/app[/"]/);
  });
});
