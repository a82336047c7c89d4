// The fault-injection suite's child processes: started with their output in a log file, killed
// on purpose (SIGKILL, the fault) or stopped at the end, and watched for exits nobody asked for.
// Every process started here is remembered until it exits, so that whatever way the suite ends
// (failure, Ctrl-C, an exception, a normal exit) nothing it started outlives it: see
// killEverything(), also registered on process exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Pids of processes this suite started (or that its servers forked) and that may still run. */
const live = new Set<number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0): it is dead for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Last resort: SIGKILL for everything started here that is still running. Synchronous. */
export function killEverything(): void {
  for (const pid of live) {
    for (const child of descendants(pid)) kill(child, 'SIGKILL');
    kill(pid, 'SIGKILL');
  }
  live.clear();
}
process.on('exit', killEverything);

/** The processes below `pid` (children, grandchildren…), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) comes after the command name in parentheses, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** SIGKILL a process and everything below it at once, then wait until all of them are gone. */
export async function killTree(pid: number, timeoutMs = 10_000): Promise<number[]> {
  const all = [pid, ...descendants(pid)];
  for (const p of all) kill(p, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (all.some(alive)) {
    if (Date.now() > deadline) throw new Error(`processes ${all.filter(alive).join(', ')} still alive ${timeoutMs} ms after SIGKILL`);
    await sleep(50);
  }
  live.delete(pid);
  return all;
}

/** Remembers a process started elsewhere (the embedded Postgres), for killEverything(). */
export function track(pid: number): void {
  live.add(pid);
}

/** Postgres' postmaster, from the first line of postmaster.pid in its data directory. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
}

export interface ExitInfo {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/**
 * One long-running child (the API, the worker, the Temporal server): start, SIGKILL, stop, start
 * again with the same spec. An exit that neither kill() nor stop() asked for is reported to
 * `onUnexpectedExit` (the supervisor restarts it, as a process manager would).
 */
export class ManagedProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #expectExit = false;
  starts = 0;

  constructor(
    readonly name: string,
    readonly spec: ProcessSpec,
    private readonly onUnexpectedExit: (exit: ExitInfo) => void = () => {},
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get logFile(): string {
    return this.spec.logFile;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const fd = openSync(this.spec.logFile, 'a');
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: this.spec.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.starts++;
    this.#expectExit = false;
    this.#child = child;
    if (child.pid) live.add(child.pid);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid) live.delete(child.pid);
        if (!this.#expectExit) this.onUnexpectedExit({ name: this.name, code, signal, at: Date.now() });
        resolve();
      });
      child.once('error', () => resolve());
    });
  }

  /** The fault: SIGKILL, no grace, then wait for the exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child?.pid || !this.running) return;
    this.#expectExit = true;
    await killTree(child.pid);
    await this.#exited;
  }

  /** The end of the run: SIGTERM, SIGKILL after the grace time. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (!child?.pid || !this.running) return;
    this.#expectExit = true;
    child.kill('SIGTERM');
    const done = await Promise.race([this.#exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) await killTree(child.pid).catch(() => {});
    await this.#exited;
  }
}
