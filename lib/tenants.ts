// Tenants and their API keys. A key is shown once, when it is created or rotated; the database
// keeps only its public prefix and the SHA-256 of its secret part (lib/crypto.ts).
import type { Prisma } from '../generated/prisma/client.ts';
import type { ApiKey, ApiKeyScope, Tenant } from '../generated/prisma/client.ts';
import { generateApiKey } from './crypto.ts';
import type { Db } from './db.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';
import { validateStoredSettings } from './tenant-settings.ts';

export interface IssuedApiKey {
  id: string;
  /** The full key, `mcp_<prefix>_<secret>`: returned once, never stored. */
  key: string;
  prefix: string;
  name: string;
  scope: ApiKeyScope;
  /** Scope `agent`: the human agent the key acts as. */
  agentId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface CreateTenantInput {
  name: string;
  slug: string;
  settings?: Record<string, unknown>;
}

export class TenantSlugTakenError extends Error {
  constructor(slug: string) {
    super(`a tenant with slug "${slug}" already exists`);
    this.name = 'TenantSlugTakenError';
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';
}

function issued(row: ApiKey, key: string): IssuedApiKey {
  return { id: row.id, key, prefix: row.prefix, name: row.name, scope: row.scope, agentId: row.agentId, createdAt: row.createdAt, expiresAt: row.expiresAt };
}

/** Creates a tenant and its first API key (scope `tenant`); the key's plaintext is returned once. */
export async function createTenant(db: Db, input: CreateTenantInput): Promise<{ tenant: Tenant; apiKey: IssuedApiKey }> {
  const settings = validateStoredSettings(input.settings ?? {}) as Prisma.InputJsonObject;
  const generated = generateApiKey();
  try {
    return await db.$transaction(async (tx) => {
      const tenant = await tx.tenant.create({ data: { name: input.name, slug: input.slug, settings } });
      const row = await tx.apiKey.create({
        data: { tenantId: tenant.id, name: 'default', prefix: generated.prefix, secretHash: new Uint8Array(generated.secretHash), scope: 'tenant' },
      });
      return { tenant, apiKey: issued(row, generated.key) };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new TenantSlugTakenError(input.slug);
    throw err;
  }
}

/** A tenant already holds as many live keys as API_KEYS_PER_TENANT allows. */
export class ApiKeyLimitError extends Error {
  constructor(readonly limit: number) {
    super(`a tenant may hold at most ${limit} live API keys: revoke one first`);
    this.name = 'ApiKeyLimitError';
  }
}

export interface CreateApiKeyInput {
  name: string;
  scope: ApiKeyScope;
  /** Scope `agent`: the human agent the key acts as (ignored for tenant keys). */
  agentId?: string | null;
  expiresAt?: Date | null;
}

/** Keys neither revoked nor expired at `now`. */
const liveKeys = (now: Date) => ({ revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] });

/**
 * Locks the tenant's row for the transaction, so that counting its live keys and adding one are
 * not raced by a concurrent create or rotation.
 */
async function lockTenantKeys(tx: Pick<TenantDb, 'tenant'>, tenantId: string): Promise<void> {
  await tx.tenant.update({ where: { id: tenantId }, data: { updatedAt: new Date() }, select: { id: true } });
}

/**
 * A new API key for the scoped tenant. With `maxLive`, refuses (ApiKeyLimitError) when the tenant
 * already holds that many live keys; the count and the insert run under a lock on the tenant row.
 */
export async function createApiKey(tdb: TenantDb, input: CreateApiKeyInput, limit?: { tenantId: string; maxLive: number }): Promise<IssuedApiKey> {
  const generated = generateApiKey();
  const data = tenantData<Prisma.ApiKeyUncheckedCreateInput>({
    name: input.name,
    scope: input.scope,
    agentId: input.scope === 'agent' ? (input.agentId ?? null) : null,
    prefix: generated.prefix,
    secretHash: new Uint8Array(generated.secretHash),
    expiresAt: input.expiresAt ?? null,
  });
  if (!limit) return issued(await tdb.apiKey.create({ data }), generated.key);
  return tdb.$transaction(async (tx) => {
    await lockTenantKeys(tx, limit.tenantId);
    if ((await tx.apiKey.count({ where: liveKeys(new Date()) })) >= limit.maxLive) throw new ApiKeyLimitError(limit.maxLive);
    return issued(await tx.apiKey.create({ data }), generated.key);
  });
}

export const DEFAULT_ROTATION_GRACE_SECONDS = 24 * 60 * 60;
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 60 * 60;

/**
 * Rotates a key: a new key with the same name, scope, agent and expiry is returned once (a key
 * due to expire stays due then: rotation replaces the secret, it does not extend the key), and
 * the old key keeps working for `graceSeconds` (0 ends it now). Returns undefined when the key
 * is unknown, revoked or already expired (for this tenant). With `limit`, refuses
 * (ApiKeyLimitError) when the new key would take the tenant's live keys over `maxLive`: the old
 * key counts while its grace period runs, so rotating with no grace (0) never needs a free slot.
 */
export async function rotateApiKey(
  tdb: TenantDb,
  id: string,
  graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS,
  now = new Date(),
  limit?: { tenantId: string; maxLive: number },
): Promise<{ apiKey: IssuedApiKey; previous: { id: string; expiresAt: Date } } | undefined> {
  const graceEnd = new Date(now.getTime() + Math.min(Math.max(graceSeconds, 0), MAX_ROTATION_GRACE_SECONDS) * 1000);
  const generated = generateApiKey();
  return tdb.$transaction(async (tx) => {
    if (limit) await lockTenantKeys(tx, limit.tenantId);
    const old = await tx.apiKey.findFirst({ where: { id, ...liveKeys(now) } });
    if (!old) return undefined;
    // The grace period never extends a key that was due to expire earlier.
    const expiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
    if (limit) {
      const others = await tx.apiKey.count({ where: { ...liveKeys(now), id: { not: old.id } } });
      if (others + 1 + (expiresAt > now ? 1 : 0) > limit.maxLive) throw new ApiKeyLimitError(limit.maxLive);
    }
    await tx.apiKey.update({ where: { id: old.id }, data: { expiresAt } });
    const row = await tx.apiKey.create({
      data: tenantData<Prisma.ApiKeyUncheckedCreateInput>({
        name: old.name,
        scope: old.scope,
        agentId: old.agentId,
        prefix: generated.prefix,
        secretHash: new Uint8Array(generated.secretHash),
        expiresAt: old.expiresAt,
      }),
    });
    return { apiKey: issued(row, generated.key), previous: { id: old.id, expiresAt } };
  });
}

/** Revokes a key at once. Returns false when it is unknown (for this tenant). */
export async function revokeApiKey(tdb: TenantDb, id: string, now = new Date()): Promise<boolean> {
  const { count } = await tdb.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now } });
  if (count > 0) return true;
  return (await tdb.apiKey.count({ where: { id } })) > 0;
}
