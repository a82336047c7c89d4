// Finds (or installs) promtool, which checks and unit-tests the alerting rules and checks the
// Prometheus configuration of observability/prometheus/ (test/alert-rules.test.ts). It comes from
// Debian's `prometheus` package, like the browser from Debian's `chromium`:
//   1. PROMTOOL_PATH, when set, is used as it is (it must be an executable);
//   2. else /usr/bin/promtool, when the package is installed;
//   3. else .local/promtool/usr/bin/promtool, extracted earlier;
//   4. else `apt-get download prometheus` and promtool alone extracted from it into .local/ with
//      dpkg-deb: no root needed, nothing installed system-wide, and the Prometheus server in the
//      same package is never unpacked. Only root may `apt-get update` first when the package lists
//      do not know the package yet;
//   5. else an error naming what to install.
// Only the test path asks for it (`scripts/setup.ts --promtool`, and the test itself).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { executable, LOCAL_DIR, type Tool } from './tools.ts';

const run = promisify(execFile);

export const DEBIAN_PROMTOOL = '/usr/bin/promtool';
const PACKAGE = 'prometheus';
/** Where the package's file lands under the extraction folder. */
const IN_PACKAGE = './usr/bin/promtool';

const INSTALL_HINT =
  'install Debian\'s "prometheus" package (apt-get install prometheus), which carries /usr/bin/promtool, or set PROMTOOL_PATH to a promtool executable';

async function promtoolVersion(path: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(path, ['--version'], { timeout: 30_000 });
    return `${stdout}${stderr}`.trim().split('\n')[0] ?? '';
  } catch (err) {
    throw new Error(`${path} --version failed (${(err as Error).message.split('\n')[0]}): ${INSTALL_HINT}`);
  }
}

function hasApt(): boolean {
  return ['apt-get', 'apt-cache', 'dpkg-deb'].every((tool) => ['/usr/bin', '/bin'].some((dir) => existsSync(join(dir, tool))));
}

async function aptKnowsPackage(): Promise<boolean> {
  try {
    const { stdout } = await run('apt-cache', ['policy', PACKAGE], { timeout: 60_000 });
    return /Candidate:\s+(?!\(none\))\S+/.test(stdout);
  } catch {
    return false;
  }
}

/** Downloads the package into a staging folder and keeps promtool only; renamed into place when whole. */
async function extractFromPackage(localDir: string, asRoot: boolean): Promise<void> {
  const staging = `${localDir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    if (!(await aptKnowsPackage())) {
      if (!asRoot) throw new Error(`apt's package lists do not know "${PACKAGE}" and only root may run apt-get update`);
      await run('apt-get', ['update'], { env, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    }
    await run('apt-get', ['download', PACKAGE], { cwd: staging, env, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    const deb = readdirSync(staging).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${PACKAGE} left no .deb file`);
    await run('bash', ['-o', 'pipefail', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"', 'bash', join(staging, deb), staging, IN_PACKAGE], {
      timeout: 5 * 60_000,
    });
    rmSync(join(staging, deb));
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const e = err as Error & { stderr?: string };
    const detail = (e.stderr || e.message).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`Could not extract promtool from Debian's "${PACKAGE}" package into ${localDir} (${detail}): ${INSTALL_HINT}`);
  }
  try {
    renameSync(staging, localDir);
  } catch (err) {
    // Another process (a parallel test file) put a whole copy there first: keep that one.
    rmSync(staging, { recursive: true, force: true });
    if (!executable(join(localDir, IN_PACKAGE))) throw err;
  }
}

export interface EnsurePromtoolOptions {
  env?: NodeJS.ProcessEnv;
  /** Where Debian's package puts promtool (tests point it elsewhere). */
  debianPath?: string;
  /** The folder promtool is extracted into (default .local/promtool). */
  localDir?: string;
  /** Whether the package may be downloaded with apt-get (default: apt-get and dpkg-deb are there). */
  canDownload?: boolean;
}

export async function ensurePromtool(options: EnsurePromtoolOptions = {}): Promise<Tool> {
  const { env = process.env, debianPath = DEBIAN_PROMTOOL, localDir = join(LOCAL_DIR, 'promtool') } = options;
  const configured = env.PROMTOOL_PATH;
  if (configured) {
    if (!executable(configured)) throw new Error(`PROMTOOL_PATH=${configured} is not an executable file: ${INSTALL_HINT}`);
    return { path: configured, version: await promtoolVersion(configured), source: 'PROMTOOL_PATH' };
  }
  if (executable(debianPath)) return { path: debianPath, version: await promtoolVersion(debianPath), source: 'Debian package' };
  const extracted = join(localDir, IN_PACKAGE);
  if (!executable(extracted)) {
    if (!(options.canDownload ?? hasApt())) throw new Error(`No promtool at ${debianPath} or ${extracted}, and no apt-get and dpkg-deb to fetch it: ${INSTALL_HINT}`);
    await extractFromPackage(localDir, process.getuid?.() === 0);
    if (!executable(extracted)) throw new Error(`Debian's "${PACKAGE}" package had no ${IN_PACKAGE}: ${INSTALL_HINT}`);
    return { path: extracted, version: await promtoolVersion(extracted), source: `apt-get download ${PACKAGE}, extracted into .local/` };
  }
  return { path: extracted, version: await promtoolVersion(extracted), source: `Debian package, extracted into .local/` };
}
