// Where a conversation's first reply spends its time, read from the workflow histories the
// Temporal server recorded: every workflow task and activity on the path from the start of the
// workflow to the completion of the activity that sent the reply, split into waiting in a task
// queue (scheduled → started) and running on the worker (started → completed/fired).
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import { summarize } from './stats.ts';

const T = protos.temporal.api.enums.v1.EventType;
type Event = protos.temporal.api.history.v1.IHistoryEvent;

const ms = (e: Event | undefined): number => (e?.eventTime ? Number(String(e.eventTime.seconds ?? 0)) * 1000 + (e.eventTime.nanos ?? 0) / 1e6 : Number.NaN);

export interface PathBreakdown {
  /** Workflow start → reply activity completed (server clock). */
  total: number;
  workflowTasks: number;
  workflowTaskWait: number;
  workflowTaskRun: number;
  activities: number;
  activityWait: number;
  activityRun: number;
  timerWait: number;
  /** What is left: the server's own work between one step's completion and the next one's scheduling. */
  other: number;
  activityNames: string[];
}

/** The path up to the completion of the first `replyActivity`; undefined if the history has none. */
export function breakdown(events: Event[], replyActivity = 'deliverMessage'): PathBreakdown | undefined {
  const byId = new Map<string, Event>();
  for (const e of events) byId.set(String(e.eventId), e);
  const start = events.find((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const replyScheduled = events.find((e) => e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === replyActivity);
  const replyDone = replyScheduled && events.find((e) => e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(replyScheduled.eventId));
  if (!start || !replyDone) return undefined;
  const end = ms(replyDone);
  const b: PathBreakdown = { total: end - ms(start), workflowTasks: 0, workflowTaskWait: 0, workflowTaskRun: 0, activities: 0, activityWait: 0, activityRun: 0, timerWait: 0, other: 0, activityNames: [] };
  for (const e of events) {
    if (ms(e) > end) break;
    if (e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const a = e.workflowTaskCompletedEventAttributes;
      const scheduled = byId.get(String(a?.scheduledEventId));
      const started = byId.get(String(a?.startedEventId));
      b.workflowTasks++;
      b.workflowTaskWait += ms(started) - ms(scheduled);
      b.workflowTaskRun += ms(e) - ms(started);
    } else if (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes;
      const scheduled = byId.get(String(a?.scheduledEventId));
      const started = byId.get(String(a?.startedEventId));
      b.activities++;
      b.activityNames.push(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
      b.activityWait += ms(started) - ms(scheduled);
      b.activityRun += ms(e) - ms(started);
    } else if (e.eventType === T.EVENT_TYPE_TIMER_FIRED) {
      b.timerWait += ms(e) - ms(byId.get(String(e.timerFiredEventAttributes?.startedEventId)));
    }
  }
  b.other = b.total - b.workflowTaskWait - b.workflowTaskRun - b.activityWait - b.activityRun - b.timerWait;
  return b;
}

export interface BreakdownSummary {
  samples: number;
  workflowTasks: number;
  activities: number;
  activityNames: string[];
  /** Medians across the samples, ms. */
  median: Record<'total' | 'workflowTaskWait' | 'workflowTaskRun' | 'activityWait' | 'activityRun' | 'timerWait' | 'other', number>;
}

/** Reads the histories of (up to) `limit` workflows and summarises their paths to the reply. */
export async function pathBreakdown(client: Client, workflowIds: string[], limit = 25): Promise<BreakdownSummary | undefined> {
  const step = Math.max(1, Math.floor(workflowIds.length / limit));
  const picked = workflowIds.filter((_, i) => i % step === 0).slice(0, limit);
  const paths: PathBreakdown[] = [];
  for (const id of picked) {
    try {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const path = breakdown(history.events ?? []);
      if (path) paths.push(path);
    } catch {
      // a history we cannot read is left out
    }
  }
  if (paths.length === 0) return undefined;
  const med = (pick: (p: PathBreakdown) => number): number => summarize(paths.map(pick)).p50;
  const first = paths[0]!;
  return {
    samples: paths.length,
    workflowTasks: med((p) => p.workflowTasks),
    activities: med((p) => p.activities),
    activityNames: first.activityNames,
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

