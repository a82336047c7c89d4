// Where uploaded documents' original bytes live, behind an interface so that an object store can
// replace the local folder without touching callers. Keys are opaque strings made here
// (`{tenantId}/{documentId}`, lib/storage-keys.ts), stored on the document row; the ingestion
// workflow reads the bytes back by key, so API and workers must share the storage: one folder on
// one machine, a shared volume in docker-compose, or an S3 bucket (lib/s3-storage.ts) chosen by
// DOCUMENT_STORAGE=s3.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Config } from './config.ts';
import { S3DocumentStorage, type S3StorageConfig } from './s3-storage.ts';
import { checkedTenantPart, keyParts, storageKey, StoredFileNotFoundError } from './storage-keys.ts';

export { StoredFileNotFoundError } from './storage-keys.ts';

export interface DocumentStorage {
  /** Stores bytes for a document (replacing any earlier ones under the same key, whole); returns the key. */
  put(tenantId: string, name: string, bytes: Uint8Array): Promise<string>;
  /** The bytes under a key; StoredFileNotFoundError (code `ENOENT`) when it holds none. */
  get(key: string): Promise<Buffer>;
  /** Removes a key; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every file stored for the tenant (its deletion); none left is not an error. */
  deleteTenant(tenantId: string): Promise<void>;
}

/** One folder per tenant under `root`. Writes go to a temporary file, then rename (atomic). */
export class LocalDocumentStorage implements DocumentStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const full = resolve(this.root, ...keyParts(key));
    if (!full.startsWith(this.root + sep)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return full;
  }

  async put(tenantId: string, name: string, bytes: Uint8Array): Promise<string> {
    const key = storageKey(tenantId, name);
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    // Unique per write, so that concurrent writes of one key never share a temporary file.
    const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    return key;
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoredFileNotFoundError(key);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async deleteTenant(tenantId: string): Promise<void> {
    await rm(resolve(this.root, checkedTenantPart(tenantId)), { recursive: true, force: true });
  }
}

export function createDocumentStorage(config: Pick<Config, 'DOCUMENT_STORAGE' | 'DOCUMENT_STORAGE_DIR'> & S3StorageConfig): DocumentStorage {
  return config.DOCUMENT_STORAGE === 's3' ? new S3DocumentStorage(config) : new LocalDocumentStorage(config.DOCUMENT_STORAGE_DIR);
}
