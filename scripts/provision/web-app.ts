// Builds the tenant web app (web/ → web/dist) with Vite, unless the build is newer than every
// source it comes from (web/ itself, and package-lock.json for the versions of its libraries),
// so that repeated `npm run dev` and `npm test` runs skip it in milliseconds.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, type Tool } from './tools.ts';

const run = promisify(execFile);
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
  const require = createRequire(import.meta.url);
  const version = `vite ${(require('vite/package.json') as { version: string }).version}`;
  if (webAppIsCurrent()) return { path: BUILT, version, source: 'up to date' };
  // In a process of its own: a build sets NODE_ENV=production in the process that runs it, which
  // `npm run dev` would hand to the API and worker it starts (and they refuse dev settings then).
  const vite = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  await run(process.execPath, [vite, 'build', '--config', join(WEB_DIR, 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: WEB_DIR,
    timeout: 5 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return { path: BUILT, version, source: 'built' };
}
