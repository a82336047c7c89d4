// Compiles the server code to JavaScript in dist/ (tsconfig.build.json) and prebuilds the workflow
// bundles from it, as `npm run build` does: what the image and `npm run start:api` / `start:worker`
// run. Skipped when the build is newer than every source it comes from, so that repeated
// `npm run setup` and `npm test` runs pass in milliseconds (`npm run dev` runs the sources).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, type Tool } from './tools.ts';

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

export async function ensureServerBuild(): Promise<Tool> {
  const require = createRequire(import.meta.url);
  const version = `tsc ${(require('typescript/package.json') as { version: string }).version}`;
  if (serverBuildIsCurrent()) return { path: SERVER_BUILT, version, source: 'up to date' };
  const options = { cwd: PROJECT_ROOT, timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 };
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], options);
  await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'workers', 'write-workflow-bundles.js')], options);
  return { path: SERVER_BUILT, version, source: 'built' };
}
