// Child processes of the benchmark (the API, the worker, the naive webhook server), each a plain
// `node --import tsx <entrypoint>` with its own environment and its output in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../scripts/provision/tools.ts';
import { sleep } from './stats.ts';

export interface Child {
  name: string;
  pid: number;
  logFile: string;
  /** Rejects if the process exits before stop() was called. */
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Last resort on an unexpected exit of the benchmark: nothing we started survives it. */
export function killAllChildren(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * BENCH_CPU_PROF=<folder>: every child writes V8 CPU profiles (one per thread: the worker runs
 * workflows in threads of its own) into <folder>/<child> when it exits; open them in DevTools.
 */
const profileArgs = (name: string) =>
  process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, name.replace(/\W+/g, '-'))}`] : [];

export function startChild(name: string, entrypoint: string, env: Record<string, string>, logFile: string): Child {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...profileArgs(name), '--import', 'tsx', entrypoint], {
    cwd: PROJECT_ROOT,
    // Only what node needs from ours, plus the child's own configuration.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  live.add(child);
  let stopping = false;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => {
      live.delete(child);
      if (stopping) resolve(code);
      else reject(new Error(`${name} exited unexpectedly with code ${code} (log: ${logFile})`));
    });
    child.once('error', reject);
  });
  exited.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true, () => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await Promise.race([exited.catch(() => {}), sleep(2_000)]);
      }
    },
  };
}

/** Polls `probe` until it resolves true, the child dies, or `timeoutMs` passes. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died: unknown;
  child?.exited.catch((err: unknown) => (died = err));
  for (;;) {
    if (died) throw died;
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms${child ? ` (log: ${child.logFile})` : ''}`);
    await sleep(200);
  }
}

/** GET with a timeout; true on a 2xx. */
export async function httpOk(url: string, timeoutMs = 2_000): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  return res.ok;
}
