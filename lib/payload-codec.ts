// Temporal payload encryption. Everything the platform hands to Temporal as a payload (workflow
// and activity arguments and results, signals, updates, queries, memos, heartbeat details) is
// AES-256-GCM ciphertext under the current key of SECRETS_KEYS before it leaves the process, so
// Temporal's database, its Web UI and anyone reading its frontend see no message text, phone
// number or tool argument. Workflow ids, search attributes and failure messages are not payloads
// and stay readable: they must carry no end-user content (see README, "Security and data decisions").
//
// An encrypted payload: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`,
// `encryption-cipher: AES256GCM`; data = 12-byte IV ‖ ciphertext ‖ 16-byte tag of the original
// payload (metadata and data) serialised as a temporal.api.common.v1.Payload. Any key of the
// keyring decrypts what it encrypted, so a rotated key keeps old histories readable while it
// stays in SECRETS_KEYS. Payloads that are not encrypted (histories recorded before the codec,
// a CLI that sent plain JSON) pass through decoding unchanged.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import type { Keyring } from './crypto.ts';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

/** Bound into every tag: a ciphertext made for something else (a channel secret) is no payload. */
const aad = (keyId: string) => Buffer.from(`temporal-payload:${keyId}`, 'utf8');

export function isEncryptedPayload(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && fromUtf8.decode(encoding) === ENCRYPTED_ENCODING;
}

export class EncryptionCodec implements PayloadCodec {
  readonly #keyring: Keyring;

  constructor(keyring: Keyring) {
    if (!keyring[0]) throw new Error('SECRETS_KEYS has no key');
    this.#keyring = keyring;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncryptedPayload(payload) ? this.decrypt(payload) : payload));
  }

  encrypt(payload: Payload): Payload {
    const { id, key } = this.#keyring[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(id));
    const plaintext = PayloadMessage.encode(payload).finish();
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(id),
        [CIPHER_METADATA]: utf8.encode(CIPHER),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  decrypt(payload: Payload): Payload {
    const rawKeyId = payload.metadata?.[KEY_ID_METADATA];
    const keyId = rawKeyId ? fromUtf8.decode(rawKeyId) : undefined;
    if (!keyId) throw new PayloadDecryptionError(`encrypted payload without "${KEY_ID_METADATA}"`);
    const entry = this.#keyring.find((k) => k.id === keyId);
    if (!entry) throw new PayloadDecryptionError(`payload encrypted with key "${keyId}", which SECRETS_KEYS does not hold`);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`payload encrypted with key "${keyId}" is truncated`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, data.subarray(0, IV_BYTES));
      decipher.setAAD(aad(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      const decoded = PayloadMessage.decode(plaintext);
      return { metadata: { ...decoded.metadata }, data: decoded.data };
    } catch {
      throw new PayloadDecryptionError(`payload does not decrypt with key "${keyId}"`);
    }
  }
}
