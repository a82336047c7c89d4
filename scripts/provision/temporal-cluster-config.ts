// The Temporal server's configuration file, rendered from temporal-cluster.yaml: the pure part of
// scripts/provision/temporal-cluster.ts (no process, no database), so that it is unit-tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './tools.ts';

/** The official server module (go.temporal.io/server) the cluster is built from. */
export const TEMPORAL_SERVER_VERSION = '1.32.1';

/**
 * History shards, fixed forever once the databases exist (a workflow id hashes to a shard). 8: each
 * shard is an owner lock, a task queue reader and a timer reader polling Postgres, so hundreds
 * of them would cost a 2-core machine CPU while idle; more than one keeps conversations on
 * several shards, as in production, where a cluster sized to grow starts at 512 or more.
 */
export const HISTORY_SHARDS = 8;

export const TEMPLATE_FILE = join(PROJECT_ROOT, 'scripts', 'provision', 'temporal-cluster.yaml');
export const DYNAMIC_CONFIG_FILE = join(PROJECT_ROOT, 'temporal-config', 'dynamicconfig', 'development-sql.yaml');

/** The four services run in one process, each with its gRPC and membership port. */
export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export const PORT_NAMES: (keyof ClusterPorts)[] = [
  'frontend', 'frontendHttp', 'frontendMembership', 'history', 'historyMembership', 'matching', 'matchingMembership', 'worker', 'workerMembership',
];

export interface ClusterConfig {
  ports: ClusterPorts;
  postgresAddress: string;
  databaseUser: string;
  persistenceDatabase: string;
  visibilityDatabase: string;
  dynamicConfigFile: string;
  historyShards?: number;
  logLevel?: string;
}

/** The template's placeholders: `${FRONTEND_PORT}` for ports.frontend, and so on. */
export function templateValues(config: ClusterConfig): Record<string, string> {
  const ports = Object.fromEntries(
    PORT_NAMES.map((name) => [`${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_PORT`, String(config.ports[name])]),
  );
  return {
    ...ports,
    POSTGRES_ADDRESS: config.postgresAddress,
    DATABASE_USER: config.databaseUser,
    PERSISTENCE_DATABASE: config.persistenceDatabase,
    VISIBILITY_DATABASE: config.visibilityDatabase,
    DYNAMIC_CONFIG_FILE: config.dynamicConfigFile,
    HISTORY_SHARDS: String(config.historyShards ?? HISTORY_SHARDS),
    LOG_LEVEL: config.logLevel ?? 'warn',
  };
}

/**
 * Replaces every `${NAME}` of the template. A placeholder without a value, or a value that
 * would break out of its YAML scalar, is an error rather than a server that reads a wrong file.
 */
export function renderClusterConfig(config: ClusterConfig, template = readFileSync(TEMPLATE_FILE, 'utf8')): string {
  const values = templateValues(config);
  for (const [name, value] of Object.entries(values)) {
    if (!/^[\w./:@-]+$/.test(value)) throw new Error(`Temporal config value ${name} must be a plain word or path, got ${JSON.stringify(value)}`);
  }
  const ports = PORT_NAMES.map((name) => config.ports[name]);
  if (ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) throw new Error(`Temporal ports must be 1–65535, got ${ports.join(', ')}`);
  if (new Set(ports).size !== ports.length) throw new Error(`Temporal ports must differ, got ${ports.join(', ')}`);
  return template.replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`Temporal config template names \${${name}}, which has no value`);
    return value;
  });
}
