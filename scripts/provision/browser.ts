// Finds (or installs) the Chromium that the browser tests drive through playwright-core.
// playwright's own browser downloads come from a CDN this project cannot rely on, so the browser
// is Debian's `chromium` package:
//   1. CHROMIUM_PATH, when set, is used as it is (it must exist);
//   2. else /usr/bin/chromium, when there;
//   3. else, as root with apt-get, `apt-get install chromium` (after `apt-get update` only when
//      the package lists do not know it yet);
//   4. else an error naming what to install.
// Only the test path asks for it (`scripts/setup.ts --browser`): the dev stack needs no browser.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { executable, type Tool } from './tools.ts';

const run = promisify(execFile);

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

const INSTALL_HINT =
  'install Debian\'s "chromium" package (apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome executable';

/** The installed Debian package's version; fast, unlike starting the browser for `--version`. */
async function debianVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f', '${Version}', 'chromium'], { timeout: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function browserVersion(path: string): Promise<string> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 30_000 });
    return stdout.trim();
  } catch (err) {
    throw new Error(`${path} --version failed (${(err as Error).message.split('\n')[0]}): ${INSTALL_HINT}`);
  }
}

/** The browser to use without installing anything, or undefined. CHROMIUM_PATH wins when set. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  return executable(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined;
}

function canApt(): boolean {
  return process.getuid?.() === 0 && ['/usr/bin/apt-get', '/bin/apt-get'].some(existsSync);
}

async function aptKnowsChromium(): Promise<boolean> {
  try {
    const { stdout } = await run('apt-cache', ['policy', 'chromium'], { timeout: 60_000 });
    return /Candidate:\s+(?!\(none\))\S+/.test(stdout);
  } catch {
    return false;
  }
}

async function aptInstallChromium(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => run('apt-get', args, { env, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  try {
    if (!(await aptKnowsChromium())) await apt(['update']);
    await apt(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const detail = (e.stderr || e.message).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`apt-get could not install chromium (${detail}): ${INSTALL_HINT}`);
  }
}

export interface EnsureChromiumOptions {
  env?: NodeJS.ProcessEnv;
  /** Where Debian's package puts the browser (tests point it elsewhere). */
  debianPath?: string;
  /** Whether apt-get may install it (default: running as root with apt-get present). */
  canInstall?: boolean;
}

export async function ensureChromium(options: EnsureChromiumOptions = {}): Promise<Tool> {
  const { env = process.env, debianPath = DEBIAN_CHROMIUM } = options;
  const configured = env.CHROMIUM_PATH;
  if (configured) {
    if (!executable(configured)) throw new Error(`CHROMIUM_PATH=${configured} is not an executable file: ${INSTALL_HINT}`);
    return { path: configured, version: await browserVersion(configured), source: 'CHROMIUM_PATH' };
  }
  if (!executable(debianPath)) {
    if (!(options.canInstall ?? canApt())) throw new Error(`No Chromium at ${debianPath} and no apt-get as root to install it: ${INSTALL_HINT}`);
    await aptInstallChromium();
    if (!executable(debianPath)) throw new Error(`apt-get installed chromium but ${debianPath} is missing: ${INSTALL_HINT}`);
    return { path: debianPath, version: await browserVersion(debianPath), source: 'apt-get install chromium' };
  }
  const version = debianPath === DEBIAN_CHROMIUM ? await debianVersion() : undefined;
  return { path: debianPath, version: version ? `Chromium ${version}` : await browserVersion(debianPath), source: 'Debian package' };
}
