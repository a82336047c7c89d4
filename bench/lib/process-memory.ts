// A process's resident memory from /proc (Linux): what it holds now (VmRSS) and its high-water
// mark (VmHWM), which can be reset so that a phase's peak leaves out the start-up (the worker
// bundles its workflow code with webpack when it runs from the sources).
import { readFileSync, writeFileSync } from 'node:fs';

export interface ProcessMemory {
  rssBytes: number;
  peakRssBytes: number;
}

/** VmRSS and VmHWM of `pid`; undefined when /proc cannot tell (not Linux, process gone). */
export function processMemory(pid: number): ProcessMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, clear_refs value 5); false if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; keeps the highest sample. */
export class RssSampler {
  maxBytes = 0;
  lastBytes = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(readonly pid: number, everyMs = 250) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
  }

  #sample(): void {
    const m = processMemory(this.pid);
    if (!m || !Number.isFinite(m.rssBytes)) return;
    this.lastBytes = m.rssBytes;
    this.maxBytes = Math.max(this.maxBytes, m.rssBytes);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export const mib = (bytes: number) => bytes / 2 ** 20;
