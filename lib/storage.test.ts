// The document storage contract (lib/storage.ts), run against both backends: the local folder and
// S3, on a real S3-compatible server (moto, test/support/s3-server.ts). Whatever a caller may rely
// on — whole writes, harmless retries of writes and deletes, one error for a missing key, keys that
// cannot leave their tenant's prefix, a tenant's deletion — holds for each.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../test/support/s3-server.ts';
import { testConfig } from '../test/support/config.ts';
import { createDocumentStorage, LocalDocumentStorage, StoredFileNotFoundError, type DocumentStorage } from './storage.ts';
import { S3DocumentStorage } from './s3-storage.ts';

let s3: S3Server;
let dir: string;

beforeAll(async () => {
  [s3, dir] = await Promise.all([startS3Server(), mkdtemp(join(tmpdir(), 'metachat-storage-'))]);
});
afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const backends: [string, () => DocumentStorage][] = [
  ['local folder', () => createDocumentStorage(testConfig({ DOCUMENT_STORAGE_DIR: dir }))],
  ['S3', () => createDocumentStorage(testConfig(s3.env))],
];

describe.each(backends)('document storage: %s', (name, make) => {
  let storage: DocumentStorage;
  beforeAll(() => {
    storage = make();
    expect(storage).toBeInstanceOf(name === 'S3' ? S3DocumentStorage : LocalDocumentStorage);
  });

  it('stores bytes under the tenant and reads them back whole, binary and large ones too', async () => {
    const tenantId = randomUUID();
    const small = Buffer.from('Opening hours: 9 to 5\n', 'utf8');
    const large = randomBytes(6 * 1024 * 1024 + 17);
    const smallKey = await storage.put(tenantId, 'doc-1', small);
    const largeKey = await storage.put(tenantId, 'doc-2.chunks.json', large);
    expect(smallKey).toBe(`${tenantId}/doc-1`);
    expect(largeKey).toBe(`${tenantId}/doc-2.chunks.json`);
    expect((await storage.get(smallKey)).equals(small)).toBe(true);
    expect((await storage.get(largeKey)).equals(large)).toBe(true);
  });

  it('replaces a key whole: a retried write is harmless, and concurrent writes leave one of them, never a mix', async () => {
    const tenantId = randomUUID();
    const key = await storage.put(tenantId, 'doc', Buffer.from('first'));
    expect(await storage.put(tenantId, 'doc', Buffer.from('second'))).toBe(key);
    expect(await storage.put(tenantId, 'doc', Buffer.from('second'))).toBe(key);
    expect((await storage.get(key)).toString()).toBe('second');

    const versions = ['a', 'b', 'c', 'd'].map((c) => Buffer.alloc(512 * 1024, c));
    await Promise.all(versions.map((v) => storage.put(tenantId, 'raced', v)));
    const stored = await storage.get(`${tenantId}/raced`);
    expect(versions.some((v) => v.equals(stored))).toBe(true);
  });

  it('answers a missing key with StoredFileNotFoundError (code ENOENT), before and after a delete', async () => {
    const tenantId = randomUUID();
    const missing = storage.get(`${tenantId}/never-written`);
    await expect(missing).rejects.toBeInstanceOf(StoredFileNotFoundError);
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT', key: `${tenantId}/never-written` });

    const key = await storage.put(tenantId, 'doc', Buffer.from('bytes'));
    await storage.delete(key);
    await expect(storage.get(key)).rejects.toMatchObject({ code: 'ENOENT' });
    // A retried delete, and a delete of a key never written, succeed.
    await storage.delete(key);
    await storage.delete(`${tenantId}/never-written`);
  });

  it("deletes every file of a tenant and nobody else's; deleting again is harmless", async () => {
    const [gone, kept] = [randomUUID(), randomUUID()];
    const names = Array.from({ length: 25 }, (_, i) => `doc-${i}`);
    await Promise.all(names.map((n) => storage.put(gone, n, Buffer.from(n))));
    const keptKey = await storage.put(kept, 'doc-0', Buffer.from('kept'));

    await storage.deleteTenant(gone);
    for (const n of names) await expect(storage.get(`${gone}/${n}`)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await storage.get(keptKey)).toString()).toBe('kept');
    await storage.deleteTenant(gone);
    await storage.deleteTenant(randomUUID());
  });

  it("refuses keys that would leave the tenant's prefix, and writes nothing for them", async () => {
    const tenantId = randomUUID();
    const other = randomUUID();
    await storage.put(other, 'doc', Buffer.from('other tenant'));
    for (const name of ['../x', `../${other}/doc`, 'a/b', '.hidden', '', 'x'.repeat(200)]) {
      await expect(storage.put(tenantId, name, Buffer.from('x')), name).rejects.toThrow(/invalid storage key/);
    }
    for (const key of [`${tenantId}/../${other}/doc`, `${tenantId}`, `${tenantId}/a/b`, `../${other}`, `/${other}/doc`, `${tenantId}/..`]) {
      await expect(storage.get(key), key).rejects.toThrow(/invalid storage key/);
      await expect(storage.delete(key), key).rejects.toThrow(/invalid storage key/);
    }
    for (const id of ['..', '.', '', `${other}/doc`, '*']) await expect(storage.deleteTenant(id), id).rejects.toThrow(/invalid tenant id/);
    expect((await storage.get(`${other}/doc`)).toString()).toBe('other tenant');
  });
});

describe('local folder storage', () => {
  it('writes through a temporary file: no partial file is ever left under the key', async () => {
    const storage = new LocalDocumentStorage(dir);
    const tenantId = randomUUID();
    await storage.put(tenantId, 'doc', randomBytes(1024 * 1024));
    expect(await readdir(join(dir, tenantId))).toEqual(['doc']);
  });
});

describe('S3 storage', () => {
  it("keeps each tenant's files under its own prefix, encrypted at rest as configured", async () => {
    const storage = createDocumentStorage(testConfig(s3.env));
    const tenantId = randomUUID();
    const key = await storage.put(tenantId, 'doc', Buffer.from('encrypted'));
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(head.ContentLength).toBe(9);
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${tenantId}/` }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([`${tenantId}/doc`]);
  });

  it('deletes a tenant with more files than one DeleteObjects request takes', async () => {
    const storage = createDocumentStorage(testConfig(s3.env));
    const tenantId = randomUUID();
    const names = Array.from({ length: 1010 }, (_, i) => `f${i}`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => storage.put(tenantId, n, Buffer.from(n))));
    await storage.deleteTenant(tenantId);
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${tenantId}/` }));
    expect(listed.KeyCount).toBe(0);
  });

  it('gives up on a server that never answers after the configured timeout and attempts', async () => {
    // Accepts connections and never writes a byte back.
    const sockets = new Set<import('node:net').Socket>();
    const silent: Server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    try {
      const storage = createDocumentStorage(
        testConfig({ ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_REQUEST_TIMEOUT_MS: '300', S3_MAX_ATTEMPTS: '2' }),
      );
      const started = Date.now();
      await expect(storage.get(`${randomUUID()}/doc`)).rejects.toThrow();
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(500);
      expect(took).toBeLessThan(10_000);
      expect(sockets.size).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
