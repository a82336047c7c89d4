// The tenant-scoped data layer. `forTenant(db, tenantId)` returns a Prisma client whose every
// operation on a tenant-owned model (every model with a `tenantId` column, found from Prisma's
// runtime data model, so a new model is covered without touching this file) is scoped to that
// tenant: `tenantId` is added to `where` of reads, updates, deletes, counts, aggregates and
// groupBys (findUnique/update/delete by id included: Prisma allows extra non-unique filters in
// a unique `where`), and stamped into `data` of creates and upserts. The `Tenant` model itself is
// scoped by `id` (read and update of the own row only). Anything that cannot be scoped is
// refused with TenantScopeError: raw SQL, platform-wide models, a `tenantId` anywhere in the
// arguments that names another tenant, or a `tenant` relation write.
//
// Callers must use the "unchecked" input shape (scalar foreign keys such as `channelId`, not
// `channel: { connect }`), since the stamped `tenantId` is a scalar; nested relation writes
// (`secrets: { create: … }`) are refused, because their rows would not be stamped.
//
// Decision — Postgres row-level security: NOT added (for now).
// RLS as defence in depth needs the tenant id on the connection (`SET LOCAL app.tenant_id`)
// for every statement. With a shared pg pool behind Prisma that means wrapping every scoped
// operation in an interactive transaction (BEGIN; set_config(...); query; COMMIT): two extra
// round trips and a held connection per query, and batch/nested transactions that Prisma
// cannot nest. A `SET` outside a transaction would leak to the next borrower of the pooled
// connection, which is worse than no RLS. Worker activities and webhooks legitimately read
// across tenants (they find the tenant from the channel) and would need a BYPASSRLS role or a
// second pool. The isolation guarantee instead comes from: one code path for tenant data (this
// extension, so no handler writes a `where tenantId` by hand), handlers only ever receiving
// `request.tenantDb`, raw SQL refused on the scoped client, and an isolation test suite that
// tries every id of one tenant with another tenant's key. If the platform moves to per-request
// transactions anyway (or to a pooler in transaction mode with a session variable per tx),
// RLS policies `USING (tenant_id = current_setting('app.tenant_id')::uuid)` can be added in a
// migration without changing callers.
import type { Db } from './db.ts';

export class TenantScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TenantScopeError';
  }
}

const READ_OR_FILTER = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'delete',
  'deleteMany',
]);
const CREATE = new Set(['create', 'createMany', 'createManyAndReturn']);
/** Operations on the own Tenant row through the scoped client. */
const TENANT_ROW_OPERATIONS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'update']);

type Args = Record<string, unknown>;

type DataModel = Record<string, { fields: readonly { name: string; kind: string }[] }>;

/**
 * The generated client's runtime data model (the DMMF subset Prisma 7 ships in the client; the
 * `prisma-client` generator no longer exports `Prisma.dmmf`). Fails loudly if a Prisma upgrade
 * moves it, rather than silently scoping nothing.
 */
function dataModel(db: Db): DataModel {
  const models = (db as unknown as { _runtimeDataModel?: { models?: DataModel } })._runtimeDataModel?.models;
  if (!models || !models.Tenant) throw new Error('Prisma runtime data model not found: tenant scoping cannot be derived');
  return models;
}

/** Model names (PascalCase, as the query extension reports them) that carry a tenantId column. */
export function tenantOwnedModels(db: Db): Set<string> {
  const models = dataModel(db);
  return new Set(
    Object.entries(models)
      .filter(([, model]) => model.fields.some((f) => f.name === 'tenantId' && f.kind === 'scalar'))
      .map(([name]) => name),
  );
}

/** Throws if any `tenantId` in the arguments names another tenant, or a relation write targets a tenant. */
function assertNoForeignTenant(value: unknown, tenantId: string, path: string): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoForeignTenant(v, tenantId, `${path}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Uint8Array) return;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'tenantId' && v !== undefined && v !== tenantId) {
      throw new TenantScopeError(`${path}.tenantId names another tenant (or is not a plain id)`);
    }
    assertNoForeignTenant(v, tenantId, `${path}.${key}`);
  }
}

function scopedWhere(where: unknown, field: 'tenantId' | 'id', tenantId: string): Args {
  const base = (where ?? {}) as Args;
  if (field in base && base[field] !== tenantId) {
    throw new TenantScopeError(`where.${field} names another tenant`);
  }
  return { ...base, [field]: tenantId };
}

/** Relation fields by model: writes through them would create or link rows this layer does not stamp. */
type Relations = Map<string, Set<string>>;

function relationFields(db: Db): Relations {
  const models = dataModel(db);
  return new Map(Object.entries(models).map(([name, m]) => [name, new Set(m.fields.filter((f) => f.kind === 'object').map((f) => f.name))]));
}

function assertNoRelationWrites(relations: Set<string>, data: unknown, path: string): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return;
  for (const key of Object.keys(data)) {
    if (relations.has(key)) {
      throw new TenantScopeError(`${path}.${key}: relation writes are not scoped; use scalar ids and write each model through the scoped client`);
    }
  }
}

function stampData(relations: Set<string>, data: unknown, tenantId: string): Args {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TenantScopeError('data must be an object');
  }
  assertNoRelationWrites(relations, data, 'data');
  return { ...(data as Args), tenantId };
}

function scopeTenantOwned(relations: Set<string>, operation: string, args: Args, tenantId: string): Args {
  assertNoForeignTenant(args, tenantId, 'args');
  if (READ_OR_FILTER.has(operation)) {
    if (operation.startsWith('update')) assertNoRelationWrites(relations, args.data, 'data');
    return { ...args, where: scopedWhere(args.where, 'tenantId', tenantId) };
  }
  if (CREATE.has(operation)) {
    const data = args.data;
    return { ...args, data: Array.isArray(data) ? data.map((d) => stampData(relations, d, tenantId)) : stampData(relations, data, tenantId) };
  }
  if (operation === 'upsert') {
    assertNoRelationWrites(relations, args.update, 'update');
    return {
      ...args,
      where: scopedWhere(args.where, 'tenantId', tenantId),
      create: stampData(relations, args.create, tenantId),
    };
  }
  throw new TenantScopeError(`operation ${operation} cannot be scoped to a tenant`);
}

function scopeTenantRow(relations: Set<string>, operation: string, args: Args, tenantId: string): Args {
  if (!TENANT_ROW_OPERATIONS.has(operation)) {
    throw new TenantScopeError(`Tenant.${operation} is not allowed on a tenant-scoped client`);
  }
  const scoped: Args = { ...args, where: scopedWhere(args.where, 'id', tenantId) };
  if (operation === 'update') {
    const data = (args.data ?? {}) as Args;
    if ('id' in data || 'slug' in data) throw new TenantScopeError('a tenant cannot change its own id or slug');
    assertNoRelationWrites(relations, data, 'data');
  }
  return scoped;
}

/**
 * The scoped client's type: the plain client without raw SQL (query extensions do not change
 * model types; raw SQL also throws at run time, inside transactions too).
 */
export type TenantDb = Omit<Db, '$queryRaw' | '$executeRaw' | '$queryRawUnsafe' | '$executeRawUnsafe' | '$extends' | '$connect' | '$disconnect'>;

/**
 * Create data for the scoped client, typed without `tenantId` (the scope stamps it):
 * `tdb.apiKey.create({ data: tenantData<Prisma.ApiKeyUncheckedCreateInput>({ name, … }) })`.
 */
export function tenantData<T extends { tenantId?: unknown }>(data: Omit<T, 'tenantId'>): T {
  return data as T;
}

/** The data-model facts per client, derived once (forTenant runs per request). */
const shapes = new WeakMap<Db, { owned: Set<string>; relations: Relations }>();

/** A client that can only see and change the data of `tenantId` (see the file comment). */
export function forTenant(db: Db, tenantId: string): TenantDb {
  if (!tenantId) throw new TenantScopeError('tenantId is required');
  let shape = shapes.get(db);
  if (!shape) {
    shape = { owned: tenantOwnedModels(db), relations: relationFields(db) };
    shapes.set(db, shape);
  }
  const { owned, relations } = shape;
  const scoped = db.$extends({
    name: `tenant:${tenantId}`,
    query: {
      async $allOperations({ model, operation, args, query }) {
        if (!model) throw new TenantScopeError(`${operation} is not allowed on a tenant-scoped client (raw SQL cannot be scoped)`);
        const input = (args ?? {}) as Args;
        const rel = relations.get(model) ?? new Set<string>();
        if (owned.has(model)) return query(scopeTenantOwned(rel, operation, input, tenantId) as typeof args);
        if (model === 'Tenant') return query(scopeTenantRow(rel, operation, input, tenantId) as typeof args);
        throw new TenantScopeError(`${model} is platform-wide and not available on a tenant-scoped client`);
      },
    },
  });
  return scoped as unknown as TenantDb;
}
