// The tenant's settings (lib/tenant-settings.ts). GET returns the effective settings (defaults
// filled in, the platform's DEFAULT_DAILY_BUDGET_USD among them), what the tenant set, and the version. PATCH deep-merges a partial object into what
// the tenant set (null removes a field, arrays replace) and needs the current version, as
// `If-Match: "<version>"` or `version` in the body: a stale version answers 409, so two admins
// editing at once cannot silently overwrite each other.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Tenant } from '../../../../generated/prisma/client.ts';
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
        headers: z.object({ 'if-match': z.string().max(64).regex(IF_MATCH, 'must be the settings version, e.g. If-Match: "3"').optional() }),
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
      const ifMatch = request.headers['if-match'];
      const version = ifMatch === undefined ? request.body.version : Number(IF_MATCH.exec(ifMatch)![1]);
      if (version === undefined) throw new HttpError(428, 'precondition_required', 'Send the current settings version as If-Match or body.version');
      const tdb = request.tenantDb;
      const current = await tdb.tenant.findUniqueOrThrow({ where: { id: request.tenantId } });
      if (current.settingsVersion !== version) {
        throw new HttpError(409, 'version_conflict', `Settings are at version ${current.settingsVersion}, not ${version}: read them again and retry`);
      }
      const merged = mergeSettings(current.settings, request.body.settings);
      const parsed = tenantSettingsSchema.safeParse(merged);
      if (!parsed.success) {
        throw new HttpError(400, 'validation_error', `Invalid settings: ${z.prettifyError(parsed.error)}`, parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
      }
      try {
        // The version in the where makes the write conditional: a concurrent write in between wins.
        const updated = await tdb.tenant.update({
          where: { id: request.tenantId, settingsVersion: version },
          data: { settings: merged as object, settingsVersion: { increment: 1 } },
        });
        request.log.info({ version: updated.settingsVersion }, 'settings updated');
        if (parsed.data.rag.embeddingModel !== updated.embeddingModel) {
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
        if (parsed.data.rag.language !== parseTenantSettings(current.settings).rag.language) {
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
        reply.header('etag', `"${updated.settingsVersion}"`);
        return view(updated, platform);
      } catch (err) {
        if ((err as { code?: string }).code === 'P2025') throw new HttpError(409, 'version_conflict', 'Settings changed meanwhile: read them again and retry');
        throw err;
      }
    },
  );
};

export default settingsRoutes;
