// Recorded workflow histories on disk, as the recorder writes them and the replay test reads
// them: one JSON file per run, in the proto JSON that Temporal's tools write (the SDK's
// `historyToJSON`) with the run's workflow id beside the events (the SDK's `historyFromJSON`
// reads only `events`, so a file loads as a plain history too):
//
//   {
//   "workflowId": "conversation:…",
//   "events": [
//     {"eventId":"1","eventTime":"…","eventType":"EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",…},
//     …
//   ]
//   }
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';

export type { History };

const { temporal } = proto;
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

// The conversion of @temporalio/common's historyToJSON / historyFromJSON (protobufjs's protojson
// on the History type of @temporalio/proto), run with the protojson of the protobufjs copy that
// @temporalio/proto itself loads. The SDK's own functions throw "type must be a Type" here: npm
// hoists @grpc/proto-loader's protobufjs 7, so @temporalio/common, /proto and /worker each get a
// private copy of protobufjs 8, and protojson's `instanceof Type` fails across copies.
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History | null;
}
const { toJson, fromJson } = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

/** Proto JSON of a history, as Temporal's tools write it (`historyToJSON`). */
export function historyToJson(history: History): { events: unknown[] } {
  return toJson(historyType, temporal.api.history.v1.History.fromObject(history)) as { events: unknown[] };
}

/** A history from its proto JSON (`historyFromJSON`; unknown fields are ignored, as there). */
export function historyFromJson(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) throw new TypeError('expected an object with an array of events');
  const history = fromJson(historyType, { events: (json as { events: unknown[] }).events }, { ignoreUnknownFields: true });
  if (!history) throw new TypeError('not a history');
  return history;
}

export interface HistoryFile {
  /** Relative to the folder it was read from, e.g. conversation-v1/new.json. */
  name: string;
  workflowId: string;
  history: History;
}

export function writeHistoryFile(path: string, workflowId: string, history: History): void {
  // One event a line: a few hundred events stay readable, greppable and small.
  const events = historyToJson(history).events.map((e) => `  ${JSON.stringify(e)}`);
  writeFileSync(path, `{\n"workflowId": ${JSON.stringify(workflowId)},\n"events": [\n${events.join(',\n')}\n]\n}\n`);
}

/** Every `*.json` under `root` (any depth), sorted by name. */
export function listHistoryFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(root, f))
    .sort();
}

/** Reads one file; throws an error naming the file if it is not a history with a workflow id. */
export function readHistoryFile(root: string, path: string): HistoryFile {
  const name = relative(root, path);
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as { workflowId?: unknown };
    if (typeof json.workflowId !== 'string' || !json.workflowId) throw new Error('no "workflowId"');
    return { name, workflowId: json.workflowId, history: historyFromJson(json) };
  } catch (err) {
    throw new Error(`${name}: not a recorded history (${err instanceof Error ? err.message : String(err)})`);
  }
}

const typeName = (e: HistoryEvent) =>
  (EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** What a history holds, in a few lines: for the recorder's report and for checking a scenario. */
export interface HistorySummary {
  events: number;
  /** Event types (camelCase, e.g. activityTaskScheduled) and how often each occurs. */
  eventTypes: Record<string, number>;
  /** Activity types scheduled, in order of first use, with counts. */
  activities: Record<string, number>;
  /** Local activity types (recorded as markers), likewise. */
  localActivities: Record<string, number>;
  signals: Record<string, number>;
  /** Updates accepted (each is followed by its completion). */
  updates: Record<string, number>;
  /** Patch ids of the markers recorded by patched(). */
  patches: string[];
  /** The type of the last event, e.g. timerStarted (waiting) or workflowExecutionContinuedAsNew. */
  last: string;
}

export function summarizeHistory(history: History): HistorySummary {
  const events = history.events ?? [];
  const count = (into: Record<string, number>, key: string | null | undefined) => {
    if (key) into[key] = (into[key] ?? 0) + 1;
  };
  const summary: HistorySummary = { events: events.length, eventTypes: {}, activities: {}, localActivities: {}, signals: {}, updates: {}, patches: [], last: '' };
  const json = (data: Uint8Array | null | undefined) => (data ? (JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>) : {});
  for (const e of events) {
    count(summary.eventTypes, typeName(e));
    count(summary.activities, e.activityTaskScheduledEventAttributes?.activityType?.name);
    count(summary.signals, e.workflowExecutionSignaledEventAttributes?.signalName);
    count(summary.updates, e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name);
    const marker = e.markerRecordedEventAttributes;
    // Core's markers: {"id", "deprecated"} under "patch-data"; {"activity_type", …} under "data".
    if (marker?.markerName === 'core_patch') {
      const id = json(marker.details?.['patch-data']?.payloads?.[0]?.data).id;
      if (typeof id === 'string') summary.patches.push(id);
    }
    if (marker?.markerName === 'core_local_activity') {
      const type = json(marker.details?.data?.payloads?.[0]?.data).activity_type;
      count(summary.localActivities, typeof type === 'string' ? type : '?');
    }
  }
  summary.last = events.length ? typeName(events.at(-1)!) : '';
  return summary;
}

/**
 * True when the run waits on nothing but the user: it has closed, or no workflow task and no
 * activity is outstanding and every running timer is at least a minute long (a quiet window's
 * timer means the run is still about to act).
 */
export function isSettled(history: History): boolean {
  const events = history.events ?? [];
  const last = events.at(-1);
  if (!last) return false;
  const closing = [
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
  ];
  if (closing.includes(last.eventType ?? 0)) return true;
  let workflowTaskOpen = false;
  const activities = new Set<string>();
  const timers = new Map<string, number>();
  for (const e of events) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        workflowTaskOpen = true;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        workflowTaskOpen = false;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities.add(String(e.eventId));
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
        activities.delete(String(a?.scheduledEventId));
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const t = e.timerStartedEventAttributes!;
        timers.set(t.timerId!, Number(t.startToFireTimeout?.seconds ?? 0));
        break;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
        timers.delete(e.timerFiredEventAttributes!.timerId!);
        break;
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        timers.delete(e.timerCanceledEventAttributes!.timerId!);
        break;
    }
  }
  return !workflowTaskOpen && activities.size === 0 && [...timers.values()].every((seconds) => seconds >= 60);
}

type Payload = proto.temporal.api.common.v1.IPayload;

const isPayload = (value: object): value is Payload => {
  const metadata = (value as Payload).metadata;
  return typeof metadata === 'object' && metadata !== null && metadata.encoding instanceof Uint8Array;
};

/**
 * A copy of `history` with every payload a payload codec handles passed through `codec` (e.g. to
 * encrypt a plaintext history as the platform's workers now write them, or to decrypt a recorded
 * one before it is written to a fixture). Search attributes and headers are not codec payloads,
 * and neither are the details core itself writes into its markers (patch ids, local activity
 * metadata); they are left as they are.
 */
export async function mapHistoryPayloads(history: History, codec: (payloads: Payload[]) => Promise<Payload[]>): Promise<History> {
  const copy = historyFromJson(historyToJson(history));
  const found: { holder: Record<string, unknown>; key: string; payload: Payload }[] = [];
  const SKIPPED = new Set(['searchAttributes', 'header']);
  const visit = (node: unknown, parentKey: string) => {
    if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
    for (const [key, value] of Object.entries(node)) {
      if (SKIPPED.has(key) || (parentKey === 'details' && (key === 'data' || key === 'patch-data'))) continue;
      if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && isPayload(value)) {
        found.push({ holder: node as Record<string, unknown>, key, payload: value });
      } else {
        visit(value, key);
      }
    }
  };
  visit(copy, '');
  const mapped = await codec(found.map((f) => f.payload));
  found.forEach((f, i) => {
    f.holder[f.key] = mapped[i];
  });
  return copy;
}
