// What replaying a workflow history costs, by its length: prefixes of one recorded history cut at
// workflow task boundaries, each replayed several times on one replay worker (the Worker's
// replay API, as test/replay.test.ts uses it), the first replay left out (it creates the worker).
// Wall time and the process's CPU time (user + system, all threads) of each replay: on a shared
// machine the wall time grows with the load, the CPU time much less.
import type { DataConverter } from '@temporalio/common';
import protos from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { HistoryEvent } from './history.ts';
import { summarize, type Summary } from './stats.ts';

const T = protos.temporal.api.enums.v1.EventType;

/**
 * The first `length` events or a few more: up to the end of the first workflow task completed at
 * or after that point, with the commands it recorded, as a running workflow's history reads.
 */
export function historyPrefix(events: readonly HistoryEvent[], length: number): HistoryEvent[] {
  let i = Math.max(0, Math.min(length, events.length) - 1);
  while (i < events.length && events[i]!.eventType !== T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) i++;
  if (i >= events.length) return [...events];
  const completedId = String(events[i]!.eventId);
  let end = i + 1;
  while (end < events.length && recordedBy(events[end]!) === completedId) end++;
  return events.slice(0, end);
}

/** The workflow task completion a command's event names, if it is one. */
function recordedBy(e: HistoryEvent): string | undefined {
  for (const [key, value] of Object.entries(e)) {
    if (key.endsWith('EventAttributes') && value && typeof value === 'object' && 'workflowTaskCompletedEventId' in value) {
      return String((value as { workflowTaskCompletedEventId: unknown }).workflowTaskCompletedEventId);
    }
  }
  return undefined;
}

export interface ReplayCost {
  events: number;
  ms: Summary;
  cpuMs: Summary;
  error?: string;
}

/** Replays each prefix `repeats` times; the replay time of each, by prefix. */
export async function replayCosts(
  options: { workflowBundle: WorkflowBundleWithSourceMap; dataConverter: DataConverter },
  workflowId: string,
  prefixes: HistoryEvent[][],
  repeats: number,
): Promise<ReplayCost[]> {
  const runs = [prefixes[0]!, ...prefixes.flatMap((p) => Array.from({ length: repeats }, () => p))];
  const times: number[][] = prefixes.map(() => []);
  const cpuTimes: number[][] = prefixes.map(() => []);
  const errors: (string | undefined)[] = prefixes.map(() => undefined);
  let n = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  // runReplayHistories pulls the next history only once the previous one replayed: the time
  // between two results is one replay.
  const histories = runs.map((events) => ({ workflowId, history: { events } }));
  for await (const result of Worker.runReplayHistories({ ...options, replayName: 'bench-replay-cost' }, histories)) {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (n > 0) {
      const k = Math.floor((n - 1) / repeats);
      times[k]!.push(now - last);
      cpuTimes[k]!.push((cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000);
      if (result.error) errors[k] ??= result.error.message;
    }
    n++;
    last = now;
    lastCpu = cpu;
  }
  return prefixes.map((p, k) => ({ events: p.length, ms: summarize(times[k]!), cpuMs: summarize(cpuTimes[k]!), ...(errors[k] && { error: errors[k] }) }));
}

/** Least-squares slope of the median wall (or CPU) ms against events, per 1000 events (the fixed cost is the intercept). */
export function msPer1kEvents(costs: readonly ReplayCost[], of: 'ms' | 'cpuMs' = 'ms'): number {
  const points = costs.filter((c) => !c.error && Number.isFinite(c[of].p50));
  if (points.length < 2) return Number.NaN;
  const mx = points.reduce((s, c) => s + c.events, 0) / points.length;
  const my = points.reduce((s, c) => s + c[of].p50, 0) / points.length;
  const sxy = points.reduce((s, c) => s + (c.events - mx) * (c[of].p50 - my), 0);
  const sxx = points.reduce((s, c) => s + (c.events - mx) ** 2, 0);
  return sxx === 0 ? Number.NaN : (sxy / sxx) * 1000;
}
