// A tenant's own model provider keys (and optional OpenAI/Anthropic-compatible base URLs), used
// instead of the platform's. Keys are write-only: responses show `••••` (that one is set), not
// even their last characters.
// The next turn uses a change.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantLlmCredential } from '../../../../generated/prisma/client.ts';
import { LLM_PROVIDERS, llmCredentialInputSchema, llmCredentialView, setLlmCredential } from '../../../../lib/llm-credentials.ts';
import { enforcePlanFeature, planFeatureResponses } from '../../../plan-features.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, noContent } from '../../../schemas/common.ts';

const credentialSchema = z.object({
  provider: z.string(),
  baseUrl: z.string().nullable(),
  apiKey: z.literal('••••').describe('Masked: that a key is set, nothing of it'),
  updatedAt: z.string(),
});
const providerParams = z.object({ provider: z.enum(LLM_PROVIDERS) });

/** The stored view with the key masked whole. */
const view = (row: TenantLlmCredential) => ({ ...llmCredentialView(row), apiKey: '••••' as const });

const llmCredentialRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['llm-credentials'];
  const keyring = app.config.SECRETS_KEYS;

  app.get(
    '/',
    { schema: { tags, summary: "The tenant's own provider keys (masked)", response: { 200: z.object({ items: z.array(credentialSchema) }), ...errorResponses } } },
    async (request) => {
      const rows = await request.tenantDb.tenantLlmCredential.findMany({ orderBy: { provider: 'asc' } });
      return { items: rows.map(view) };
    },
  );

  app.put(
    '/:provider',
    {
      schema: {
        tags,
        summary: "Set the tenant's own key (and optional https base URL) for a provider",
        description: "402 when the tenant's plan does not include llm_credentials; on such a plan keys set before are not used either (the platform's are).",
        params: providerParams,
        body: llmCredentialInputSchema,
        response: { 200: credentialSchema, ...errorResponses, ...planFeatureResponses },
      },
    },
    async (request) => {
      await enforcePlanFeature(app, request, 'llm_credentials');
      const row = await setLlmCredential(request.tenantDb, keyring, request.tenantId, request.params.provider, request.body);
      request.log.info({ provider: row.provider, baseUrl: row.baseUrl }, 'tenant LLM credential set');
      return view(row);
    },
  );

  app.delete(
    '/:provider',
    { schema: { tags, summary: "Remove the tenant's own key: the platform's is used again", params: providerParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { count } = await request.tenantDb.tenantLlmCredential.deleteMany({ where: { provider: request.params.provider } });
      if (count === 0) throw new HttpError(404, 'not_found', 'No key set for this provider');
      return reply.status(204).send();
    },
  );
};

export default llmCredentialRoutes;
