// A tenant's own model provider credentials: the API key (AES-256-GCM, AAD
// `llm:{tenantId}:{provider}`, never returned) and optionally a base URL (an OpenAI- or
// Anthropic-compatible server). A tenant base URL only ever receives the tenant's own key: the
// platform's key is used with the platform's base URL only.
import { z } from 'zod';
import type { TenantLlmCredential } from '../generated/prisma/client.ts';
import { decryptSecret, encryptSecret, reencryptRows, type Keyring, type RotationResult } from './crypto.ts';
import { httpsUrl } from './tenant-urls.ts';
import type { TenantDb } from './tenant-db.ts';
import type { Db } from './db.ts';

export const LLM_PROVIDERS = ['openai', 'anthropic'] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

export const llmCredentialInputSchema = z
  .object({
    /** Sent in a request header by the provider's SDK, which holds no whitespace and nothing beyond Latin-1: providers' keys are visible ASCII. */
    apiKey: z.string().min(8).max(512).regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters (no whitespace)'),
    /** A tenant URL (lib/tenant-urls.ts): checked as written here, and at connect time by every call. */
    baseUrl: httpsUrl.optional(),
  })
  .strict();

export type LlmCredentialInput = z.infer<typeof llmCredentialInputSchema>;

const aad = (tenantId: string, provider: string) => `llm:${tenantId}:${provider}`;

export function llmCredentialView(c: TenantLlmCredential) {
  return { provider: c.provider, baseUrl: c.baseUrl, apiKey: `••••${c.keyHint}`, updatedAt: c.updatedAt.toISOString() };
}

/** Stores (or replaces) the tenant's credential for a provider. `allowHttp`: tests with a local fake only. */
export async function setLlmCredential(
  tdb: TenantDb,
  keyring: Keyring,
  tenantId: string,
  provider: LlmProviderName,
  input: LlmCredentialInput,
  options: { allowHttp?: boolean } = {},
): Promise<TenantLlmCredential> {
  const parsed = options.allowHttp ? llmCredentialInputSchema.extend({ baseUrl: z.string().url().optional() }).parse(input) : llmCredentialInputSchema.parse(input);
  const e = encryptSecret(keyring, parsed.apiKey, aad(tenantId, provider));
  const data = {
    baseUrl: parsed.baseUrl ?? null,
    ciphertext: Buffer.from(e.ciphertext),
    iv: Buffer.from(e.iv),
    authTag: Buffer.from(e.authTag),
    keyId: e.keyId,
    keyHint: parsed.apiKey.slice(-4),
  };
  return tdb.tenantLlmCredential.upsert({
    where: { tenantId_provider: { tenantId, provider } },
    create: { tenantId, provider, ...data },
    update: data,
  });
}

export function llmCredentialKey(keyring: Keyring, c: TenantLlmCredential): string {
  return decryptSecret(keyring, { ciphertext: c.ciphertext, iv: c.iv, authTag: c.authTag, keyId: c.keyId }, aad(c.tenantId, c.provider));
}

/** Re-encrypts every tenant provider key not under the current key (`npm run secrets:rotate`). */
export function rotateLlmCredentials(db: Db, keyring: Keyring): Promise<RotationResult> {
  return reencryptRows(keyring, {
    count: async (current) => ({ total: await db.tenantLlmCredential.count(), alreadyCurrent: await db.tenantLlmCredential.count({ where: { keyId: current } }) }),
    page: (current, after, take) =>
      db.tenantLlmCredential.findMany({ where: { keyId: { not: current }, ...(after ? { id: { gt: after } } : {}) }, orderBy: { id: 'asc' }, take }),
    reseal: async (c) => {
      const e = encryptSecret(keyring, llmCredentialKey(keyring, c), aad(c.tenantId, c.provider));
      const { count } = await db.tenantLlmCredential.updateMany({
        where: { id: c.id, keyId: c.keyId, iv: c.iv },
        data: { ciphertext: Buffer.from(e.ciphertext), iv: Buffer.from(e.iv), authTag: Buffer.from(e.authTag), keyId: e.keyId },
      });
      return count > 0;
    },
  });
}
