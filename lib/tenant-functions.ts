// Tenants' own functions the assistant may call: validation of what a tenant registers, and the
// data access the API routes and the tool activity share. The signing secret is stored as
// AES-256-GCM ciphertext bound to the row (AAD `function:{id}`) and never returned.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { TenantFunction } from '../generated/prisma/client.ts';
import { openSecretColumns, reencryptRows, sealSecretColumns, type Keyring, type RotationResult } from './crypto.ts';
import type { TenantDb } from './tenant-db.ts';
import type { Db } from './db.ts';
import { tenantUrl } from './tenant-urls.ts';

/** Functions per tenant: each one is described to the model on every call. */
export const MAX_FUNCTIONS_PER_TENANT = 50;

/** Names the platform's built-in tools use; a tenant function cannot take them. */
export const BUILTIN_FUNCTION_NAMES = ['request_human', 'search_knowledge', 'offer_choices', 'send_file'] as const;

// `type: "object"` is in the schema itself, so the OpenAPI document says it (a refine would not).
const jsonSchemaObject = z
  .looseObject({ type: z.literal('object', { error: 'must be a JSON Schema with "type": "object"' }) })
  .refine((s) => {
    try {
      z.fromJSONSchema(s as Parameters<typeof z.fromJSONSchema>[0]);
      return true;
    } catch {
      return false;
    }
  }, 'is not a JSON Schema the platform can validate arguments with')
  .refine((s) => JSON.stringify(s).length <= 16_384, 'must be at most 16 KiB as JSON');

// Endpoint URLs are checked by lib/tenant-urls.ts (as written here, and at connect time).
export { httpsUrl, isInternalHost, tenantUrl } from './tenant-urls.ts';

export function functionSchemas(allowInsecure: boolean) {
  const input = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'letters, digits, "_" and "-", starting with a letter, at most 64')
      .refine((n) => !(BUILTIN_FUNCTION_NAMES as readonly string[]).includes(n), 'is the name of a built-in tool'),
    description: z.string().min(1).max(1024),
    parameters: jsonSchemaObject,
    endpoint: tenantUrl(allowInsecure),
    /** Signs every call (HMAC-SHA256); write-only. */
    secret: z.string().min(16).max(256),
    timeoutMs: z.number().int().min(500).max(30_000).default(10_000),
    enabled: z.boolean().default(true),
  })
  .strict();
  return { input, patch: input.omit({ name: true }).partial().strict() };
}

export const { input: functionInputSchema, patch: functionPatchSchema } = functionSchemas(false);

export type FunctionInput = z.input<typeof functionInputSchema>;

/** What the API shows of a function (never the secret). */
export function functionView(f: TenantFunction) {
  return {
    id: f.id,
    name: f.name,
    description: f.description,
    parameters: f.parameters as Record<string, unknown>,
    endpoint: f.endpoint,
    timeoutMs: f.timeoutMs,
    enabled: f.enabled,
    createdAt: f.createdAt.toISOString(),
    updatedAt: f.updatedAt.toISOString(),
  };
}

function encrypted(keyring: Keyring, id: string, secret: string) {
  return sealSecretColumns(keyring, secret, `function:${id}`);
}

/** Creates a function; `allowHttp`: see tenantUrl. */
export async function createTenantFunction(tdb: TenantDb, keyring: Keyring, input: FunctionInput, options: { allowHttp?: boolean } = {}): Promise<TenantFunction> {
  const f = functionSchemas(options.allowHttp ?? false).input.parse(input);
  const id = randomUUID();
  return tdb.tenantFunction.create({
    data: {
      id,
      name: f.name,
      description: f.description,
      parameters: f.parameters as object,
      endpoint: f.endpoint,
      timeoutMs: f.timeoutMs,
      enabled: f.enabled,
      ...encrypted(keyring, id, f.secret),
    } as never,
  });
}

export async function updateTenantFunction(tdb: TenantDb, keyring: Keyring, id: string, patch: z.infer<typeof functionPatchSchema>): Promise<TenantFunction> {
  const { secret, parameters, ...rest } = patch;
  return tdb.tenantFunction.update({
    where: { id },
    data: { ...rest, ...(parameters && { parameters: parameters as object }), ...(secret && encrypted(keyring, id, secret)) },
  });
}

export function functionSecret(keyring: Keyring, f: TenantFunction): string {
  return openSecretColumns(keyring, f, `function:${f.id}`);
}

/** Re-encrypts every function signing secret not under the current key (`npm run secrets:rotate`). */
export function rotateFunctionSecrets(db: Db, keyring: Keyring): Promise<RotationResult> {
  return reencryptRows(keyring, {
    count: async (current) => ({ total: await db.tenantFunction.count(), alreadyCurrent: await db.tenantFunction.count({ where: { secretKeyId: current } }) }),
    page: (current, after, take) =>
      db.tenantFunction.findMany({ where: { secretKeyId: { not: current }, ...(after ? { id: { gt: after } } : {}) }, orderBy: { id: 'asc' }, take }),
    reseal: async (f) => {
      const secret = functionSecret(keyring, f);
      const { count } = await db.tenantFunction.updateMany({ where: { id: f.id, secretKeyId: f.secretKeyId, secretIv: f.secretIv }, data: encrypted(keyring, f.id, secret) });
      return count > 0;
    },
  });
}
