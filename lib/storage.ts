// Where uploaded documents' original bytes live, behind an interface so that an object store
// (S3, GCS) can replace the local folder without touching callers. Keys are opaque strings made
// here (`{tenantId}/{documentId}`), stored on the document row; the ingestion workflow reads
// the bytes back by key, so API and workers must share the storage (one folder on one machine,
// a shared volume in docker-compose, or an object store).
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Config } from './config.ts';

export interface DocumentStorage {
  /** Stores bytes for a document (replacing any earlier ones under the same key); returns the key. */
  put(tenantId: string, name: string, bytes: Uint8Array): Promise<string>;
  get(key: string): Promise<Buffer>;
  /** Removes a key; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every file stored for the tenant (its deletion); none left is not an error. */
  deleteTenant(tenantId: string): Promise<void>;
}

const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** One folder per tenant under `root`. Writes go to a temporary file, then rename (atomic). */
export class LocalDocumentStorage implements DocumentStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const parts = key.split('/');
    if (parts.length !== 2 || !parts.every((p) => SAFE_PART.test(p))) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    const full = resolve(this.root, ...parts);
    if (!full.startsWith(this.root + sep)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return full;
  }

  async put(tenantId: string, name: string, bytes: Uint8Array): Promise<string> {
    const key = `${tenantId}/${name}`;
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    return key;
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.path(key));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async deleteTenant(tenantId: string): Promise<void> {
    if (!SAFE_PART.test(tenantId)) throw new Error(`invalid tenant id ${JSON.stringify(tenantId)}`);
    await rm(resolve(this.root, tenantId), { recursive: true, force: true });
  }
}

export function createDocumentStorage(config: Pick<Config, 'DOCUMENT_STORAGE_DIR'>): DocumentStorage {
  return new LocalDocumentStorage(config.DOCUMENT_STORAGE_DIR);
}

