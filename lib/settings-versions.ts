// The history of a tenant's settings (table settings_versions): every write of tenants.settings
// goes through `writeSettings`, which bumps the version only if it is still the one the caller
// read (optimistic concurrency) and records the new version, its author and what was stored, in
// the same transaction. A restore is a write of an older version's settings: history only grows.
import type { SettingsAuthorKind, SettingsVersion, Tenant } from '../generated/prisma/client.ts';
import type { TenantDb } from './tenant-db.ts';

export interface SettingsAuthor {
  kind: SettingsAuthorKind;
  /** The API key's or the user's id; none for the platform operator. */
  id?: string;
  /** Who that was, as people know them (the key's name, the user's email). */
  name?: string;
}

/** The version the caller read is no longer current (or never was). */
export class SettingsVersionConflict extends Error {
  constructor(readonly current: number) {
    super(`Settings are at version ${current}`);
    this.name = 'SettingsVersionConflict';
  }
}

/**
 * Replaces the tenant's stored settings, if they are still at `fromVersion`, and records the new
 * version. The version being replaced is recorded too when history has no row for it yet (the
 * settings a tenant was created with, or written before history was kept), so it can be restored.
 */
export async function writeSettings(
  tdb: TenantDb,
  tenantId: string,
  change: { fromVersion: number; settings: Record<string, unknown>; author: SettingsAuthor; restoredFrom?: number },
): Promise<Tenant> {
  return tdb.$transaction(async (tx) => {
    const current = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    if (current.settingsVersion !== change.fromVersion) throw new SettingsVersionConflict(current.settingsVersion);
    // The version in the where makes the write conditional: a concurrent write in between wins
    // (P2025, which the caller reports as a conflict).
    const updated = await tx.tenant.update({
      where: { id: tenantId, settingsVersion: change.fromVersion },
      data: { settings: change.settings as object, settingsVersion: { increment: 1 } },
    });
    await tx.settingsVersion.createMany({
      data: [{ tenantId, version: current.settingsVersion, settings: current.settings as object, authorKind: 'platform' }],
      skipDuplicates: true,
    });
    await tx.settingsVersion.create({
      data: {
        tenantId,
        version: updated.settingsVersion,
        settings: change.settings as object,
        authorKind: change.author.kind,
        authorId: change.author.id ?? null,
        authorName: change.author.name ?? null,
        restoredFrom: change.restoredFrom ?? null,
      },
    });
    return updated;
  });
}

/**
 * The operator's replacement of a tenant's settings (no version to match: the operator does not
 * edit against one), recorded like any write. Retried when a tenant write lands in between.
 */
export async function replaceSettings(tdb: TenantDb, tenantId: string, settings: Record<string, unknown>): Promise<Tenant> {
  for (let attempt = 1; ; attempt++) {
    const { settingsVersion } = await tdb.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { settingsVersion: true } });
    try {
      return await writeSettings(tdb, tenantId, { fromVersion: settingsVersion, settings, author: { kind: 'platform' } });
    } catch (err) {
      const lostRace = err instanceof SettingsVersionConflict || (err as { code?: string }).code === 'P2025';
      if (!lostRace || attempt === 3) throw err;
    }
  }
}

/** The tenant's versions, newest first (`before`: only versions older than it). */
export function listSettingsVersions(tdb: TenantDb, options: { limit: number; before?: number }): Promise<SettingsVersion[]> {
  return tdb.settingsVersion.findMany({
    where: options.before === undefined ? {} : { version: { lt: options.before } },
    orderBy: { version: 'desc' },
    take: options.limit,
  });
}

export function findSettingsVersion(tdb: TenantDb, version: number): Promise<SettingsVersion | null> {
  return tdb.settingsVersion.findFirst({ where: { version } });
}
