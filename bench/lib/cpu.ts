// CPU accounting from /proc (Linux): how much CPU each part of the benchmark's own process tree
// used during a phase, and how busy the whole machine was (the difference is load from outside
// this benchmark, e.g. someone else's test run on the same machine). Elsewhere it reports nothing.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime, in clock ticks (reaped children count for their parent). */
  ticks: number;
}

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 Hz is what Linux reports almost everywhere
}

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return procs;
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(open + 1, close);
      const f = stat.slice(close + 2).split(' ');
      // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      procs.set(Number(e), { pid: Number(e), ppid: Number(f[1]), comm, ticks });
    } catch {
      // the process ended while we looked
    }
  }
  return procs;
}

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((s, x) => s + x, 0); // guest time is already in user
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Names the benchmark's processes: explicit pids first (with their descendants), then by command. */
export type Classifier = (proc: { pid: number; comm: string }, ancestors: number[]) => string;

export interface CpuSnapshot {
  at: number;
  groups: Map<number, { group: string; ticks: number }>;
  machine: { busy: number; total: number };
}

export interface CpuUsage {
  seconds: number;
  /** Cores used on average during the phase, per group (1.0 = one core fully busy). */
  cores: Record<string, number>;
  /** Cores busy machine-wide (all processes, ours and others). */
  machineBusyCores: number;
  /** Machine-wide busy cores not accounted to our process tree. */
  outsideCores: number;
}

export class CpuMeter {
  constructor(private readonly root: number, private readonly classify: Classifier) {}

  snapshot(): CpuSnapshot {
    const procs = readProcs();
    const groups = new Map<number, { group: string; ticks: number }>();
    for (const p of procs.values()) {
      const ancestors: number[] = [];
      let cur: Proc | undefined = p;
      let inTree = p.pid === this.root;
      for (let hops = 0; cur && hops < 64 && !inTree; hops++) {
        ancestors.push(cur.ppid);
        if (cur.ppid === this.root) inTree = true;
        cur = procs.get(cur.ppid);
      }
      if (!inTree) continue;
      groups.set(p.pid, { group: this.classify(p, ancestors), ticks: p.ticks });
    }
    return { at: performance.now(), groups, machine: machineTicks() };
  }

  usage(from: CpuSnapshot, to: CpuSnapshot = this.snapshot()): CpuUsage {
    const seconds = (to.at - from.at) / 1000;
    const ticks: Record<string, number> = {};
    for (const [pid, now] of to.groups) {
      const before = from.groups.get(pid)?.ticks ?? 0;
      ticks[now.group] = (ticks[now.group] ?? 0) + Math.max(0, now.ticks - before);
    }
    const cores: Record<string, number> = {};
    let ours = 0;
    for (const [group, t] of Object.entries(ticks)) {
      cores[group] = t / clockTicks / seconds;
      ours += cores[group];
    }
    const machineBusyCores = (to.machine.busy - from.machine.busy) / clockTicks / seconds;
    return { seconds, cores, machineBusyCores, outsideCores: Math.max(0, machineBusyCores - ours) };
  }
}

/** Cores busy machine-wide over `sampleMs` (all processes). */
export async function machineBusy(sampleMs: number): Promise<number> {
  const from = machineTicks();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const to = machineTicks();
  return (to.busy - from.busy) / clockTicks / ((performance.now() - started) / 1000);
}
