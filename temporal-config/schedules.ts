// The Temporal Schedules of the platform, created when a worker that polls the `maintenance`
// queue starts (workers/main.ts). Idempotent: a schedule that exists is updated to the wanted
// spec, action and policies (so a changed setting reaches it), and keeps its state — a
// schedule an operator paused in the Temporal UI stays paused. Workers starting together are
// fine: the loser of the create race updates instead.
//   partition-maintenance  daily 02:17 UTC  partitionMaintenance (months ahead, retention)
//   integrity-check        daily 03:41 UTC  integrityCheck, dry run (fixes need an operator)
//   document-purge         hourly at :23    documentPurge (documents deleted over the grace period ago)
//   template-sync          hourly at :07    templateSync (every WhatsApp channel's message templates; opt-in)
//   stripe-usage-report    hourly at :47    stripeUsageReport (meter events to Stripe Billing Meters; with billing on)
// All SKIP overlaps: a run still going when the next is due means the next is not needed.
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { DEFAULT_DOCUMENT_PURGE_AFTER_HOURS, documentPurge, type DocumentPurgeInput } from '../workflows/document-purge.ts';
import { integrityCheck } from '../workflows/integrity.ts';
import { partitionMaintenance, type PartitionMaintenanceInput } from '../workflows/maintenance.ts';
import { templateSync } from '../workflows/template-sync.ts';
import { tenantEventSweep } from '../workflows/webhook-delivery.ts';
import { stripeUsageReport } from '../workflows/stripe-usage-report.ts';

export interface EnsureSchedulesOptions {
  /** Where the scheduled workflows run (default `maintenance`). */
  taskQueue?: string;
  /** Prepended to the schedule ids (tests isolate themselves on a shared server). */
  idPrefix?: string;
  monthsAhead: number;
  /** Absent: partitions are never dropped. */
  retentionMonths?: number | undefined;
  /** The tenant webhook outbox sweep (every minute), for workers that deliver webhooks. */
  tenantEventSweep?: boolean;
  /** The hourly report of metered usage to Stripe (workflows/stripe-usage-report.ts), when billing is on. */
  stripeUsageReport?: boolean;
  /** The hourly WhatsApp template sync (workflows/template-sync.ts), for workers that run it. */
  templateSync?: boolean;
  /** DOCUMENT_PURGE_AFTER_HOURS: deleted documents are purged after this grace period (default 24). */
  documentPurgeAfterHours?: number | undefined;
}

export const SCHEDULE_IDS = { partitionMaintenance: 'partition-maintenance', integrityCheck: 'integrity-check', documentPurge: 'document-purge' } as const;

type Wanted = Pick<ScheduleOptions, 'scheduleId' | 'spec' | 'action' | 'policies'>;

function wantedSchedules(options: EnsureSchedulesOptions): Wanted[] {
  const prefix = options.idPrefix ?? '';
  const taskQueue = options.taskQueue ?? 'maintenance';
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false };
  const maintenanceArgs: PartitionMaintenanceInput = { monthsAhead: options.monthsAhead, retentionMonths: options.retentionMonths ?? null };
  const purgeArgs: DocumentPurgeInput = { olderThanHours: options.documentPurgeAfterHours ?? DEFAULT_DOCUMENT_PURGE_AFTER_HOURS };
  return [
    {
      scheduleId: `${prefix}${SCHEDULE_IDS.partitionMaintenance}`,
      spec: { calendars: [{ hour: 2, minute: 17, comment: 'daily, UTC' }] },
      action: {
        type: 'startWorkflow',
        workflowType: partitionMaintenance,
        args: [maintenanceArgs],
        taskQueue,
        workflowId: `${prefix}${SCHEDULE_IDS.partitionMaintenance}`,
        workflowExecutionTimeout: '2 hours',
      },
      policies,
    },
    {
      scheduleId: `${prefix}${SCHEDULE_IDS.integrityCheck}`,
      spec: { calendars: [{ hour: 3, minute: 41, comment: 'daily, UTC' }] },
      action: {
        type: 'startWorkflow',
        workflowType: integrityCheck,
        args: [{ apply: false }],
        taskQueue,
        workflowId: `${prefix}${SCHEDULE_IDS.integrityCheck}`,
        workflowExecutionTimeout: '2 hours',
      },
      policies,
    },
    {
      scheduleId: `${prefix}${SCHEDULE_IDS.documentPurge}`,
      // Hourly: a document is gone at most an hour after its grace period ends.
      spec: { intervals: [{ every: '1 hour', offset: '23 minutes' }] },
      action: {
        type: 'startWorkflow',
        workflowType: documentPurge,
        args: [purgeArgs],
        taskQueue,
        workflowId: `${prefix}${SCHEDULE_IDS.documentPurge}`,
        workflowExecutionTimeout: '1 hour',
      },
      policies,
    },
  ];
}

export const TENANT_EVENT_SWEEP_SCHEDULE_ID = 'tenant-event-sweep';

/** Every minute: events a crash left undispatched go to their webhook endpoints (workflows/webhook-delivery.ts). */
function tenantEventSweepSchedule(options: EnsureSchedulesOptions): Wanted[] {
  if (!options.tenantEventSweep) return [];
  const id = `${options.idPrefix ?? ''}${TENANT_EVENT_SWEEP_SCHEDULE_ID}`;
  return [
    {
      scheduleId: id,
      spec: { intervals: [{ every: '1 minute' }] },
      action: { type: 'startWorkflow', workflowType: tenantEventSweep, args: [{}], taskQueue: options.taskQueue ?? 'maintenance', workflowId: id, workflowExecutionTimeout: '10 minutes' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
    },
  ];
}

export const STRIPE_USAGE_REPORT_SCHEDULE_ID = 'stripe-usage-report';

function stripeUsageReportSchedule(options: EnsureSchedulesOptions): Wanted[] {
  if (!options.stripeUsageReport) return [];
  const id = `${options.idPrefix ?? ''}${STRIPE_USAGE_REPORT_SCHEDULE_ID}`;
  return [
    {
      scheduleId: id,
      spec: { intervals: [{ every: '1 hour', offset: '47 minutes' }] },
      action: { type: 'startWorkflow', workflowType: stripeUsageReport, args: [], taskQueue: options.taskQueue ?? 'maintenance', workflowId: id, workflowExecutionTimeout: '1 hour' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false },
    },
  ];
}

export const TEMPLATE_SYNC_SCHEDULE_ID = 'template-sync';

/** Hourly: templates created, edited or deleted in WhatsApp Manager, which no webhook reports. */
function templateSyncSchedule(options: EnsureSchedulesOptions): Wanted[] {
  if (!options.templateSync) return [];
  const id = `${options.idPrefix ?? ''}${TEMPLATE_SYNC_SCHEDULE_ID}`;
  return [
    {
      scheduleId: id,
      spec: { intervals: [{ every: '1 hour', offset: '7 minutes' }] },
      action: { type: 'startWorkflow', workflowType: templateSync, args: [], taskQueue: options.taskQueue ?? 'maintenance', workflowId: id, workflowExecutionTimeout: '1 hour' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false },
    },
  ];
}

export interface EnsureSchedulesResult {
  created: string[];
  updated: string[];
}

export async function ensureSchedules(client: Client, options: EnsureSchedulesOptions): Promise<EnsureSchedulesResult> {
  const result: EnsureSchedulesResult = { created: [], updated: [] };
  for (const wanted of [...wantedSchedules(options), ...tenantEventSweepSchedule(options), ...templateSyncSchedule(options), ...stripeUsageReportSchedule(options)]) {
    try {
      await client.schedule.create(wanted as ScheduleOptions);
      result.created.push(wanted.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(wanted.scheduleId).update(
        (previous): ScheduleUpdateOptions => ({ ...previous, spec: wanted.spec, action: wanted.action, policies: wanted.policies }) as ScheduleUpdateOptions,
      );
      result.updated.push(wanted.scheduleId);
    }
  }
  return result;
}
