// The fault-injection suite's own stack, in a temporary folder and on free ports, never a running
// dev stack's or the test suite's:
//   - Postgres + pgvector (the embedded binaries), DURABLE (fsync on): it is SIGKILLed and started
//     again on the same port and data directory, and must come back with every committed row;
//   - a Temporal dev server backed by a SQLite FILE (`--db-filename`), SIGKILLed and started again
//     with the same file and port;
//   - the API (api/server.ts) and the worker (workers/main.ts) as child processes, as production
//     runs them (`node --import tsx …`), each with its log file;
//   - in this process: the fake Graph API and a fake OpenAI whose every reply names the tokens of
//     the user messages it answers (see tokenReply), so that each reply is attributed exactly.
// The processes are supervised: an API or worker (or Temporal) exit nobody asked for is recorded
// and the process started again, as a process manager would.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import getPort from 'get-port';
import pg from 'pg';
import { loadConfig } from '../../lib/config.ts';
import { applyMigrations } from '../../lib/migrations.ts';
import { temporalDataConverter } from '../../lib/temporal.ts';
import { EmbeddedPostgres } from '../../scripts/provision/embedded-postgres.ts';
import { ensureEmbeddedPostgres, ensureTemporalCli, PROJECT_ROOT } from '../../scripts/provision/tools.ts';
import { devServerArgs, searchAttributeArgs } from '../../temporal-config/dev-server.ts';
import { platformDiagnostics } from '../../workflows/diagnostics.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/graph-api.ts';
import type { LlmCall } from '../fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { ManagedProcess, killTree, postmasterPid, sleep, track, type ExitInfo } from './processes.ts';

export const WHATSAPP_TOKEN = 'EAAG-chaos-whatsapp-token';
/** Tokens the load puts in every user message: `w03-0007-k2f9` (WhatsApp user 3, message 7). */
export const TOKEN_PATTERN = /\b[wv]\d{2}-\d{4}-[a-z0-9]{4}\b/g;

export type Component = 'worker' | 'temporal' | 'postgres' | 'api';

export interface StackEvent {
  at: number;
  component: Component;
  what: string;
}

/**
 * Which code the API and worker run: a copy of the working tree as it is when the run starts
 * (`worktree`, what npm test checks), or of a commit (`head`, or any git revision, e.g. to compare
 * a fix with the code before it). A copy, because others may edit the tree during the run, and a
 * worker restarted on different workflow code fails its histories' replay: a crash restart runs
 * the same build.
 */
export type SourceMode = 'worktree' | 'head' | (string & {});

/** Never copied: dependencies (linked instead), state, and what the platform does not run. */
const NOT_COPIED = new Set(['node_modules', '.git', '.local', '.data', 'test-artifacts', 'test-results', 'coverage', 'dist']);

const git = (...args: string[]) => execFileSync('git', ['-C', PROJECT_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Copies the platform's source into `dir` (node_modules linked); returns a description of what was copied. */
export function snapshotSource(dir: string, mode: SourceMode): string {
  mkdirSync(dir, { recursive: true });
  let description: string;
  if (mode === 'worktree') {
    let head = 'unknown';
    let dirty = 0;
    try {
      head = git('rev-parse', '--short', 'HEAD');
      dirty = git('status', '--porcelain').split('\n').filter(Boolean).length;
    } catch {
      // not a git checkout: the working tree it is
    }
    cpSync(PROJECT_ROOT, dir, {
      recursive: true,
      filter: (src) => {
        const rel = relative(PROJECT_ROOT, src);
        return rel === '' || !NOT_COPIED.has(rel.split('/')[0]!);
      },
    });
    description = `working tree at ${head}${dirty ? ` with ${dirty} uncommitted change(s)` : ''}`;
  } else {
    const rev = mode === 'head' ? 'HEAD' : mode;
    let commit: string;
    try {
      commit = git('rev-parse', '--verify', '--short', `${rev}^{commit}`);
    } catch {
      throw new Error(`source "${mode}" is neither "worktree" nor a git revision of ${PROJECT_ROOT}`);
    }
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', PROJECT_ROOT, commit, dir]);
    // Generated code is not committed (prisma generate writes it at install).
    cpSync(join(PROJECT_ROOT, 'generated'), join(dir, 'generated'), { recursive: true });
    description = `commit ${commit} (${git('log', '-1', '--format=%s', commit).slice(0, 80)}…)`;
  }
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return description;
}

/**
 * A slow model in front of the fake: every request waits `latency()` ms before it is forwarded, as
 * a real model takes its time to answer, so that a kill finds turns in flight as it would in
 * production.
 */
export async function startLatencyProxy(target: string, latency: () => number): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const forward = httpRequest(
          { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
          (upstream) => {
            res.writeHead(upstream.statusCode ?? 502, upstream.headers);
            upstream.pipe(res);
          },
        );
        forward.on('error', () => res.writeHead(502).end());
        forward.end(Buffer.concat(chunks));
      }, latency());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${to.pathname}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ChaosStackOptions {
  root: string;
  source: SourceMode;
  /** Between the fake Graph API accepting a send and its answer reaching the worker (ms). */
  graphLatencyMs: number;
  /** The fake model's time to answer: uniform in [min, max] ms. */
  llmLatencyMinMs: number;
  llmLatencyMaxMs: number;
  /** The dev server suggests continue-as-new after this many events (as the test suite does); 0: its default. */
  suggestContinueAsNewAfter: number;
  logLevel: string;
  log: (message: string) => void;
}

/**
 * The fake model: names every token found in the user messages after the last assistant message
 * of the prompt (the messages this turn answers: the current batch, plus any whose reply never
 * made it into the conversation's memory).
 */
export function tokenReply(call: LlmCall): string {
  const lastAssistant = call.messages.map((m) => m.role).lastIndexOf('assistant');
  const asked = call.messages.slice(lastAssistant + 1).filter((m) => m.role === 'user');
  const found = [...new Set(asked.flatMap((m) => m.text.match(TOKEN_PATTERN) ?? []))];
  return found.length > 0 ? `Answering ${found.join(' ')}.` : 'Answering nothing in particular.';
}

export class ChaosStack {
  readonly events: StackEvent[] = [];
  readonly adminKey = randomBytes(24).toString('base64url');
  readonly secretsKeys = `chaos:${randomBytes(32).toString('base64')}`;
  readonly pgDataDir: string;
  databaseUrl = '';
  temporalAddress = '';
  apiUrl = '';
  /** What the API and worker run (see snapshotSource). */
  sourceDescription = '';
  graph!: FakeGraphApi;
  openai!: FakeOpenAi;
  #llmProxy: { url: string; close(): Promise<void> } | undefined;
  api!: ManagedProcess;
  worker!: ManagedProcess;
  temporalServer!: ManagedProcess;
  client!: Client;
  #connection: Connection | undefined;
  #postgres: EmbeddedPostgres | undefined;
  #postgresOptions!: ConstructorParameters<typeof EmbeddedPostgres>[0];
  #closing = false;
  /** Components down on purpose right now: their exits are not restarted by the supervisor. */
  readonly #down = new Set<Component>();

  private constructor(readonly options: ChaosStackOptions) {
    this.pgDataDir = join(options.root, 'pgdata');
  }

  get root(): string {
    return this.options.root;
  }

  /** Once close() began, nothing is killed or started any more. */
  get closing(): boolean {
    return this.#closing;
  }

  #assertOpen(what: string): void {
    if (this.#closing) throw new Error(`${what}: the stack is closing`);
  }

  /** Kills and restarts in progress: close() waits for them, so that nothing starts after it. */
  readonly #inFlight = new Set<Promise<unknown>>();

  #operation<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen(what);
    const p = fn();
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p)).catch(() => {});
    return p;
  }

  record(component: Component, what: string): void {
    this.events.push({ at: Date.now(), component, what });
    this.options.log(`${component}: ${what}`);
  }

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    const stack = new ChaosStack(options);
    try {
      await stack.#start();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  async #start(): Promise<void> {
    const { root } = this.options;
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
    mkdirSync(join(root, 'logs'), { recursive: true });
    // First of all, so that the run's code is the code of the moment it started.
    const appDir = join(root, 'app');
    this.sourceDescription = snapshotSource(appDir, this.options.source);
    this.options.log(`API and worker run a copy of the ${this.sourceDescription}`);
    const [postgresInstall, temporalCli] = await Promise.all([ensureEmbeddedPostgres(), ensureTemporalCli()]);
    const [pgPort, temporalPort, apiPort] = await Promise.all([0, 1, 2].map(() => getPort({ host: '127.0.0.1' })));
    this.#postgresOptions = {
      binDir: postgresInstall.binDir,
      dataDir: this.pgDataDir,
      port: pgPort!,
      logFile: join(root, 'logs', 'postgres.log'),
      durable: true,
    };
    this.temporalAddress = `127.0.0.1:${temporalPort}`;
    this.apiUrl = `http://127.0.0.1:${apiPort}`;

    const temporalArgs = [
      'server', 'start-dev', '--headless',
      '--ip', '127.0.0.1', '--port', String(temporalPort),
      '--db-filename', join(root, 'temporal.db'),
      '--namespace', 'default', '--log-level', 'warn',
      ...searchAttributeArgs(), ...devServerArgs(),
      ...(this.options.suggestContinueAsNewAfter > 0
        ? ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${this.options.suggestContinueAsNewAfter}`]
        : []),
    ];
    this.temporalServer = new ManagedProcess(
      'temporal',
      { command: temporalCli.path, args: temporalArgs, env: baseEnv(), cwd: root, logFile: join(root, 'logs', 'temporal.log') },
      (exit) => this.#unexpected('temporal', exit),
    );

    this.options.log(`starting Postgres (durable, port ${pgPort}) and the Temporal dev server (file-backed, ${this.temporalAddress}) in ${root}`);
    this.temporalServer.start();
    await Promise.all([this.#startPostgres(), this.waitTemporal(60_000)]);
    const admin = new pg.Client({ connectionString: this.#postgres!.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE metachat_chaos');
    await admin.end();
    this.databaseUrl = this.#postgres!.url('metachat_chaos');
    await applyMigrations(this.databaseUrl);

    this.graph = await startFakeGraphApi({ accessTokens: [WHATSAPP_TOKEN] });
    this.openai = await startFakeOpenAi();
    this.openai.respond((call) => ({ text: tokenReply(call) }));
    this.graph.delay(this.options.graphLatencyMs);
    const { llmLatencyMinMs: min, llmLatencyMaxMs: max } = this.options;
    this.#llmProxy = await startLatencyProxy(this.openai.url, () => min + Math.random() * Math.max(0, max - min));

    const common = {
      ...baseEnv(),
      NODE_ENV: 'production',
      LOG_LEVEL: this.options.logLevel,
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      ADMIN_API_KEY: this.adminKey,
      SECRETS_KEYS: this.secretsKeys,
      META_GRAPH_API_URL: this.graph.url,
      DOCUMENT_STORAGE_DIR: join(root, 'documents'),
    };
    const node = (entry: string) => [process.execPath, ['--import', 'tsx', entry]] as const;
    const [apiCmd, apiArgs] = node('api/server.ts');
    this.api = new ManagedProcess(
      'api',
      {
        command: apiCmd, args: [...apiArgs], cwd: appDir, logFile: join(root, 'logs', 'api.log'),
        env: {
          ...common, HOST: '127.0.0.1', PORT: String(apiPort), RATE_LIMIT_IP_PER_MINUTE: '100000000', RATE_LIMIT_API_PER_MINUTE: '100000',
          // Every visitor comes from 127.0.0.1 and resends after each fault: durability is tested here, not the limits.
          WEBCHAT_MESSAGES_PER_MINUTE_PER_VISITOR: '100000', WEBCHAT_MESSAGES_PER_MINUTE_PER_IP: '100000', WEBCHAT_MESSAGES_PER_MINUTE_PER_WIDGET: '100000', WEBCHAT_VISITORS_PER_HOUR_PER_IP: '100000',
        },
      },
      (exit) => this.#unexpected('api', exit),
    );
    const [workerCmd, workerArgs] = node('workers/main.ts');
    this.worker = new ManagedProcess(
      'worker',
      {
        command: workerCmd, args: [...workerArgs], cwd: appDir, logFile: join(root, 'logs', 'worker.log'),
        env: { ...common, WORKER_TASK_QUEUES: 'conversations', OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: this.#llmProxy.url },
      },
      (exit) => this.#unexpected('worker', exit),
    );
    this.api.start();
    this.worker.start();
    this.#connection = await Connection.connect({ address: this.temporalAddress });
    // Decodes what the platform's processes encrypt (lib/payload-codec.ts), under the same keys.
    this.client = new Client({ connection: this.#connection, namespace: 'default', dataConverter: temporalDataConverter(loadConfig({ ...common }).SECRETS_KEYS) });
    await Promise.all([this.waitApi(90_000), this.waitWorker(120_000)]);
  }

  // ---- Readiness --------------------------------------------------------------------------

  async waitTemporal(timeoutMs: number): Promise<void> {
    await until(`Temporal at ${this.temporalAddress}`, timeoutMs, async () => {
      const connection = await Connection.connect({ address: this.temporalAddress, connectTimeout: 1000 });
      try {
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.describeNamespace({ namespace: 'default' }));
        return true;
      } finally {
        await connection.close();
      }
    }, () => (this.temporalServer.running ? undefined : `the Temporal server is not running (log: ${this.temporalServer.logFile})`));
  }

  /** The API answers /health/ready with 200 (Postgres and Temporal reachable from it). */
  async apiReady(): Promise<boolean> {
    try {
      const res = await fetch(`${this.apiUrl}/health/ready`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  async waitApi(timeoutMs: number): Promise<void> {
    await until('API ready', timeoutMs, () => this.apiReady(), () => (this.api.running || this.#closing ? undefined : `the API is not running (log: ${this.api.logFile})`));
  }

  /** A workflow round trip on the conversations queue: the worker polls and reaches Postgres. */
  async waitWorker(timeoutMs: number): Promise<void> {
    await this.client.workflow.execute(platformDiagnostics, {
      taskQueue: 'conversations',
      workflowId: `chaos-diagnostics-${Date.now()}-${randomBytes(3).toString('hex')}`,
      workflowExecutionTimeout: timeoutMs,
    });
  }

  // ---- Postgres -------------------------------------------------------------------------

  async #startPostgres(): Promise<void> {
    // After a SIGKILL the old shared memory may linger for a moment: retry a few times.
    for (let attempt = 1; ; attempt++) {
      const postgres = new EmbeddedPostgres(this.#postgresOptions);
      try {
        await postgres.start();
        this.#postgres = postgres;
        const pid = postmasterPid(this.pgDataDir);
        if (pid) track(pid);
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        this.options.log(`Postgres did not start (attempt ${attempt}): ${(err as Error).message.split('\n')[0]}; retrying`);
        await sleep(1000 * attempt);
      }
    }
  }

  /** SIGKILL the postmaster and every backend at once: the machine-crash case for the database. */
  killPostgres(): Promise<void> {
    return this.#operation('kill Postgres', () => this.#killPostgres());
  }

  async #killPostgres(): Promise<void> {
    const pid = postmasterPid(this.pgDataDir);
    if (!pid) throw new Error('no postmaster.pid: Postgres is not running');
    this.#down.add('postgres');
    const killed = await killTree(pid);
    this.record('postgres', `SIGKILL postmaster ${pid} and ${killed.length - 1} backends`);
  }

  restartPostgres(): Promise<void> {
    return this.#operation('restart Postgres', () => this.#restartPostgres());
  }

  async #restartPostgres(): Promise<void> {
    const started = Date.now();
    await this.#startPostgres();
    this.#down.delete('postgres');
    this.record('postgres', `restarted on the same port and data directory (crash recovery + start ${Date.now() - started} ms)`);
  }

  // ---- Temporal -------------------------------------------------------------------------

  killTemporal(): Promise<void> {
    return this.#operation('kill Temporal', () => this.#killTemporal());
  }

  async #killTemporal(): Promise<void> {
    const pid = this.temporalServer.pid;
    this.#down.add('temporal');
    await this.temporalServer.kill();
    this.record('temporal', `SIGKILL dev server ${pid}`);
  }

  restartTemporal(): Promise<void> {
    return this.#operation('restart Temporal', () => this.#restartTemporal());
  }

  async #restartTemporal(): Promise<void> {
    const started = Date.now();
    this.temporalServer.start();
    await this.waitTemporal(60_000);
    this.#down.delete('temporal');
    this.record('temporal', `restarted with the same file and port (ready in ${Date.now() - started} ms)`);
  }

  // ---- Worker and API -------------------------------------------------------------------

  killWorker(): Promise<void> {
    return this.#operation('kill the worker', () => this.#killWorker());
  }

  async #killWorker(): Promise<void> {
    const pid = this.worker.pid;
    this.#down.add('worker');
    await this.worker.kill();
    this.record('worker', `SIGKILL worker ${pid}`);
  }

  restartWorker(): Promise<void> {
    return this.#operation('restart the worker', () => this.#restartWorker());
  }

  async #restartWorker(): Promise<void> {
    const started = Date.now();
    this.worker.start();
    this.#down.delete('worker');
    await this.waitWorker(120_000);
    this.record('worker', `restarted (polling and answering in ${Date.now() - started} ms)`);
  }

  restartApi(reason: string): Promise<void> {
    return this.#operation('restart the API', () => this.#restartApi(reason));
  }

  async #restartApi(reason: string): Promise<void> {
    this.#down.add('api');
    await this.api.kill();
    this.api.start();
    this.#down.delete('api');
    this.record('api', `restarted: ${reason}`);
    await this.waitApi(90_000);
  }

  #unexpected(component: Component, exit: ExitInfo): void {
    if (this.#closing || this.#down.has(component)) return;
    this.record(component, `exited unexpectedly (${exit.signal ?? `code ${exit.code}`}); starting it again`);
    const proc = component === 'api' ? this.api : component === 'worker' ? this.worker : this.temporalServer;
    setTimeout(() => {
      if (this.#closing || proc.running) return;
      proc.start();
      this.record(component, 'started again after an unexpected exit');
    }, 1000).unref();
  }

  // ---- The end --------------------------------------------------------------------------

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(90_000)]);
    await Promise.allSettled([this.api?.stop(), this.worker?.stop()]);
    await this.#connection?.close().catch(() => {});
    await Promise.allSettled([this.graph?.close(), this.#llmProxy?.close(), this.openai?.close()]);
    await this.temporalServer?.stop().catch(() => {});
    await this.#postgres?.stop().catch(() => {});
  }
}

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>, dead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = dead();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms`);
    await sleep(200);
  }
}
