// The production shape on one machine, for `npm run test:cluster` and `npm run bench:cluster`, in a
// temporary folder and on free ports:
//   - Postgres + pgvector (the embedded binaries, durable) for the platform's database, and a
//     Postgres server of Temporal's own for its two (persistence, SQL visibility) under its own
//     role, from binaries that have btree_gin (temporalPostgresBinDir);
//   - a real Temporal server built from go.temporal.io/server (scripts/provision/temporal-cluster.ts),
//     all four services in one process, SIGKILLed and started again with the same config (or, for
//     the benchmark's comparison, the CLI's dev server with a SQLite file, as test/chaos runs it);
//   - two API processes behind a round-robin TCP proxy (round-robin-proxy.ts), both also reachable
//     directly; two workers on the `conversations` queue and one on `ingestion` and `maintenance`;
//     each a child process as production runs it (`node --import tsx …`) with its own log file;
//   - in this process: the fake Graph API and the fake OpenAI of the fault-injection suite, whose
//     replies name the messages they answer (test/chaos/stack.ts tokenReply).
// Exits nobody asked for are recorded and the process started again, as a process manager would.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import getPort from 'get-port';
import pg from 'pg';
import { loadConfig } from '../../lib/config.ts';
import { applyMigrations } from '../../lib/migrations.ts';
import { temporalDataConverter } from '../../lib/temporal.ts';
import { EmbeddedPostgres } from '../../scripts/provision/embedded-postgres.ts';
import { clusterPorts, prepareTemporalCluster, setUpClusterNamespace, temporalPostgresBinDir, type PreparedCluster } from '../../scripts/provision/temporal-cluster.ts';
import { DYNAMIC_CONFIG_FILE } from '../../scripts/provision/temporal-cluster-config.ts';
import { ensureEmbeddedPostgres, ensureTemporalCli } from '../../scripts/provision/tools.ts';
import { devServerArgs, searchAttributeArgs } from '../../temporal-config/dev-server.ts';
import { platformDiagnostics } from '../../workflows/diagnostics.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/graph-api.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { ManagedProcess, killEverything, postmasterPid, sleep, track, type ExitInfo } from '../chaos/processes.ts';
import { snapshotSource, startLatencyProxy, tokenReply, WHATSAPP_TOKEN, type SourceMode, type StackEvent } from '../chaos/stack.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.ts';

export { killEverything, WHATSAPP_TOKEN };

export interface ClusterStackOptions {
  root: string;
  /** The real server (default), or the CLI's dev server in its place. */
  temporal?: 'cluster' | 'dev-server';
  source: SourceMode;
  graphLatencyMs: number;
  llmLatencyMinMs: number;
  llmLatencyMaxMs: number;
  /** The server suggests continue-as-new after this many events (0: its default). */
  suggestContinueAsNewAfter: number;
  logLevel: string;
  log: (message: string) => void;
}

export const NAMESPACE = 'default';

type Component = 'temporal' | 'postgres' | `api-${number}` | `worker-${string}`;

export class ClusterStack {
  readonly events: (Omit<StackEvent, 'component'> & { component: string })[] = [];
  readonly adminKey = randomBytes(24).toString('base64url');
  readonly secretsKeys = `cluster:${randomBytes(32).toString('base64')}`;
  readonly temporalPassword = randomBytes(24).toString('base64url');
  databaseUrl = '';
  /** The superuser URL of Temporal's own Postgres server. */
  adminUrl = '';
  temporalAddress = '';
  /** The proxy in front of both APIs: what Meta and the visitors reach. */
  apiUrl = '';
  /** Each API directly. */
  apiUrls: string[] = [];
  sourceDescription = '';
  graph!: FakeGraphApi;
  openai!: FakeOpenAi;
  proxy!: RoundRobinProxy;
  apis: ManagedProcess[] = [];
  /** `conversations-1`, `conversations-2`, `ingestion+maintenance`. */
  workers = new Map<string, ManagedProcess>();
  temporalServer!: ManagedProcess;
  /** The real server's set-up; undefined on the dev server. */
  cluster: PreparedCluster | undefined;
  /** Which Temporal server, for reports. */
  temporalDescription = '';
  client!: Client;
  #connection: Connection | undefined;
  #postgres: EmbeddedPostgres | undefined;
  #temporalPostgres: EmbeddedPostgres | undefined;
  #llmProxy: { url: string; close(): Promise<void> } | undefined;
  #closing = false;
  readonly #down = new Set<string>();

  private constructor(readonly options: ClusterStackOptions) {}

  get root(): string {
    return this.options.root;
  }

  get pgDataDir(): string {
    return join(this.root, 'pgdata');
  }

  record(component: string, what: string): void {
    this.events.push({ at: Date.now(), component, what });
    this.options.log(`${component}: ${what}`);
  }

  static async start(options: ClusterStackOptions): Promise<ClusterStack> {
    const stack = new ClusterStack(options);
    try {
      await stack.#start();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  async #start(): Promise<void> {
    const { root, log } = this.options;
    mkdirSync(join(root, 'logs'), { recursive: true });
    chmodSync(root, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
    const appDir = join(root, 'app');
    this.sourceDescription = snapshotSource(appDir, this.options.source);
    log(`APIs and workers run a copy of the ${this.sourceDescription}`);

    const postgresInstall = await ensureEmbeddedPostgres();
    this.#postgres = new EmbeddedPostgres({
      binDir: postgresInstall.binDir,
      dataDir: this.pgDataDir,
      port: await getPort({ host: '127.0.0.1' }),
      logFile: join(root, 'logs', 'postgres.log'),
      durable: true,
      settings: { max_connections: '300' },
    });
    await this.#postgres.start();
    const pid = postmasterPid(this.pgDataDir);
    if (pid) track(pid);

    if (this.options.temporal === 'dev-server') await this.#startDevServer();
    else await this.#startCluster();
    this.databaseUrl = await this.#postgres.ensureDatabase('metachat_cluster');
    await this.#startRest();
  }

  async #startCluster(): Promise<void> {
    const { root, log } = this.options;
    const dataDir = join(root, 'temporal-pgdata');
    this.#temporalPostgres = new EmbeddedPostgres({
      binDir: await temporalPostgresBinDir(),
      dataDir,
      port: await getPort({ host: '127.0.0.1' }),
      logFile: join(root, 'logs', 'temporal-postgres.log'),
      durable: true,
    });
    await this.#temporalPostgres.start();
    const pid = postmasterPid(dataDir);
    if (pid) track(pid);
    this.adminUrl = this.#temporalPostgres.url();
    // The server's dynamic config: the production keys, plus the test's continue-as-new threshold.
    const dynamicConfigFile = join(root, 'dynamicconfig.yaml');
    const extra = this.options.suggestContinueAsNewAfter > 0
      ? `limit.historyCount.suggestContinueAsNew:\n  - value: ${this.options.suggestContinueAsNewAfter}\n    constraints: {}\n`
      : '';
    writeFileSync(dynamicConfigFile, `${readFileSync(DYNAMIC_CONFIG_FILE, 'utf8').trimEnd()}\n${extra}`);
    const prepareStarted = Date.now();
    this.cluster = await prepareTemporalCluster({
      adminUrl: this.adminUrl,
      dir: join(root, 'temporal'),
      ports: await clusterPorts(),
      databases: { password: this.temporalPassword },
      dynamicConfigFile,
      log,
    });
    log(`Temporal databases and schema ready in ${Date.now() - prepareStarted} ms; starting the server at ${this.cluster.address}`);
    this.temporalAddress = this.cluster.address;
    this.temporalDescription = `Temporal server ${this.cluster.install.version} (built from go.temporal.io/server, Postgres persistence and SQL visibility)`;
    this.temporalServer = new ManagedProcess(
      'temporal',
      { command: this.cluster.command, args: this.cluster.args, env: this.cluster.env, cwd: root, logFile: join(root, 'logs', 'temporal.log') },
      (exit) => this.#unexpected('temporal', this.temporalServer, exit),
    );
    const temporalStarted = Date.now();
    this.temporalServer.start();
    for (const done of await setUpClusterNamespace(this.temporalAddress, NAMESPACE)) log(`Temporal: ${done}`);
    log(`Temporal server serving namespace "${NAMESPACE}" ${Date.now() - temporalStarted} ms after its start`);
  }

  async #startDevServer(): Promise<void> {
    const cli = await ensureTemporalCli();
    this.temporalDescription = `dev server (${cli.version.split('\n')[0]}, SQLite file)`;
    this.temporalAddress = `127.0.0.1:${await getPort({ host: '127.0.0.1' })}`;
    const args = [
      'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', this.temporalAddress.split(':')[1]!,
      '--db-filename', join(this.root, 'temporal.db'), '--namespace', NAMESPACE, '--log-level', 'warn',
      ...searchAttributeArgs(), ...devServerArgs(),
      ...(this.options.suggestContinueAsNewAfter > 0 ? ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${this.options.suggestContinueAsNewAfter}`] : []),
    ];
    this.temporalServer = new ManagedProcess(
      'temporal',
      { command: cli.path, args, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' }, cwd: this.root, logFile: join(this.root, 'logs', 'temporal.log') },
      (exit) => this.#unexpected('temporal', this.temporalServer, exit),
    );
    this.temporalServer.start();
    await this.waitTemporal(60_000);
  }

  /** Migrations, the fakes, the APIs behind the proxy and the workers. */
  async #startRest(): Promise<void> {
    const { root } = this.options;
    const appDir = join(root, 'app');
    await applyMigrations(this.databaseUrl);

    this.graph = await startFakeGraphApi({ accessTokens: [WHATSAPP_TOKEN] });
    this.openai = await startFakeOpenAi();
    this.openai.respond((call) => ({ text: tokenReply(call) }));
    this.graph.delay(this.options.graphLatencyMs);
    const { llmLatencyMinMs: min, llmLatencyMaxMs: max } = this.options;
    this.#llmProxy = await startLatencyProxy(this.openai.url, () => min + Math.random() * Math.max(0, max - min));

    const common = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      LOG_LEVEL: this.options.logLevel,
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
      ADMIN_API_KEY: this.adminKey,
      SECRETS_KEYS: this.secretsKeys,
      META_GRAPH_API_URL: this.graph.url,
      // One folder for every process, as one volume (or bucket) is shared in production.
      DOCUMENT_STORAGE_DIR: join(root, 'documents'),
      // Limits count in Postgres, shared by both APIs (api/plugins/external/rate-limit-store.ts).
      RATE_LIMIT_STORE: 'postgres',
    };
    const tsx = ['--import', 'tsx'];
    const apiPorts = await Promise.all([0, 1].map(() => getPort({ host: '127.0.0.1' })));
    this.apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    this.apis = apiPorts.map((port, i) => {
      const name = `api-${i + 1}`;
      const api: ManagedProcess = new ManagedProcess(
        name,
        {
          command: process.execPath, args: [...tsx, 'api/server.ts'], cwd: appDir, logFile: join(root, 'logs', `${name}.log`),
          env: {
            ...common, HOST: '127.0.0.1', PORT: String(port), RATE_LIMIT_IP_PER_MINUTE: '100000000', RATE_LIMIT_API_PER_MINUTE: '100000',
            // Every visitor comes from 127.0.0.1 and resends after each fault: durability is tested here, not the limits.
            WEBCHAT_MESSAGES_PER_MINUTE_PER_VISITOR: '100000', WEBCHAT_MESSAGES_PER_MINUTE_PER_IP: '100000', WEBCHAT_MESSAGES_PER_MINUTE_PER_WIDGET: '100000', WEBCHAT_VISITORS_PER_HOUR_PER_IP: '100000',
          },
        },
        (exit) => this.#unexpected(name, api, exit),
      );
      return api;
    });
    const llm = { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: this.#llmProxy.url };
    for (const [name, queues] of [['conversations-1', 'conversations'], ['conversations-2', 'conversations'], ['ingestion+maintenance', 'ingestion,maintenance']] as const) {
      const worker: ManagedProcess = new ManagedProcess(
        `worker-${name}`,
        {
          command: process.execPath, args: [...tsx, 'workers/main.ts'], cwd: appDir, logFile: join(root, 'logs', `worker-${name.replace('+', '-')}.log`),
          env: { ...common, ...llm, WORKER_TASK_QUEUES: queues, WORKER_METRICS_PORT: '0' },
        },
        (exit) => this.#unexpected(`worker-${name}`, worker, exit),
      );
      this.workers.set(name, worker);
    }
    for (const p of [...this.apis, ...this.workers.values()]) p.start();
    this.proxy = await startRoundRobinProxy(apiPorts.map((port) => ({ host: '127.0.0.1', port })));
    this.apiUrl = this.proxy.url;
    this.#connection = await Connection.connect({ address: this.temporalAddress });
    this.client = new Client({ connection: this.#connection, namespace: NAMESPACE, dataConverter: temporalDataConverter(loadConfig({ ...common }).SECRETS_KEYS) });
    // Five processes compile and bundle at once on a shared machine: minutes, not seconds.
    await Promise.all([...this.apis.map((_, i) => this.waitApi(i, 300_000)), ...[...this.workers.keys()].map((name) => this.waitPolling(name, 300_000))]);
  }

  // ---- Readiness --------------------------------------------------------------------------

  async temporalServing(): Promise<boolean> {
    const connection = await Connection.connect({ address: this.temporalAddress, connectTimeout: 1000 }).catch(() => undefined);
    if (!connection) return false;
    try {
      await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.describeNamespace({ namespace: NAMESPACE }));
      return true;
    } catch {
      return false;
    } finally {
      await connection.close().catch(() => {});
    }
  }

  async waitTemporal(timeoutMs: number): Promise<void> {
    await until(`Temporal at ${this.temporalAddress}`, timeoutMs, () => this.temporalServing(), () => (this.temporalServer.running ? undefined : `the Temporal server is not running (log: ${this.temporalServer.logFile})`));
  }

  /** /health/ready of one API (index), or through the proxy. */
  async apiReady(index?: number): Promise<boolean> {
    try {
      const res = await fetch(`${index === undefined ? this.apiUrl : this.apiUrls[index]}/health/ready`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  async waitApi(index: number, timeoutMs: number): Promise<void> {
    const api = this.apis[index]!;
    await until(`${api.name} ready`, timeoutMs, () => this.apiReady(index), () => (api.running || this.#closing ? undefined : `${api.name} is not running (log: ${api.logFile})`));
  }

  /** The pollers Temporal sees on a task queue (workflow tasks), by identity (`pid@host`). */
  async pollers(taskQueue: string): Promise<string[]> {
    const res = await this.client.workflowService.describeTaskQueue({
      namespace: NAMESPACE,
      taskQueue: { name: taskQueue },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (res.pollers ?? []).map((p) => p.identity ?? '');
  }

  /** This worker process polls every queue it serves. */
  async waitPolling(name: string, timeoutMs: number): Promise<void> {
    const worker = this.workers.get(name)!;
    const queues = name === 'ingestion+maintenance' ? ['ingestion', 'maintenance'] : ['conversations'];
    await until(`${worker.name} polling`, timeoutMs, async () => {
      const pid = worker.pid;
      if (!pid) return false;
      for (const queue of queues) if (!(await this.pollers(queue)).some((id) => id.startsWith(`${pid}@`))) return false;
      return true;
    }, () => (worker.running || this.#closing ? undefined : `${worker.name} is not running (log: ${worker.logFile})`));
  }

  /** A workflow round trip on the conversations queue (whichever worker takes it). */
  async waitWorker(timeoutMs: number): Promise<void> {
    await this.client.workflow.execute(platformDiagnostics, {
      taskQueue: 'conversations',
      workflowId: `cluster-diagnostics-${Date.now()}-${randomBytes(3).toString('hex')}`,
      workflowExecutionTimeout: timeoutMs,
    });
  }

  // ---- Faults -----------------------------------------------------------------------------

  async kill(component: Component): Promise<void> {
    const proc = this.#process(component);
    const pid = proc.pid;
    this.#down.add(component);
    await proc.kill();
    this.record(component, `SIGKILL ${pid}`);
  }

  /** Starts it again; resolves once it serves (the server its namespace, an API ready, a worker polling). */
  async restart(component: Component): Promise<number> {
    const proc = this.#process(component);
    const started = Date.now();
    proc.start();
    this.#down.delete(component);
    if (component === 'temporal') await this.waitTemporal(120_000);
    else if (component.startsWith('api-')) await this.waitApi(Number(component.slice(4)) - 1, 120_000);
    else await this.waitPolling(component.slice('worker-'.length), 120_000);
    const ms = Date.now() - started;
    this.record(component, `started again, serving after ${ms} ms`);
    return ms;
  }

  #process(component: string): ManagedProcess {
    if (component === 'temporal') return this.temporalServer;
    if (component.startsWith('api-')) return this.apis[Number(component.slice(4)) - 1]!;
    const worker = this.workers.get(component.slice('worker-'.length));
    if (!worker) throw new Error(`no component ${component}`);
    return worker;
  }

  #unexpected(component: string, proc: ManagedProcess, exit: ExitInfo): void {
    if (this.#closing || this.#down.has(component)) return;
    this.record(component, `exited unexpectedly (${exit.signal ?? `code ${exit.code}`}); starting it again`);
    setTimeout(() => {
      if (this.#closing || proc.running) return;
      proc.start();
      this.record(component, 'started again after an unexpected exit');
    }, 1000).unref();
  }

  /** A query on one of Temporal's databases as its own role. */
  async temporalDb<T extends pg.QueryResultRow>(sql: string, database = 'temporal', password = this.temporalPassword): Promise<T[]> {
    const url = new URL(this.adminUrl);
    const client = new pg.Client({ host: url.hostname, port: Number(url.port), user: 'temporal', password, database });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.allSettled([...this.apis, ...this.workers.values()].map((p) => p.stop()));
    await this.#connection?.close().catch(() => {});
    await Promise.allSettled([this.proxy?.close(), this.graph?.close(), this.#llmProxy?.close(), this.openai?.close()]);
    await this.temporalServer?.stop().catch(() => {});
    await Promise.allSettled([this.#postgres?.stop(), this.#temporalPostgres?.stop()]);
  }
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>, dead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = dead();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms`);
    await sleep(250);
  }
}
