// Reading conversation workflow histories as the Temporal server recorded them, without knowing
// which activities the workflow runs: the reply's place in a history is found from the moment
// the fake Graph API accepted the reply text (wall clock, the server's clock on this machine).
//
//   - countEvents: how many events, of which types, how many workflow tasks, activities and
//     local activity markers a stretch of history holds (the hot path's cost);
//   - settledHistory: the history once nothing is left in flight (no workflow task, activity,
//     child or timer due soon) and it stopped growing — "quiescent";
//   - breakdown / pathBreakdown: where the time to a first reply went, split into waiting in a
//     task queue (scheduled → started) and running on the worker (started → completed/fired).
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { sleep, summarize } from './stats.ts';

const T = protos.temporal.api.enums.v1.EventType;
export type HistoryEvent = protos.temporal.api.history.v1.IHistoryEvent;

/** The marker the SDK records for each local activity (sdk-core's LOCAL_ACTIVITY_MARKER_NAME). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

export const eventMs = (e: HistoryEvent | undefined): number =>
  e?.eventTime ? Number(String(e.eventTime.seconds ?? 0)) * 1000 + (e.eventTime.nanos ?? 0) / 1e6 : Number.NaN;

const durationMs = (d: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  d ? Number(String(d.seconds ?? 0)) * 1000 + (d.nanos ?? 0) / 1e6 : 0;

const id = (v: unknown): string => String(v ?? '');

/** `EVENT_TYPE_WORKFLOW_TASK_SCHEDULED` → `WorkflowTaskScheduled`. */
export function eventTypeName(e: HistoryEvent): string {
  const raw = typeof e.eventType === 'string' ? e.eventType : ((T as unknown as Record<number, string>)[e.eventType ?? 0] ?? String(e.eventType));
  return raw
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .split('_')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : ''))
    .join('');
}

export const isLocalActivityMarker = (e: HistoryEvent): boolean =>
  e.eventType === T.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER;

/** A local activity marker's activity type, from the JSON the SDK stores in its `data` detail. */
function localActivityType(e: HistoryEvent): string {
  try {
    const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    if (!payload) return '?';
    const data = JSON.parse(Buffer.from(payload).toString('utf8')) as { activity_type?: string; activityType?: string };
    return data.activity_type ?? data.activityType ?? '?';
  } catch {
    return '?';
  }
}

/** The steps of a stretch of history, in order: activity types, local ones marked. */
function stepName(e: HistoryEvent): string | undefined {
  if (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) return e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
  if (isLocalActivityMarker(e)) return `${localActivityType(e)} (local)`;
  if (e.eventType === T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) return `${e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? '?'} (child)`;
  return undefined;
}

export interface EventCounts {
  events: number;
  /** [type, count], most frequent first (ties in order of first appearance). */
  types: [string, number][];
  /** Completed workflow tasks (failed or timed-out ones are in `types`). */
  workflowTasks: number;
  activities: number;
  localActivities: number;
  /** Markers other than local activities (patches, side effects…). */
  otherMarkers: number;
  /** [marker name, count] of every MarkerRecorded. */
  markers: [string, number][];
  timers: number;
  steps: string[];
}

export function countEvents(events: readonly HistoryEvent[]): EventCounts {
  const types = new Map<string, number>();
  const markers = new Map<string, number>();
  const c: EventCounts = { events: events.length, types: [], workflowTasks: 0, activities: 0, localActivities: 0, otherMarkers: 0, markers: [], timers: 0, steps: [] };
  for (const e of events) {
    const name = eventTypeName(e);
    types.set(name, (types.get(name) ?? 0) + 1);
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) c.workflowTasks++;
    else if (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) c.activities++;
    else if (e.eventType === T.EVENT_TYPE_TIMER_STARTED) c.timers++;
    else if (e.eventType === T.EVENT_TYPE_MARKER_RECORDED) {
      const marker = e.markerRecordedEventAttributes?.markerName ?? '?';
      markers.set(marker, (markers.get(marker) ?? 0) + 1);
      if (isLocalActivityMarker(e)) c.localActivities++;
      else c.otherMarkers++;
    }
    const step = stepName(e);
    if (step) c.steps.push(step);
  }
  const order = [...types.keys()];
  c.types = [...types.entries()].sort((a, b) => b[1] - a[1] || order.indexOf(a[0]) - order.indexOf(b[0]));
  c.markers = [...markers.entries()];
  return c;
}

/** "WorkflowTaskScheduled×3, …, MarkerRecorded×2 (core_local_activity×1, core_patch×1), …" */
export const formatTypes = (c: Pick<EventCounts, 'types' | 'markers'>): string =>
  c.types.map(([t, n]) => `${t}×${n}${t === 'MarkerRecorded' && c.markers.length ? ` (${c.markers.map(([m, k]) => `${m}×${k}`).join(', ')})` : ''}`).join(', ');

const CLOSED = new Set<number>([
  T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

/**
 * What is still in flight at the end of a history, or undefined if nothing is: a workflow task
 * not completed, an activity without its result, a child workflow not closed, or a timer that
 * fires within `soonMs` (the conversation's long idle timer does not count).
 */
export function pendingWork(events: readonly HistoryEvent[], soonMs = 60_000): string | undefined {
  const last = events.at(-1);
  if (!last) return 'no events yet';
  if (CLOSED.has(last.eventType ?? 0)) return undefined;
  const done = new Set<string>();
  const timersDone = new Set<string>();
  const childrenDone = new Set<string>();
  for (const e of events) {
    const a =
      e.workflowTaskCompletedEventAttributes ??
      e.workflowTaskFailedEventAttributes ??
      e.workflowTaskTimedOutEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (a) done.add(id((a as { scheduledEventId?: unknown }).scheduledEventId));
    const t = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes;
    if (t) timersDone.add(id(t.startedEventId));
    const child =
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes ??
      e.startChildWorkflowExecutionFailedEventAttributes;
    if (child) childrenDone.add(id(child.initiatedEventId));
  }
  const now = Date.now();
  for (const e of events) {
    const eid = id(e.eventId);
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED && !done.has(eid)) return 'a workflow task';
    if (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && !done.has(eid)) return `activity ${e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'}`;
    if (e.eventType === T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED && !childrenDone.has(eid)) return 'a child workflow';
    if (e.eventType === T.EVENT_TYPE_TIMER_STARTED && !timersDone.has(eid)) {
      const firesAt = eventMs(e) + durationMs(e.timerStartedEventAttributes?.startToFireTimeout);
      if (firesAt - now <= soonMs) return 'a timer due soon';
    }
  }
  return undefined;
}

export interface SettledHistory {
  events: HistoryEvent[];
  settled: boolean;
  /** What was still in flight when the wait gave up. */
  pending?: string;
}

/** Reads a history until nothing is in flight and two reads `stableMs` apart agree (bounded). */
export async function settledHistory(client: Client, workflowId: string, timeoutMs = 20_000, stableMs = 500): Promise<SettledHistory> {
  const deadline = Date.now() + timeoutMs;
  let previous: number | undefined;
  let events: HistoryEvent[] = [];
  let pending: string | undefined = 'not read yet';
  for (;;) {
    try {
      events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      pending = pendingWork(events);
    } catch (err) {
      pending = `history not readable (${(err as Error).message})`;
    }
    if (!pending && previous === events.length) return { events, settled: true };
    previous = pending ? undefined : events.length;
    if (Date.now() > deadline) return { events, settled: false, pending: pending ?? 'still growing' };
    await sleep(stableMs);
  }
}

/**
 * The index just past the first workflow task completed at or after `replyEpoch` — the end of a
 * reply's stretch of history, whether the send ran as an activity (its result comes back in a
 * new workflow task) or as a local activity (recorded when the task that ran it completes).
 */
export function endOfReply(events: readonly HistoryEvent[], replyEpoch: number, from = 0): number | undefined {
  for (let i = from; i < events.length; i++) {
    const e = events[i]!;
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && eventMs(e) >= replyEpoch) return i + 1;
  }
  return undefined;
}

/** Index of the first WorkflowExecutionSignaled at or after index `from`. */
export function firstSignal(events: readonly HistoryEvent[], from = 0): number | undefined {
  const i = events.findIndex((e, j) => j >= from && e.eventType === T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  return i < 0 ? undefined : i;
}

// ---- Where the time went --------------------------------------------------------------------

export interface PathBreakdown {
  /** Workflow start → the step that sent the reply completed (server clock). */
  total: number;
  workflowTasks: number;
  workflowTaskWait: number;
  /** Includes local activities, which run inside workflow tasks. */
  workflowTaskRun: number;
  activities: number;
  localActivities: number;
  activityWait: number;
  activityRun: number;
  timerWait: number;
  /** What is left: the server's own work between one step's completion and the next one's scheduling. */
  other: number;
  steps: string[];
}

/**
 * The path from the workflow's start to the completion of the step during which the fake Graph
 * API accepted the reply (`replyEpoch`): the first activity or workflow task completed after it.
 */
export function breakdown(events: readonly HistoryEvent[], replyEpoch: number): PathBreakdown | undefined {
  const byId = new Map<string, HistoryEvent>();
  for (const e of events) byId.set(id(e.eventId), e);
  const start = events.find((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const endEvent = events.find(
    (e) => (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED || e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) && eventMs(e) >= replyEpoch,
  );
  if (!start || !endEvent) return undefined;
  const end = eventMs(endEvent);
  const b: PathBreakdown = { total: end - eventMs(start), workflowTasks: 0, workflowTaskWait: 0, workflowTaskRun: 0, activities: 0, localActivities: 0, activityWait: 0, activityRun: 0, timerWait: 0, other: 0, steps: [] };
  for (const e of events) {
    if (eventMs(e) > end) break;
    const step = stepName(e);
    if (step) b.steps.push(step);
    if (isLocalActivityMarker(e)) b.localActivities++;
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const a = e.workflowTaskCompletedEventAttributes;
      b.workflowTasks++;
      b.workflowTaskWait += eventMs(byId.get(id(a?.startedEventId))) - eventMs(byId.get(id(a?.scheduledEventId)));
      b.workflowTaskRun += eventMs(e) - eventMs(byId.get(id(a?.startedEventId)));
    } else if (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes;
      b.activities++;
      b.activityWait += eventMs(byId.get(id(a?.startedEventId))) - eventMs(byId.get(id(a?.scheduledEventId)));
      b.activityRun += eventMs(e) - eventMs(byId.get(id(a?.startedEventId)));
    } else if (e.eventType === T.EVENT_TYPE_TIMER_FIRED) {
      b.timerWait += eventMs(e) - eventMs(byId.get(id(e.timerFiredEventAttributes?.startedEventId)));
    }
    if (e === endEvent) break;
  }
  b.other = b.total - b.workflowTaskWait - b.workflowTaskRun - b.activityWait - b.activityRun - b.timerWait;
  return b;
}

export interface BreakdownSummary {
  samples: number;
  workflowTasks: number;
  activities: number;
  localActivities: number;
  steps: string[];
  /** Medians across the samples, ms. */
  median: Record<'total' | 'workflowTaskWait' | 'workflowTaskRun' | 'activityWait' | 'activityRun' | 'timerWait' | 'other', number>;
}

export interface ReplySample {
  workflowId: string;
  /** Wall-clock time the fake Graph API accepted the reply. */
  replyEpoch: number;
}

/** Reads the histories of (up to) `limit` conversations, evenly picked, and summarises their paths to the reply. */
export async function pathBreakdown(client: Client, samples: ReplySample[], limit = 25): Promise<BreakdownSummary | undefined> {
  const step = Math.max(1, Math.floor(samples.length / limit));
  const picked = samples.filter((_, i) => i % step === 0).slice(0, limit);
  const paths: PathBreakdown[] = [];
  for (const s of picked) {
    try {
      const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
      const path = breakdown(history.events ?? [], s.replyEpoch);
      if (path) paths.push(path);
    } catch {
      // a history we cannot read is left out
    }
  }
  if (paths.length === 0) return undefined;
  const med = (pick: (p: PathBreakdown) => number): number => summarize(paths.map(pick)).p50;
  return {
    samples: paths.length,
    workflowTasks: med((p) => p.workflowTasks),
    activities: med((p) => p.activities),
    localActivities: med((p) => p.localActivities),
    steps: paths[0]!.steps,
    median: {
      total: med((p) => p.total),
      workflowTaskWait: med((p) => p.workflowTaskWait),
      workflowTaskRun: med((p) => p.workflowTaskRun),
      activityWait: med((p) => p.activityWait),
      activityRun: med((p) => p.activityRun),
      timerWait: med((p) => p.timerWait),
      other: med((p) => p.other),
    },
  };
}
