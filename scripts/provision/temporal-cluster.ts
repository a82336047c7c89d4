// A real Temporal server (not the CLI's dev server) on Postgres, as production runs it, for
// `npm run dev -- --cluster`, `npm run test:cluster` and `npm run bench:cluster`:
//   - built from the official Go module go.temporal.io/server at TEMPORAL_SERVER_VERSION
//     (`go install` of cmd/server and of the SQL schema tool cmd/tools/sql) into .local/, with
//     GOPATH and GOCACHE under .local/ too, so a clone needs nothing but Go; minutes cold (README:
//     "On a Temporal cluster, on one machine"), so only `npm run setup -- --cluster` and the
//     cluster scripts build it;
//   - its own role (with a password Postgres checks) and two databases, persistence and SQL
//     visibility, whose schema Temporal's own tool applies from the module's schema files. The
//     visibility schema needs the btree_gin extension, which the embedded Postgres build lacks:
//     Temporal's databases get a Postgres server of their own from binaries that have it
//     (temporalPostgresBinDir), as production often gives Temporal its own database server;
//   - a config file rendered from temporal-cluster.yaml (temporal-cluster-config.ts);
//   - the namespace registered and the platform's search attributes added through the
//     operator API (temporal-config/search-attributes.ts), as `npm run temporal:setup` does.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import getPort, { portNumbers } from 'get-port';
import pg from 'pg';
import { registerSearchAttributes } from '../../temporal-config/search-attributes.ts';
import { PORT_NAMES, renderClusterConfig, TEMPORAL_SERVER_VERSION, type ClusterConfig, type ClusterPorts } from './temporal-cluster-config.ts';
import { ensureEmbeddedPostgres, LOCAL_DIR, type Tool } from './tools.ts';

const run = promisify(execFile);

const GO_DIR = join(LOCAL_DIR, 'go');
const INSTALL_DIR = join(LOCAL_DIR, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
const MODULE = 'go.temporal.io/server';

export interface TemporalServerInstall extends Tool {
  /** The SQL schema tool (temporal-sql-tool). */
  sqlToolPath: string;
  /** schema/postgresql/v12 of the module: temporal/versioned and visibility/versioned. */
  schemaDir: string;
}

/** Go's folders under .local/ (module cache writable, so that `rm -rf .local` works). */
function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOPATH: GO_DIR,
    GOCACHE: join(GO_DIR, 'cache'),
    GOMODCACHE: join(GO_DIR, 'pkg', 'mod'),
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
}

const schemaDir = () => join(GO_DIR, 'pkg', 'mod', `${MODULE}@v${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');

/** The built server, or builds it (minutes the first time; milliseconds once in place). */
export async function ensureTemporalServer(log: (line: string) => void = () => {}): Promise<TemporalServerInstall> {
  const serverPath = join(INSTALL_DIR, 'temporal-server');
  const sqlToolPath = join(INSTALL_DIR, 'temporal-sql-tool');
  const built = existsSync(serverPath) && existsSync(sqlToolPath);
  if (!built) {
    try {
      await run('go', ['version'], { env: goEnv() });
    } catch {
      throw new Error('Building the Temporal server needs Go (https://go.dev/dl/) on PATH');
    }
    log(`building Temporal server ${TEMPORAL_SERVER_VERSION} from ${MODULE} (minutes the first time)…`);
    // Installed into a staging folder and renamed, so that a build cut short is never used.
    const staging = `${INSTALL_DIR}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    try {
      await run('go', ['install', `${MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`], {
        env: { ...goEnv(), GOBIN: staging },
        timeout: 30 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      const e = err as { stderr?: string; message: string };
      throw new Error(`go install of Temporal server ${TEMPORAL_SERVER_VERSION} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-10).join('\n')}`);
    }
    renameSync(join(staging, 'server'), join(staging, 'temporal-server'));
    renameSync(join(staging, 'sql'), join(staging, 'temporal-sql-tool'));
    rmSync(INSTALL_DIR, { recursive: true, force: true });
    renameSync(staging, INSTALL_DIR);
  }
  // The binaries outlive a cleaned module cache; the schema files come from there.
  if (!existsSync(schemaDir())) await run('go', ['mod', 'download', `${MODULE}@v${TEMPORAL_SERVER_VERSION}`], { env: goEnv(), timeout: 10 * 60_000 });
  return { path: serverPath, sqlToolPath, schemaDir: schemaDir(), version: TEMPORAL_SERVER_VERSION, source: built ? `built ${MODULE}` : `go install ${MODULE}@v${TEMPORAL_SERVER_VERSION}` };
}

/**
 * A Postgres bin folder whose installation has btree_gin (Temporal's SQL visibility indexes need
 * it): TEMPORAL_POSTGRES_BIN_DIR, the embedded one, or the system's (/usr/lib/postgresql/<v>/bin,
 * Debian's postgresql-contrib), newest first.
 */
export async function temporalPostgresBinDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const system = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => join('/usr/lib/postgresql', v, 'bin'))
    : [];
  const candidates = [...(env.TEMPORAL_POSTGRES_BIN_DIR ? [env.TEMPORAL_POSTGRES_BIN_DIR] : []), (await ensureEmbeddedPostgres()).binDir, ...system];
  for (const binDir of candidates) {
    try {
      const { stdout } = await run(join(binDir, 'pg_config'), ['--sharedir']);
      if (existsSync(join(stdout.trim(), 'extension', 'btree_gin.control')) && existsSync(join(binDir, 'postgres'))) return binDir;
    } catch {
      // not a Postgres installation
    }
  }
  throw new Error(
    `Temporal's SQL visibility schema needs the Postgres extension btree_gin, and none of ${candidates.join(', ')} has it: ` +
      'install postgresql-contrib (Debian, Ubuntu) or set TEMPORAL_POSTGRES_BIN_DIR to the bin folder of a Postgres that has it',
  );
}

export interface TemporalDatabases {
  user: string;
  password: string;
  persistence: string;
  visibility: string;
}

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Invalid Postgres name: ${name}`);
  return name;
};

/**
 * The role (its password set to `password`) and both databases, owned by it; and, when the
 * server's pg_hba.conf is on this machine (the embedded Postgres, which trusts local connections),
 * a rule in front that makes Postgres check this role's password.
 */
export async function provisionTemporalDatabases(adminUrl: string, dbs: TemporalDatabases): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const user = ident(dbs.user);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    // The password as a literal: CREATE/ALTER ROLE take no parameters. It is generated (base64url).
    const password = `'${dbs.password.replace(/'/g, "''")}'`;
    await admin.query(rowCount ? `ALTER ROLE ${user} WITH LOGIN PASSWORD ${password}` : `CREATE ROLE ${user} WITH LOGIN PASSWORD ${password}`);
    for (const db of [ident(dbs.persistence), ident(dbs.visibility)]) {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (!exists.rowCount) await admin.query(`CREATE DATABASE ${db} OWNER ${user}`);
    }
    const hbaFile = (await admin.query<{ hba_file: string }>('SHOW hba_file')).rows[0]?.hba_file;
    if (hbaFile && existsSync(hbaFile)) {
      const rule = `host all ${user} 127.0.0.1/32 scram-sha-256`;
      const current = readFileSync(hbaFile, 'utf8');
      if (!current.split('\n').includes(rule)) {
        writeFileSync(hbaFile, `# Temporal's role signs in with its password (scripts/provision/temporal-cluster.ts)\n${rule}\n${current}`);
        await admin.query('SELECT pg_reload_conf()');
      }
    }
  } finally {
    await admin.end();
  }
}

/** Temporal's schema, applied (or brought up to date) by its own tool. Idempotent. */
export async function applyTemporalSchemas(install: TemporalServerInstall, postgres: { host: string; port: number }, dbs: TemporalDatabases): Promise<void> {
  for (const [db, dir] of [[dbs.persistence, 'temporal'], [dbs.visibility, 'visibility']] as const) {
    const base = ['--plugin', 'postgres12', '--endpoint', postgres.host, '--port', String(postgres.port), '--user', dbs.user, '--database', db, '--quiet'];
    // The password through the environment, never on a command line others can read.
    const env = { ...process.env, SQL_PASSWORD: dbs.password };
    const tool = (args: string[]) => run(install.sqlToolPath, [...base, ...args], { env, timeout: 300_000 }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`temporal-sql-tool ${args[0]} on ${db}: ${(err.stderr || err.message).trim()}`);
    });
    // setup-schema creates the version table; a database that has it only needs the update.
    if ((await schemaVersion(postgres, dbs, db)) === undefined) await tool(['setup-schema', '--version', '0.0']);
    const versioned = join(install.schemaDir, dir, 'versioned');
    await tool(['update-schema', '--schema-dir', versioned]);
    // The tool logs a failed step and carries on: the version reached is what counts.
    const latest = readdirSync(versioned).map((v) => v.slice(1)).sort(compareVersions).at(-1);
    const reached = await schemaVersion(postgres, dbs, db);
    if (reached !== latest) throw new Error(`temporal-sql-tool left ${db} at schema version ${reached ?? 'none'}, not ${latest}: see the Postgres log`);
  }
}

const compareVersions = (a: string, b: string) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  return (x[0]! - y[0]!) || (x[1]! - y[1]!);
};

/** The schema version Temporal's tool recorded, or undefined before its set-up. */
async function schemaVersion(postgres: { host: string; port: number }, dbs: TemporalDatabases, db: string): Promise<string | undefined> {
  const client = new pg.Client({ host: postgres.host, port: postgres.port, user: dbs.user, password: dbs.password, database: db });
  await client.connect();
  try {
    const { rows } = await client.query<{ found: boolean }>("SELECT to_regclass('public.schema_version') IS NOT NULL AS found");
    if (!rows[0]?.found) return undefined;
    const version = await client.query<{ curr_version: string }>('SELECT curr_version FROM schema_version LIMIT 1');
    return version.rows[0]?.curr_version;
  } finally {
    await client.end();
  }
}

/**
 * Free ports for the services; `frontend` (the address clients use) when given. Below 32768: the
 * server records membership ports in a smallint column, and the kernel's ephemeral ports (where
 * a bare free port comes from) start above it.
 */
export async function clusterPorts(frontend?: number): Promise<ClusterPorts> {
  const ports: Partial<ClusterPorts> = {};
  const taken = new Set<number>(frontend ? [frontend] : []);
  for (const name of PORT_NAMES) {
    if (name === 'frontend' && frontend) {
      ports.frontend = frontend;
      continue;
    }
    let port: number;
    do port = await getPort({ host: '127.0.0.1', port: portNumbers(20_000 + Math.floor(Math.random() * 10_000), 32_767) });
    while (taken.has(port));
    taken.add(port);
    ports[name] = port;
  }
  return ports as ClusterPorts;
}

export interface PreparedCluster {
  install: TemporalServerInstall;
  configFile: string;
  address: string;
  /** How to run the server (all four services in one process). */
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface PrepareOptions {
  /** The Postgres superuser URL, to create the role and the databases. */
  adminUrl: string;
  /** Where the rendered config and the generated password are kept. */
  dir: string;
  ports: ClusterPorts;
  databases?: Partial<TemporalDatabases>;
  dynamicConfigFile: string;
  logLevel?: string;
  log?: (line: string) => void;
}

/** Build (if needed), role and databases, schema, config file: everything before the server starts. */
export async function prepareTemporalCluster(options: PrepareOptions): Promise<PreparedCluster> {
  const install = await ensureTemporalServer(options.log);
  mkdirSync(options.dir, { recursive: true });
  const dbs: TemporalDatabases = {
    user: 'temporal',
    persistence: 'temporal',
    visibility: 'temporal_visibility',
    ...options.databases,
    password: options.databases?.password ?? storedPassword(join(options.dir, 'db-password')),
  };
  const url = new URL(options.adminUrl);
  const postgres = { host: url.hostname, port: Number(url.port || 5432) };
  await provisionTemporalDatabases(options.adminUrl, dbs);
  await applyTemporalSchemas(install, postgres, dbs);
  const config: ClusterConfig = {
    ports: options.ports,
    postgresAddress: `${postgres.host}:${postgres.port}`,
    databaseUser: dbs.user,
    persistenceDatabase: dbs.persistence,
    visibilityDatabase: dbs.visibility,
    dynamicConfigFile: options.dynamicConfigFile,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  };
  const configFile = join(options.dir, 'config.yaml');
  writeFileSync(configFile, renderClusterConfig(config));
  return {
    install,
    configFile,
    address: `127.0.0.1:${options.ports.frontend}`,
    command: install.path,
    args: ['--config-file', configFile, '--allow-no-auth', 'start'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TEMPORAL_DB_PASSWORD: dbs.password },
  };
}

/** Generated once per data folder and kept there (0600), so that the role keeps its password. */
function storedPassword(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/** Closed runs' histories are deleted this long after they close (as docker-compose's server). */
const RETENTION = '72 hours';

/**
 * Waits for the frontend, registers the namespace if it does not exist and adds the platform's
 * search attributes; returns what was done. Idempotent.
 */
export async function setUpClusterNamespace(address: string, namespace: string, timeoutMs = 120_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const done: string[] = [];
  let lastError = '';
  for (;;) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000 });
      const service = connection.workflowService;
      const exists = await service.describeNamespace({ namespace }).then(() => true, (err: { code?: number }) => {
        if (err.code === 5) return false; // NOT_FOUND
        throw err;
      });
      if (!exists) {
        await service.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION) }).catch((err: { code?: number }) => {
          if (err.code !== 6) throw err; // ALREADY_EXISTS: registered by an earlier attempt
        });
        done.push(`registered namespace "${namespace}"`);
      }
      // A namespace just registered is unknown to the frontend until its cache refreshes.
      await service.describeNamespace({ namespace });
      const added = await registerSearchAttributes(new Client({ connection, namespace }), namespace);
      if (added.length) done.push(`search attributes ${added.join(', ')}`);
      return done;
    } catch (err) {
      lastError = (err as Error).message;
      if (Date.now() > deadline) throw new Error(`Temporal at ${address}: namespace "${namespace}" not ready within ${timeoutMs / 1000} s: ${lastError}`);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await connection?.close().catch(() => {});
    }
  }
}
