// The keys of stored document files, shared by every storage backend (lib/storage.ts): a key is
// `{tenantId}/{name}`, two safe parts, so that no key can leave its tenant's prefix (no `..`, no
// extra `/`, no leading dot), whether it names a path in a folder or an object in a bucket.
const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The two parts of a valid key; throws on anything else. */
export function keyParts(key: string): [tenantId: string, name: string] {
  const parts = key.split('/');
  if (parts.length !== 2 || !parts.every((p) => SAFE_PART.test(p))) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
  return parts as [string, string];
}

export function storageKey(tenantId: string, name: string): string {
  const key = `${tenantId}/${name}`;
  keyParts(key);
  return key;
}

export function checkedTenantPart(tenantId: string): string {
  if (!SAFE_PART.test(tenantId)) throw new Error(`invalid tenant id ${JSON.stringify(tenantId)}`);
  return tenantId;
}

/**
 * What every backend throws for a key that holds nothing. It carries `code: 'ENOENT'`, as the
 * local folder's read error always did, so callers test one thing whatever the backend.
 */
export class StoredFileNotFoundError extends Error {
  readonly code = 'ENOENT';

  constructor(readonly key: string) {
    super(`no stored file under ${JSON.stringify(key)}`);
    this.name = 'StoredFileNotFoundError';
  }
}
