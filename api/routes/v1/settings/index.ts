// The tenant's settings (lib/tenant-settings.ts). GET returns the effective settings (defaults
// filled in, the platform's DEFAULT_DAILY_BUDGET_USD among them), what the tenant set, and the version. PATCH deep-merges a partial object into what
// the tenant set (null removes a field, arrays replace) and needs the current version, as
// `If-Match: "<version>"` or `version` in the body: a stale version answers 409, so two admins
// editing at once cannot silently overwrite each other. Every write is recorded with its author
// (lib/settings-versions.ts): GET /versions lists them, POST /versions/:version/restore makes an
// earlier one current again as a new version.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SettingsVersion, Tenant } from '../../../../generated/prisma/client.ts';
import { requestEvaluation } from '../../../../lib/evaluation-requests.ts';
import { findSettingsVersion, listSettingsVersions, SettingsVersionConflict, writeSettings, type SettingsAuthor } from '../../../../lib/settings-versions.ts';
import { mergeSettings, parseTenantSettings, tenantSettingsSchema, type PlatformDefaults } from '../../../../lib/tenant-settings.ts';
import { taskQueueName } from '../../../../lib/temporal.ts';
import { embeddingModelSwitch, embeddingModelSwitchWorkflowId } from '../../../../workflows/embedding-model-switch.ts';
import { textSearchReindex, textSearchReindexWorkflowId } from '../../../../workflows/text-search-reindex.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses } from '../../../schemas/common.ts';

const settingsResponse = z.object({
  version: z.number().int(),
  settings: z
    .looseObject({
      llm: z.looseObject({
        dailyBudgetUsd: z.number().describe("USD per UTC day for model calls and embeddings: the tenant's own, else the platform's DEFAULT_DAILY_BUDGET_USD (PATCH null to return to it)"),
      }),
    })
    .describe('Effective settings, defaults filled in'),
  stored: z.record(z.string(), z.unknown()).describe('What the tenant set'),
});

function view(t: Pick<Tenant, 'settings' | 'settingsVersion'>, platform: PlatformDefaults): z.infer<typeof settingsResponse> {
  const settings = parseTenantSettings(t.settings, platform);
  return {
    version: t.settingsVersion,
    settings: { ...settings, llm: { ...settings.llm, dailyBudgetUsd: settings.llm.dailyBudgetUsd! } },
    stored: (t.settings ?? {}) as Record<string, unknown>,
  };
}

/**
 * `If-Match: "3"` (weak or unquoted too): the settings version. In the header's schema, so the
 * OpenAPI document says it; no surrounding whitespace, which HTTP strips from a header value.
 */
const IF_MATCH = /^(?:W\/)?"?(\d{1,9})"?$/;
const ifMatchHeader = z.object({ 'if-match': z.string().max(64).regex(IF_MATCH, 'must be the settings version, e.g. If-Match: "3"').optional() });

/** The version the caller read: If-Match, else the body's; neither answers 428. */
function expectedVersion(ifMatch: string | undefined, bodyVersion: number | undefined): number {
  const version = ifMatch === undefined ? bodyVersion : Number(IF_MATCH.exec(ifMatch)![1]);
  if (version === undefined) throw new HttpError(428, 'precondition_required', 'Send the current settings version as If-Match or body.version');
  return version;
}

const versionConflict = (current: number, sent: number) =>
  new HttpError(409, 'version_conflict', `Settings are at version ${current}, not ${sent}: read them again and retry`);

/** Zod issues as the 400's details: the path of the field (e.g. `llm.temperature`) and what is wrong with it. */
const issueDetails = (error: z.ZodError) => error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));

const versionSchema = z.object({
  version: z.number().int(),
  settings: z.record(z.string(), z.unknown()).describe('What the tenant stored in this version'),
  author: z.object({
    kind: z.enum(['api_key', 'user', 'platform']).describe('platform: the operator, or the settings from before their history was kept'),
    id: z.string().nullable(),
    name: z.string().nullable().describe("The key's name or the user's email, when written"),
  }),
  restoredFrom: z.number().int().nullable().describe('The version this one restored'),
  createdAt: z.string(),
});

function versionView(v: SettingsVersion): z.infer<typeof versionSchema> {
  return {
    version: v.version,
    settings: v.settings as Record<string, unknown>,
    author: { kind: v.authorKind, id: v.authorId, name: v.authorName },
    restoredFrom: v.restoredFrom,
    createdAt: v.createdAt.toISOString(),
  };
}

/** Who is writing: the API key (by its name) or the signed-in user (by email). */
async function authorOf(request: FastifyRequest): Promise<SettingsAuthor> {
  const principal = request.principal;
  if (principal?.kind === 'user') {
    const user = await request.tenantDb.user.findFirst({ where: { id: principal.userId }, select: { email: true } });
    return { kind: 'user', id: principal.userId, ...(user && { name: user.email }) };
  }
  if (principal?.kind === 'tenant') {
    const key = await request.tenantDb.apiKey.findFirst({ where: { id: principal.keyId }, select: { name: true } });
    return { kind: 'api_key', id: principal.keyId, ...(key && { name: key.name }) };
  }
  return { kind: 'platform' };
}

const settingsRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['settings'];
  const platform: PlatformDefaults = { dailyBudgetUsd: app.config.DEFAULT_DAILY_BUDGET_USD };

  app.get(
    '/',
    { schema: { tags, summary: "The tenant's settings and their version", response: { 200: settingsResponse, ...errorResponses } } },
    async (request, reply) => {
      const tenant = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId } });
      reply.header('etag', `"${tenant.settingsVersion}"`);
      return view(tenant, platform);
    },
  );

  app.patch(
    '/',
    {
      schema: {
        tags,
        summary: 'Change settings (needs the current version: If-Match or body.version)',
        headers: ifMatchHeader,
        body: z
          .object({
            version: z.number().int().min(1).optional().describe('The version read with GET (or send If-Match)'),
            settings: z.record(z.string(), z.unknown()).describe('Partial settings, deep-merged; null removes a field'),
          })
          .strict(),
        response: { 200: settingsResponse, ...errorResponses, 428: errorBody },
      },
    },
    async (request, reply) => {
      const version = expectedVersion(request.headers['if-match'], request.body.version);
      const tdb = request.tenantDb;
      const current = await tdb.tenant.findUniqueOrThrow({ where: { id: request.tenantId } });
      if (current.settingsVersion !== version) throw versionConflict(current.settingsVersion, version);
      const merged = mergeSettings(current.settings, request.body.settings);
      const parsed = tenantSettingsSchema.safeParse(merged);
      if (!parsed.success) throw new HttpError(400, 'validation_error', `Invalid settings: ${z.prettifyError(parsed.error)}`, issueDetails(parsed.error));
      const updated = await write(request, { fromVersion: version, settings: merged });
      request.log.info({ version: updated.settingsVersion }, 'settings updated');
      await startBackgroundWork(request, current.settings, updated);
      reply.header('etag', `"${updated.settingsVersion}"`);
      return view(updated, platform);
    },
  );

  app.get(
    '/versions',
    {
      schema: {
        tags,
        summary: "The settings' history, newest first: each version's settings, who wrote it and when",
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(100).default(20),
          before: z.coerce.number().int().min(1).max(2_147_483_647).optional().describe("Only versions older than this (the last item's version, for the next page)"),
        }),
        response: { 200: z.object({ items: z.array(versionSchema), nextBefore: z.number().int().nullable().describe('Pass as `before` for the next page; null on the last') }), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      const rows = await listSettingsVersions(request.tenantDb, { limit: limit + 1, ...(before !== undefined && { before }) });
      const items = rows.slice(0, limit);
      return { items: items.map(versionView), nextBefore: rows.length > limit ? items.at(-1)!.version : null };
    },
  );

  app.post(
    '/versions/:version/restore',
    {
      schema: {
        tags,
        summary: "Make an earlier version's settings current again (a new version; needs the current version: If-Match or body.version)",
        params: z.object({ version: z.coerce.number().int().min(1).max(2_147_483_647) }),
        headers: ifMatchHeader,
        body: z.object({ version: z.number().int().min(1).optional().describe('The current version, as read with GET (or send If-Match)') }).strict().nullish().describe('Optional with If-Match; no body is fine'),
        response: { 200: settingsResponse, ...errorResponses, 428: errorBody },
      },
    },
    async (request, reply) => {
      const version = expectedVersion(request.headers['if-match'], request.body?.version);
      const old = await findSettingsVersion(request.tenantDb, request.params.version);
      if (!old) throw new HttpError(404, 'not_found', `Settings version ${request.params.version} not found`);
      const current = await request.tenantDb.tenant.findUniqueOrThrow({ where: { id: request.tenantId } });
      if (current.settingsVersion !== version) throw versionConflict(current.settingsVersion, version);
      // What was valid then may not be now (a rule tightened since): it is checked like any write.
      const parsed = tenantSettingsSchema.safeParse(old.settings);
      if (!parsed.success) {
        throw new HttpError(400, 'validation_error', `Version ${old.version} no longer validates: ${z.prettifyError(parsed.error)}`, issueDetails(parsed.error));
      }
      const updated = await write(request, { fromVersion: version, settings: old.settings as Record<string, unknown>, restoredFrom: old.version });
      request.log.info({ version: updated.settingsVersion, restoredFrom: old.version }, 'settings restored');
      await startBackgroundWork(request, current.settings, updated);
      reply.header('etag', `"${updated.settingsVersion}"`);
      return view(updated, platform);
    },
  );

  /** Writes the settings and their version row; a write that lost the race answers 409. */
  async function write(request: FastifyRequest, change: { fromVersion: number; settings: Record<string, unknown>; restoredFrom?: number }): Promise<Tenant> {
    try {
      return await writeSettings(request.tenantDb, request.tenantId, { ...change, author: await authorOf(request) });
    } catch (err) {
      if (err instanceof SettingsVersionConflict) throw versionConflict(err.current, change.fromVersion);
      if ((err as { code?: string }).code === 'P2025') throw new HttpError(409, 'version_conflict', 'Settings changed meanwhile: read them again and retry');
      throw err;
    }
  }

  /** A change of embedding model or text search language starts its background workflow; any change asks for an evaluation run. */
  async function startBackgroundWork(request: FastifyRequest, before: unknown, updated: Tenant): Promise<void> {
    const settings = parseTenantSettings(updated.settings);
    await requestEvaluation(
      { temporal: app.temporal, tdb: request.tenantDb, logger: request.log },
      { tenantId: request.tenantId, taskQueue: taskQueueName(app.config, 'ingestion'), trigger: 'settings_changed', quietMs: app.config.EVALUATION_QUIET_SECONDS * 1000 },
    );
    if (settings.rag.embeddingModel !== updated.embeddingModel) {
      // Re-embedding runs in the background; retrieval keeps the old model until it is done.
      // Not started (Temporal down): the next settings write or a manual start catches up.
      await app.temporal.workflow
        .start(embeddingModelSwitch, {
          workflowId: embeddingModelSwitchWorkflowId(request.tenantId),
          taskQueue: taskQueueName(app.config, 'ingestion'),
          args: [{ tenantId: request.tenantId }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        })
        .catch((err: unknown) => request.log.warn({ err }, 'could not start the embedding model switch'));
    }
    if (settings.rag.language !== parseTenantSettings(before).rag.language) {
      // Re-indexing runs in the background. A run still going is replaced: the new one reads
      // the language committed above, so no change can land after a run's last check.
      await app.temporal.workflow
        .start(textSearchReindex, {
          workflowId: textSearchReindexWorkflowId(request.tenantId),
          taskQueue: taskQueueName(app.config, 'ingestion'),
          args: [{ tenantId: request.tenantId }],
          workflowIdConflictPolicy: 'TERMINATE_EXISTING',
        })
        .catch((err: unknown) => request.log.warn({ err }, 'could not start the text search re-index'));
    }
  }
};

export default settingsRoutes;
