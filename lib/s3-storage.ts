// Document files in an S3 bucket (AWS S3 or an S3-compatible server such as MinIO or Ceph), for
// deployments where the API and the workers run on machines that share no folder. Same contract
// as the local folder (lib/storage.ts): one object per key under the tenant's `{tenantId}/`
// prefix, a write replaces the whole object at once (S3 never shows a half-written PutObject),
// writing or deleting again is harmless, a missing key reads as StoredFileNotFoundError.
// Credentials come from the AWS SDK's default provider chain (environment, shared files, IAM
// role); nothing here sees or logs them.
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import type { Config } from './config.ts';
import type { DocumentStorage } from './storage.ts';
import { checkedTenantPart, keyParts, storageKey, StoredFileNotFoundError } from './storage-keys.ts';

export type S3StorageConfig = Pick<
  Config,
  | 'S3_BUCKET'
  | 'S3_REGION'
  | 'S3_ENDPOINT'
  | 'S3_FORCE_PATH_STYLE'
  | 'S3_SERVER_SIDE_ENCRYPTION'
  | 'S3_SSE_KMS_KEY_ID'
  | 'S3_CONNECT_TIMEOUT_MS'
  | 'S3_REQUEST_TIMEOUT_MS'
  | 'S3_MAX_ATTEMPTS'
>;

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

export class S3DocumentStorage implements DocumentStorage {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly encryption: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };

  constructor(config: S3StorageConfig) {
    if (!config.S3_BUCKET || !config.S3_REGION) throw new Error('S3 document storage needs S3_BUCKET and S3_REGION');
    this.bucket = config.S3_BUCKET;
    this.client = new S3Client({
      region: config.S3_REGION,
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      // The SDK's standard retry (exponential backoff with jitter, throttling-aware) with an
      // explicit attempt count; the activities calling this retry on top, per their own policy.
      maxAttempts: config.S3_MAX_ATTEMPTS,
      retryMode: 'standard',
      // Without these a hung connection would hold an upload or an activity until its own
      // deadline; the SDK only warns about a request timeout unless told to fail it.
      requestHandler: { connectionTimeout: config.S3_CONNECT_TIMEOUT_MS, requestTimeout: config.S3_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
    });
    this.encryption = {
      ...(config.S3_SERVER_SIDE_ENCRYPTION ? { ServerSideEncryption: config.S3_SERVER_SIDE_ENCRYPTION } : {}),
      ...(config.S3_SSE_KMS_KEY_ID ? { SSEKMSKeyId: config.S3_SSE_KMS_KEY_ID } : {}),
    };
  }

  async put(tenantId: string, name: string, bytes: Uint8Array): Promise<string> {
    const key = storageKey(tenantId, name);
    // One PutObject (up to 5 GiB, which DOCUMENT_MAX_BYTES is checked against at start-up): the
    // object appears whole or not at all, and a retried write replaces it with the same bytes.
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: 'application/octet-stream', ...this.encryption }),
    );
    return key;
  }

  async get(key: string): Promise<Buffer> {
    keyParts(key);
    let response;
    try {
      response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (err instanceof NoSuchKey) throw new StoredFileNotFoundError(key);
      throw err;
    }
    if (!response.Body) throw new StoredFileNotFoundError(key);
    // Read as a stream, checked against the announced length: a connection cut mid-body is an
    // error (the caller's retry reads again), never a silently truncated document.
    const chunks: Uint8Array[] = [];
    let received = 0;
    for await (const chunk of response.Body as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      received += chunk.byteLength;
    }
    if (response.ContentLength !== undefined && received !== response.ContentLength) {
      throw new Error(`read ${received} of the ${response.ContentLength} bytes stored under ${JSON.stringify(key)}`);
    }
    return Buffer.concat(chunks, received);
  }

  async delete(key: string): Promise<void> {
    keyParts(key);
    // S3 answers a delete of a missing key with success, as the local folder does.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async deleteTenant(tenantId: string): Promise<void> {
    const prefix = `${checkedTenantPart(tenantId)}/`;
    // Lists from the start each round: what a round deleted is gone, so no continuation token
    // can point past objects written meanwhile; the loop ends when the prefix is empty.
    for (;;) {
      const listed = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: DELETE_BATCH }));
      const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length === 0) return;
      const deleted = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
      const failed = deleted.Errors ?? [];
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} of tenant ${tenantId}'s stored files (${failed[0]?.Code ?? 'unknown error'})`);
    }
  }
}
