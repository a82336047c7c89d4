// Builds the tenant web app (web/ → web/dist) with Vite, unless the build is newer than every
// source it comes from (web/ itself, and package-lock.json for the versions of its libraries),
// so that repeated `npm run dev` and `npm test` runs skip it in milliseconds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PROJECT_ROOT, type Tool } from './tools.ts';

const WEB_DIR = join(PROJECT_ROOT, 'web');
const BUILT = join(WEB_DIR, 'dist', 'index.html');

/** The newest modification time of the files under dir (the build output and node_modules aside). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Whether webDir/dist was built after every source changed (root: where package-lock.json is). */
export function webAppIsCurrent(webDir = WEB_DIR, root = PROJECT_ROOT): boolean {
  const built = join(webDir, 'dist', 'index.html');
  if (!existsSync(built)) return false;
  const sources = Math.max(newestSource(webDir), statSync(join(root, 'package-lock.json')).mtimeMs);
  return statSync(built).mtimeMs >= sources;
}

export async function ensureWebApp(): Promise<Tool> {
  const version = `vite ${(createRequire(import.meta.url)('vite/package.json') as { version: string }).version}`;
  if (webAppIsCurrent()) return { path: BUILT, version, source: 'up to date' };
  // Loaded only to build: Vite takes half a second to import.
  const { build } = await import('vite');
  await build({ configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
  return { path: BUILT, version, source: 'built' };
}
