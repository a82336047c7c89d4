// `npm run dev` as a user runs it (on free ports and a temporary data folder): it comes up ready
// with the Temporal UI answering, Ctrl-C stops everything, and the next run reuses the data.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'metachat-dev-'));
chmodSync(dataDir, 0o755); // Postgres may run as an unprivileged user (see EmbeddedPostgres)
let ports: Record<'api' | 'postgres' | 'temporal' | 'ui', number>;

function startDev(): { child: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> } {
  const { PATH, HOME } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    env: {
      PATH, HOME,
      METACHAT_DATA_DIR: dataDir,
      PORT: String(ports.api),
      DEV_POSTGRES_PORT: String(ports.postgres),
      DEV_TEMPORAL_PORT: String(ports.temporal),
      DEV_TEMPORAL_UI_PORT: String(ports.ui),
      LOG_LEVEL: 'warn',
    },
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function until(predicate: () => boolean, timeoutMs: number, what: string, output: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms; output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('npm run dev', () => {
  beforeAll(async () => {
    ports = { api: await getPort(), postgres: await getPort(), temporal: await getPort(), ui: await getPort() };
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('comes up ready, answers, and stops everything on Ctrl-C; the next run reuses the data', { timeout: 240_000 }, async () => {
    for (const run of ['first', 'second']) {
      const dev = startDev();
      await until(() => dev.output().includes('[dev] ready in'), 120_000, `${run} run ready`, dev.output);
      expect(dev.output()).toContain(run === 'first' ? 'applied migrations:' : 'database schema is up to date');
      expect(dev.output()).toMatch(/Admin key\s+\S{32,}/);

      const ready = await fetch(`http://127.0.0.1:${ports.api}/health/ready`);
      expect(ready.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.api}/docs/json`)).status).toBe(200);
      // The worker's metrics, on the free port dev chose, with the SDK's series, behind the admin key.
      const adminKey = /Admin key\s+(\S+)/.exec(dev.output())![1]!;
      const workerMetrics = /worker: (http:\/\/127\.0\.0\.1:(\d+)\/metrics)/.exec(dev.output());
      expect(workerMetrics, 'the worker metrics address').not.toBeNull();
      expect((await fetch(workerMetrics![1]!)).status).toBe(401);
      const scraped = await fetch(workerMetrics![1]!, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(scraped.status).toBe(200);
      const text = await scraped.text();
      expect(text).toContain('metachat_process_cpu_user_seconds_total');
      expect(text).toContain('temporal_worker_task_slots_available');

      dev.child.kill('SIGINT');
      expect(await dev.exited).toBe(0);
      expect(dev.output()).toContain('[dev] stopped');
      for (const port of [...Object.values(ports), Number(workerMetrics![2])]) expect(await portFree(port)).toBe(true);
    }
  });

  it('names a port that is already in use and starts nothing', async () => {
    const blocker = createServer().listen(ports.api, '127.0.0.1');
    try {
      const dev = startDev();
      expect(await dev.exited).toBe(1);
      expect(dev.output()).toContain(`port ${ports.api} (API, set PORT) is already in use`);
      expect(await portFree(ports.postgres)).toBe(true);
    } finally {
      blocker.close();
    }
  });
});
