// docker-compose.yml cannot run here (no Docker engine), so it is checked against what the code
// expects: its services, that the app services' variables are exactly ones the config knows and
// pass its validation once compose has substituted them, that Prometheus and Grafana are wired
// to the files of observability/, whose dashboard and rules read only series of the metric catalog,
// and that Temporal runs as in production. The Postgres init script that gives Temporal its own role
// and databases runs for real, against the test run's Postgres.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import ts from 'typescript';
import { parse } from 'yaml';
import { DEFAULT_GRAPH_TIMEOUT_MS } from '../activities/channels/graph-errors.ts';
import { billingOf } from '../lib/billing.ts';
import { CONFIG_VARIABLES, loadConfig } from '../lib/config.ts';
import { CANCELLATION_ACK_MS } from '../workers/create-workers.ts';
import { shutdownDeadlineMs } from '../workers/shutdown-signals.ts';
import { DASHBOARD_PATH } from '../observability/grafana/metachat-dashboard.ts';
import { catalogProblems } from './support/metric-catalog.ts';
import { createTestDatabase } from './support/database.ts';

interface Service {
  image?: string;
  build?: string;
  restart?: string;
  command?: string[];
  stop_grace_period?: string;
  secrets?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  ports?: unknown[];
  expose?: unknown[];
  entrypoint?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
};
const { services } = compose;

/** A compose duration such as `30s` or `1m30s`, in seconds (0 when unset: Docker's 10 s default is not enough). */
function seconds(duration: string | undefined): number {
  const parts = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration ?? '');
  return parts ? Number(parts[1] ?? 0) * 60 + Number(parts[2] ?? 0) : 0;
}

/** dist/ paths of the entry points tsconfig.build.json compiles (each a source file it includes). */
function compiledEntryPoints(): string[] {
  const build = ts.readConfigFile('tsconfig.build.json', ts.sys.readFile).config as { include: string[] };
  return ['api/server.ts', 'workers/main.ts', 'scripts/db-migrate.ts', 'scripts/temporal-setup.ts']
    .filter((source) => existsSync(source) && build.include.some((dir) => source === dir || source.startsWith(`${dir}/`)))
    .map((source) => `dist/${source.replace(/\.ts$/, '.js')}`);
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;

/** A service's bind mounts (`./host:container[:ro]`) as [host, container]. */
const bindMounts = (name: string): [string, string][] =>
  (services[name]?.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':').slice(0, 2) as [string, string]);

/** The host file or folder mounted at `target` in a service (or into a mounted folder above it). */
function hostPathOf(name: string, target: string): string | undefined {
  for (const [host, container] of bindMounts(name)) {
    if (target === container) return host;
    if (target.startsWith(`${container}/`)) return `${host}${target.slice(container.length)}`;
  }
  return undefined;
}

/** What `docker compose` does with `${VAR:?msg}` and `${VAR:-default}` given these values. */
function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = vars[name];
    if (set !== undefined && set !== '') return set;
    if (op === '?') throw new Error(`${name} is required by docker-compose.yml: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

const vars = {
  POSTGRES_PASSWORD: 'pw',
  TEMPORAL_DB_PASSWORD: 'temporal-pw',
  GRAFANA_ADMIN_PASSWORD: 'grafana-pw',
  ADMIN_API_KEY: randomBytes(32).toString('base64url'),
  SECRETS_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

describe('docker-compose.yml', () => {
  it('has the production services', () => {
    expect(Object.keys(services).sort()).toEqual([
      'api', 'grafana', 'migrate', 'postgres', 'prometheus', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker',
    ]);
    expect(services.postgres?.image).toMatch(/^pgvector\/pgvector:pg1[6-9]$/);
    expect(services.temporal?.environment?.DB).toBe('postgres12');
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('publishes the API and nothing else: Temporal and its UI are reachable inside the network only', () => {
    const publishing = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0).map(([name]) => name);
    expect(publishing).toEqual(['api']);
    expect(services.api?.ports).toEqual(['3000:3000']);
    const text = readFileSync('docker-compose.yml', 'utf8');
    expect(text).not.toMatch(/network_mode:\s*host/);
  });

  it("points the Web UI at the API's codec endpoint, and lets only the UI's origin call it", () => {
    const ui = services['temporal-ui']?.environment ?? {};
    expect(substitute(String(ui.TEMPORAL_CODEC_ENDPOINT), vars)).toBe('http://localhost:3000/codec');
    const api = loadConfig(Object.fromEntries(Object.entries(services.api?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)])));
    expect(api.TEMPORAL_UI_ORIGIN).toBe('http://localhost:8080');
  });

  it("keeps closed histories for the retention the README states (GDPR erasure's deadline in Temporal)", () => {
    const step = services['temporal-namespace'];
    expect(step?.environment?.NAMESPACE_RETENTION).toBe('72h');
    // Created with it, or set to it when the namespace exists.
    expect(step?.command?.join(' ')).toMatch(/namespace update .*--retention "\$\$NAMESPACE_RETENTION".*namespace create .*--retention "\$\$NAMESPACE_RETENTION"/s);
    expect(step?.environment?.TEMPORAL_NAMESPACE).toBe(services['temporal-setup']?.environment?.TEMPORAL_NAMESPACE);
    expect(readFileSync('README.md', 'utf8')).toContain('`NAMESPACE_RETENTION: 72h`');
  });

  it('registers the search attributes in a setup step the worker waits for', () => {
    expect(services['temporal-setup']?.command).toEqual(['node', 'dist/scripts/temporal-setup.js']);
    expect(services.worker?.depends_on).toMatchObject({ 'temporal-setup': { condition: 'service_completed_successfully' } });
    const env = Object.fromEntries(Object.entries(services['temporal-setup']?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)]));
    for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('runs the compiled entry points with plain node, no npm or TypeScript loader in between', () => {
    const compiled = compiledEntryPoints();
    for (const name of ['api', 'worker', 'migrate', 'temporal-setup']) {
      const [node, entry, ...rest] = services[name]?.command ?? [];
      expect(node, name).toBe('node');
      expect(rest, name).toEqual([]);
      expect(compiled, name).toContain(entry);
    }
  });

  it('waits longer than each service drains before it kills it', () => {
    const config = (name: string) => loadConfig(Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)])));
    const api = config('api');
    const worker = config('worker');
    expect(seconds(services.api?.stop_grace_period) * 1000).toBeGreaterThan(api.SHUTDOWN_GRACE_MS);
    expect(seconds(services.worker?.stop_grace_period) * 1000).toBeGreaterThan(shutdownDeadlineMs(worker.WORKER_SHUTDOWN_GRACE_MS, CANCELLATION_ACK_MS));
    // The worker's grace is longer than the longest send of an activity.
    expect(worker.WORKER_SHUTDOWN_GRACE_MS).toBeGreaterThan(Math.max(DEFAULT_GRAPH_TIMEOUT_MS, worker.WEBHOOK_TIMEOUT_MS));
  });

  it('starts api and worker only after migrations and a healthy Temporal', () => {
    for (const name of ['api', 'worker']) {
      expect(services[name]?.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        temporal: { condition: 'service_healthy' },
      });
    }
  });

  it.each(['api', 'worker', 'migrate'])('gives %s only variables the config schema knows', (name) => {
    const env = services[name]?.environment ?? {};
    for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
  });

  it.each(['api', 'worker'])('gives %s an environment that passes config validation', (name) => {
    const env = Object.fromEntries(
      Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)]),
    );
    const config = loadConfig(env);
    expect(new URL(config.DATABASE_URL).hostname).toBe('postgres');
    expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('shares one document storage volume between the API and the workers', () => {
    for (const name of ['api', 'worker']) {
      const dir = services[name]?.environment?.DOCUMENT_STORAGE_DIR;
      expect(dir).toBeDefined();
      expect(services[name]?.volumes).toContain(`documents:${dir}`);
    }
  });

  it('hands Stripe billing to the API (checkout, portal, webhooks) and the worker (webhook events, usage reports), off while its key is unset', () => {
    const stripe = {
      STRIPE_SECRET_KEY: 'sk_live_abc123',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc123',
      STRIPE_PRICES: 'pro:price_pro,business:price_business',
      STRIPE_METER_EVENTS: 'messages:metachat_messages',
    };
    const env = (name: string, from: Record<string, string>) =>
      loadConfig(Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), from)])));
    for (const name of ['api', 'worker']) {
      const billing = billingOf(env(name, { ...vars, ...stripe }));
      expect(billing?.webhookSecret, name).toBe('whsec_abc123');
      expect(billing?.prices, name).toEqual({ pro: 'price_pro', business: 'price_business' });
      expect(billing?.meterEvents, name).toEqual({ messages: 'metachat_messages' });
      expect(billingOf(env(name, vars)), name).toBeUndefined();
    }
    // The worker applying the webhook events and reporting usage polls the maintenance queue.
    expect(env('worker', vars).WORKER_TASK_QUEUES).toContain('maintenance');
    // One without the other stops the process with a message naming it.
    expect(() => env('api', { ...vars, STRIPE_SECRET_KEY: stripe.STRIPE_SECRET_KEY })).toThrow(/STRIPE_WEBHOOK_SECRET/);
  });

  it('refuses to start without the required secrets', () => {
    expect(() => substitute(String(services.api?.environment?.ADMIN_API_KEY), {})).toThrow(/ADMIN_API_KEY is required/);
    expect(() => substitute(String(services.grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD), {})).toThrow(/GRAFANA_ADMIN_PASSWORD is required/);
  });

  it('restarts the long-running services unless stopped, and runs the one-shot steps once', () => {
    const oneShot = ['migrate', 'temporal-schema', 'temporal-namespace', 'temporal-setup'];
    for (const [name, service] of Object.entries(services)) {
      if (oneShot.includes(name)) expect(service.restart, name).toBeUndefined();
      else expect(service.restart, name).toBe('unless-stopped');
    }
  });

  it('mounts files and folders that are in the repository', () => {
    for (const name of Object.keys(services)) {
      for (const [host] of bindMounts(name)) expect(existsSync(host), `${name} mounts ${host}`).toBe(true);
    }
  });
});

const run = promisify(execFile);
const INIT_SCRIPT = 'deploy/compose/postgres-init/10-temporal.sh';
/** Services that run to completion; every other one keeps running. */
const ONE_SHOT = ['migrate', 'temporal-schema', 'temporal-namespace', 'temporal-setup'];
const dependencies = (s: Service) => (Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }])) : (s.depends_on ?? {}));

describe('Temporal in docker-compose.yml', () => {
  const temporal = services.temporal ?? {};
  const schema = services['temporal-schema'] ?? {};
  const postgres = services.postgres ?? {};

  it('runs the server image of a current release, with its schema set up by the admin tools of the same release (no auto-setup image)', () => {
    const [, version] = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(temporal.image ?? '') ?? [];
    expect(version).toBeDefined();
    const [major, minor] = (version ?? '').split('.').map(Number);
    expect(major === 1 && minor! >= 30, `temporalio/server:${version}`).toBe(true);
    for (const step of ['temporal-schema', 'temporal-namespace']) expect(services[step]?.image, step).toBe(`temporalio/admin-tools:${version}`);
    expect(readFileSync('docker-compose.yml', 'utf8')).not.toMatch(/temporalio\/auto-setup/);
    expect(temporal.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    // The embedded configuration template (no --env/--config), listening on every interface and
    // announcing the container's own address to the cluster's members.
    expect(temporal.entrypoint?.at(-1)).toMatch(/export TEMPORAL_BROADCAST_ADDRESS=\$\$\(getent hosts .*\); exec temporal-server start$/);
    expect(temporal.environment?.BIND_ON_IP).toBe('0.0.0.0');
  });

  it('fixes the number of history shards, which cannot change once the cluster has started', () => {
    expect(temporal.environment?.NUM_HISTORY_SHARDS).toBe('512');
    expect(readFileSync('README.md', 'utf8')).toContain('`NUM_HISTORY_SHARDS: "512"`');
  });

  it('connects Temporal and its schema step as a role of their own, to the databases the init script gives that role', () => {
    const env = temporal.environment ?? {};
    const pgEnv = postgres.environment ?? {};
    expect(postgres.volumes).toContain('./deploy/compose/postgres-init:/docker-entrypoint-initdb.d:ro');
    // Healthy only once the init scripts are done: the image runs them on a server without TCP.
    expect(postgres.healthcheck?.test.join(' ')).toMatch(/pg_isready -h 127\.0\.0\.1 /);
    expect(existsSync(INIT_SCRIPT)).toBe(true);
    expect(env.POSTGRES_USER).toBe(pgEnv.TEMPORAL_DB_USER);
    expect(env.POSTGRES_USER).not.toBe(pgEnv.POSTGRES_USER);
    expect(schema.environment?.SQL_USER).toBe(pgEnv.TEMPORAL_DB_USER);
    expect([env.DBNAME, env.VISIBILITY_DBNAME]).toEqual([pgEnv.TEMPORAL_DB_NAME, pgEnv.TEMPORAL_VISIBILITY_DB_NAME]);
    for (const db of [env.DBNAME, env.VISIBILITY_DBNAME]) expect(schema.command?.join(' ')).toContain(`--database ${db} update-schema`);
    // Its own password, required, never the platform's.
    for (const value of [env.POSTGRES_PWD, schema.environment?.SQL_PASSWORD, pgEnv.TEMPORAL_DB_PASSWORD]) {
      expect(substitute(String(value), vars)).toBe(vars.TEMPORAL_DB_PASSWORD);
      expect(() => substitute(String(value), { ...vars, TEMPORAL_DB_PASSWORD: '' })).toThrow(/TEMPORAL_DB_PASSWORD is required/);
    }
  });

  it("the init script creates Temporal's role and databases, idempotently, and keeps that role out of the platform's database", async () => {
    const admin = new URL(inject('postgresAdminUrl'));
    const appDb = new URL(await createTestDatabase('compose_app')).pathname.slice(1);
    const id = randomBytes(4).toString('hex');
    const names = { TEMPORAL_DB_USER: `temporal_${id}`, TEMPORAL_DB_NAME: `temporal_${id}`, TEMPORAL_VISIBILITY_DB_NAME: `temporal_visibility_${id}` };
    // psql from PATH (Debian's postgresql-client, 15 or later for \getenv), as in the postgres image.
    const env = {
      PATH: process.env.PATH,
      PGHOST: admin.hostname, PGPORT: admin.port,
      POSTGRES_USER: decodeURIComponent(admin.username), POSTGRES_DB: appDb,
      ...names,
    };
    const connect = async (user: string, database: string) => {
      const client = new pg.Client({ host: admin.hostname, port: Number(admin.port), user, database });
      await client.connect();
      return client;
    };
    const superuser = await connect(env.POSTGRES_USER, appDb);
    try {
      await run('sh', [INIT_SCRIPT], { env: { ...env, TEMPORAL_DB_PASSWORD: "first 'pw'" } });
      // Once more, as on an existing volume by hand: nothing fails, the password is reset.
      await run('sh', [INIT_SCRIPT], { env: { ...env, TEMPORAL_DB_PASSWORD: 'second' } });
      const owners = await superuser.query<{ datname: string; owner: string }>(
        'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1) ORDER BY datname',
        [[names.TEMPORAL_DB_NAME, names.TEMPORAL_VISIBILITY_DB_NAME]],
      );
      expect(owners.rows).toEqual([names.TEMPORAL_DB_NAME, names.TEMPORAL_VISIBILITY_DB_NAME].sort().map((datname) => ({ datname, owner: names.TEMPORAL_DB_USER })));
      const role = await superuser.query('SELECT rolsuper, rolcreatedb, rolcreaterole, rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname = $1', [names.TEMPORAL_DB_USER]);
      expect(role.rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, has_password: true }]);
      // The role creates Temporal's tables in its databases.
      for (const db of [names.TEMPORAL_DB_NAME, names.TEMPORAL_VISIBILITY_DB_NAME]) {
        const client = await connect(names.TEMPORAL_DB_USER, db);
        await client.query('CREATE TABLE schema_version (version_partition int PRIMARY KEY)');
        await client.end();
      }
      await expect(connect(names.TEMPORAL_DB_USER, appDb)).rejects.toThrow(/permission denied for database/);
    } finally {
      for (const db of [names.TEMPORAL_DB_NAME, names.TEMPORAL_VISIBILITY_DB_NAME]) await superuser.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await superuser.query(`DROP ROLE IF EXISTS ${names.TEMPORAL_DB_USER}`);
      await superuser.end();
    }
  });

  it('publishes no Temporal port, and keeps the Web UI optional behind a profile that nothing waits for', () => {
    for (const name of ['temporal', 'temporal-ui', 'temporal-schema', 'temporal-namespace']) expect(services[name]?.ports, name).toBeUndefined();
    expect(services['temporal-ui']?.profiles).toEqual(['ui']);
    for (const [name, service] of Object.entries(services)) expect(Object.keys(dependencies(service)), name).not.toContain('temporal-ui');
  });

  it('starts every service after its dependencies are healthy or done, and health-checks every long-running one', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!ONE_SHOT.includes(name) && name !== 'temporal-ui') expect(service.healthcheck?.test, `${name} has a health check`).toBeDefined();
      for (const [dependency, { condition }] of Object.entries(dependencies(service))) {
        const target = services[dependency];
        expect(target, `${name} depends on ${dependency}`).toBeDefined();
        expect(condition, `${name} → ${dependency}`).toBe(ONE_SHOT.includes(dependency) ? 'service_completed_successfully' : 'service_healthy');
        if (condition === 'service_healthy') expect(target?.healthcheck, `${dependency} has a health check`).toBeDefined();
      }
    }
    // The chain: Postgres → Temporal's schema → Temporal → its namespace → search attributes → the worker.
    expect(Object.keys(dependencies(schema))).toEqual(['postgres']);
    expect(Object.keys(dependencies(services['temporal-namespace'] ?? {}))).toEqual(['temporal']);
    expect(Object.keys(dependencies(services['temporal-setup'] ?? {}))).toEqual(['temporal-namespace']);
    expect(Object.keys(dependencies(services.api ?? {})).sort()).toEqual(['migrate', 'temporal', 'temporal-namespace']);
  });
});

describe('Prometheus and Grafana in docker-compose.yml', () => {
  interface ScrapeConfig {
    job_name: string;
    metrics_path: string;
    authorization?: { credentials_file?: string };
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
    relabel_configs?: { target_label: string; replacement: string }[];
  }
  const prometheus = services.prometheus ?? {};
  const grafana = services.grafana ?? {};
  const configFile = (prometheus.command ?? []).find((a) => a.startsWith('--config.file='))?.split('=')[1] ?? '';
  const configHost = hostPathOf('prometheus', configFile) ?? '';
  const config = readYaml<{ rule_files: string[]; scrape_configs: ScrapeConfig[] }>(configHost);

  it('runs pinned images of Prometheus 3 and Grafana 12', () => {
    expect(prometheus.image).toMatch(/^prom\/prometheus:v3\.\d+\.\d+$/);
    // 12: the dashboard is classic JSON, what Grafana 12 exports and file provisioning reads.
    expect(grafana.image).toMatch(/^grafana\/grafana:12\.\d+\.\d+$/);
  });

  it('loads the repository\'s prometheus.yml and the alert rules it names', () => {
    expect(configHost).toBe('./observability/prometheus/prometheus.yml');
    const configDir = configFile.slice(0, configFile.lastIndexOf('/'));
    for (const rules of config.rule_files) {
      expect(hostPathOf('prometheus', rules.startsWith('/') ? rules : `${configDir}/${rules}`)).toBe('./observability/prometheus/alerts.yml');
    }
  });

  it('scrapes the API and every worker replica on the ports their config gives, with the admin key compose hands over as a secret', () => {
    const env = (name: string) => loadConfig(Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)])));
    const ports = { api: env('api').PORT, worker: env('worker').WORKER_METRICS_PORT };
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual(['api', 'worker']);
    for (const job of config.scrape_configs) {
      const name = job.job_name as 'api' | 'worker';
      expect(job.metrics_path).toBe('/metrics');
      // One A record per replica: `--scale worker=N` gives N targets.
      expect(job.dns_sd_configs).toEqual([expect.objectContaining({ names: [name], type: 'A', port: ports[name] })]);
      expect(job.relabel_configs).toContainEqual(expect.objectContaining({ target_label: 'service', replacement: name }));
      // METRICS_ACCESS=admin (the default) wants the admin key on every scrape.
      expect(env(name).METRICS_ACCESS).toBe('admin');
      expect(job.authorization?.credentials_file).toBe('/run/secrets/admin_api_key');
    }
    expect(prometheus.secrets).toEqual(['admin_api_key']);
    expect(compose.secrets?.admin_api_key).toEqual({ environment: 'ADMIN_API_KEY' });
    expect(readFileSync(configHost, 'utf8')).not.toMatch(/credentials:|bearer_token:/);
  });

  it('provisions Grafana with this Prometheus and the dashboard folder it mounts', () => {
    const datasources = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(hostPathOf('grafana', '/etc/grafana/provisioning/datasources/prometheus.yml') ?? '');
    expect(datasources.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' })]);
    const providers = readYaml<{ providers: { type: string; options: { path: string } }[] }>(hostPathOf('grafana', '/etc/grafana/provisioning/dashboards/metachat.yml') ?? '');
    const [provider] = providers.providers;
    expect(provider?.type).toBe('file');
    expect(hostPathOf('grafana', `${provider?.options.path}/metachat.json`)).toBe('./observability/grafana/dashboards/metachat.json');
    expect(hostPathOf('grafana', String(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH))).toBe('./observability/grafana/dashboards/metachat.json');
    expect(grafana.environment?.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
  });

  it('has a dashboard and rules that read only series and labels of the metric catalog', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { definition?: string }[] } };
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
      ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: 'template variable', expr: (v.definition ?? '').replace(/^label_values\((.*), \w+\)$/, '$1') })),
      ...readYaml<{ groups: { rules: { alert: string; expr: string }[] }[] }>('observability/prometheus/alerts.yml').groups.flatMap((g) =>
        g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ),
    ];
    expect(queries.length).toBeGreaterThan(50);
    expect(queries.flatMap(({ where, expr }) => catalogProblems(expr).map((problem) => `${where}: ${problem}`))).toEqual([]);
  });

  it('mounts the dynamic config the Temporal server is told to read', () => {
    const mount = services.temporal?.volumes?.find((v) => v.includes('dynamicconfig')) ?? '';
    const [hostDir] = mount.split(':');
    const file = services.temporal?.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '';
    expect(existsSync(`${hostDir}/${file.split('/').pop()}`)).toBe(true);
  });
});
