// Integrity checks for platform operators: start one (a dry run unless `apply: true`), list the
// reports, read one. Authentication is not here: the admin scope that registers this plugin
// applies it to the whole subtree (api/routes/v1/index.ts, prefix /api/v1/admin).
//
// POST creates the report row first, so its id can be read at once (status `running`) and the
// workflow fills it; the scheduled daily dry run makes its own rows.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Prisma } from '../../../../generated/prisma/client.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { integrityCheck, integrityCheckWorkflowId } from '../../../../workflows/integrity.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { cursorDate } from '../../../schemas/common.ts';

export interface IntegrityRoutesOptions {
  /** Task queue of the maintenance workers (default: `maintenance` under TEMPORAL_TASK_QUEUE_PREFIX). */
  taskQueue?: string;
}

const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() }),
});

const finding = z.object({
  check: z.string(),
  severity: z.enum(['info', 'warning', 'error']),
  count: z.number().int(),
  sampleIds: z.array(z.string()),
  description: z.string(),
  remediation: z.object({ kind: z.enum(['fix', 'manual']), action: z.string() }),
  details: z.record(z.string(), z.unknown()).optional(),
  fixed: z.number().int().optional().describe('Rows or objects changed by the fix (applied runs)'),
  remaining: z.number().int().optional().describe('Count when the checks ran again after the fixes (applied runs)'),
  fixErrors: z.array(z.string()).optional(),
});

const reportSummary = z.object({
  id: z.uuid(),
  status: z.enum(['running', 'completed', 'failed']),
  dryRun: z.boolean(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
  findingCount: z.number().int().describe('Problems found (sum of the findings\' counts)'),
  fixedCount: z.number().int(),
  summary: z.record(z.string(), z.unknown()).describe('Count per check (and, for applied runs, `remaining` per check)'),
  error: z.string().nullable(),
});

const report = reportSummary.extend({ findings: z.array(finding) });

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional().describe("Opaque cursor from a previous page's nextCursor"),
});

type Row = Prisma.IntegrityReportGetPayload<object>;

function summaryOf(row: Row): z.infer<typeof reportSummary> {
  return {
    id: row.id,
    status: row.error ? 'failed' : row.finishedAt ? 'completed' : 'running',
    dryRun: row.dryRun,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    findingCount: row.findingCount,
    fixedCount: row.fixedCount,
    summary: (row.summary ?? {}) as Record<string, unknown>,
    error: row.error,
  };
}

/** Keyset cursor over (started_at desc, id desc). */
function encodeCursor(row: Row): string {
  return Buffer.from(JSON.stringify([row.startedAt.toISOString(), row.id]), 'utf8').toString('base64url');
}

const cursorShape = z.tuple([z.iso.datetime(), z.uuid()]);

function decodeCursor(cursor: string): { startedAt: Date; id: string } {
  try {
    const [startedAt, id] = cursorShape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    const at = cursorDate(startedAt);
    if (!at) throw new Error('out of range');
    return { startedAt: at, id };
  } catch {
    throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
  }
}

const integrityRoutes: FastifyPluginAsyncZod<IntegrityRoutesOptions> = async (app, options) => {
  const taskQueue = options.taskQueue ?? taskQueueName(app.config, 'maintenance');

  app.post(
    '/integrity-checks',
    {
      schema: {
        tags: ['admin'],
        summary: 'Start an integrity check (dry run unless apply is true)',
        body: z.object({ apply: z.boolean().default(false).describe('Apply the fixes; each change is audited as an event') }).strict().default({ apply: false }),
        response: { 202: z.object({ reportId: z.uuid(), workflowId: z.string(), dryRun: z.boolean(), status: z.literal('running') }), 400: errorBody, 401: errorBody, 429: errorBody, 500: errorBody },
      },
    },
    async (request, reply) => {
      const dryRun = !request.body.apply;
      const row = await app.db.integrityReport.create({ data: { dryRun } });
      const workflowId = integrityCheckWorkflowId(row.id);
      try {
        await app.temporal.workflow.start(integrityCheck, { taskQueue, workflowId, args: [{ apply: !dryRun, reportId: row.id }] });
      } catch (err) {
        await app.db.integrityReport.update({ where: { id: row.id }, data: { finishedAt: new Date(), error: 'the check could not be started' } });
        throw err;
      }
      request.log.info({ reportId: row.id, workflowId, dryRun }, 'integrity check started');
      return reply.status(202).send({ reportId: row.id, workflowId, dryRun, status: 'running' as const });
    },
  );

  app.get(
    '/integrity-checks',
    {
      schema: {
        tags: ['admin'],
        summary: 'Integrity reports, newest first',
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(reportSummary), nextCursor: z.string().nullable() }), 400: errorBody, 401: errorBody, 429: errorBody },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const rows = await app.db.integrityReport.findMany({
        where: after ? { OR: [{ startedAt: { lt: after.startedAt } }, { startedAt: after.startedAt, id: { lt: after.id } }] } : {},
        orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const items = rows.slice(0, limit);
      return { items: items.map(summaryOf), nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1]!) : null };
    },
  );

  app.get(
    '/integrity-checks/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One integrity report with its findings',
        params: z.object({ id: z.uuid() }),
        response: { 200: report, 400: errorBody, 401: errorBody, 404: errorBody, 429: errorBody },
      },
    },
    async (request) => {
      const row = await app.db.integrityReport.findUnique({ where: { id: request.params.id } });
      if (!row) throw new HttpError(404, 'not_found', `integrity report ${request.params.id} not found`);
      return { ...summaryOf(row), findings: (row.findings ?? []) as z.infer<typeof finding>[] };
    },
  );
};

export default integrityRoutes;
