// Compiles the server code to JavaScript in dist/ (tsconfig.build.json) and prebuilds the workflow
// bundles from it, as `npm run build` does: what the image and `npm run start:api` / `start:worker`
// run. Skipped when the build is newer than every source it comes from, so that repeated
// `npm run setup` and `npm test` runs pass in milliseconds (`npm run dev` runs the sources).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { promisify } from 'node:util';
import { LOCAL_DIR, PROJECT_ROOT, type Tool } from './tools.ts';

const run = promisify(execFile);
/** Written last by every build (tsc rewrites all of its outputs before). */
const LAST_OUTPUT = join('dist', 'workflows', 'bundle-tracing.js');
export const SERVER_BUILT = join(PROJECT_ROOT, LAST_OUTPUT);
/** What tsconfig.build.json compiles, and the files that decide how. */
const SOURCES = [
  'api', 'workflows', 'activities', 'workers', 'lib', 'temporal-config', 'generated',
  'scripts/db-migrate.ts', 'scripts/temporal-setup.ts', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json',
];

/** The newest modification time of path (a file, or the files under a folder). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

export function serverBuildIsCurrent(root = PROJECT_ROOT): boolean {
  const built = join(root, LAST_OUTPUT);
  if (!existsSync(built)) return false;
  const sources = Math.max(...SOURCES.map((s) => join(root, s)).filter(existsSync).map(newest));
  return statSync(built).mtimeMs >= sources;
}

const BUILD_TIMEOUT_MS = 5 * 60_000;

/**
 * One build at a time (a lock folder: mkdir either creates it or fails): test files running side by
 * side may each find the build stale, and two builds writing dist/ at once would tear its files.
 */
async function oneAtATime<T>(build: () => Promise<T>): Promise<T> {
  const lock = join(LOCAL_DIR, 'server-build.lock');
  mkdirSync(LOCAL_DIR, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A build killed midway leaves its lock behind: one older than any build can take is taken over.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > BUILD_TIMEOUT_MS) rmSync(lock, { recursive: true, force: true });
      else await setTimeout(200);
    }
  }
  try {
    return await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function ensureServerBuild(): Promise<Tool> {
  const require = createRequire(import.meta.url);
  const version = `tsc ${(require('typescript/package.json') as { version: string }).version}`;
  if (serverBuildIsCurrent()) return { path: SERVER_BUILT, version, source: 'up to date' };
  return oneAtATime(async () => {
    // Another process may have built it while this one waited.
    if (serverBuildIsCurrent()) return { path: SERVER_BUILT, version, source: 'up to date' };
    const options = { cwd: PROJECT_ROOT, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 };
    await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], options);
    await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'workers', 'write-workflow-bundles.js')], options);
    return { path: SERVER_BUILT, version, source: 'built' };
  });
}
