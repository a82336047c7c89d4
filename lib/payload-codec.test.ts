import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EncryptionCodec, ENCRYPTED_ENCODING, PayloadDecryptionError } from './payload-codec.ts';

const entry = (id: string) => ({ id, key: randomBytes(32) });
const text = (v: Uint8Array | null | undefined) => Buffer.from(v ?? []).toString('utf8');

describe('EncryptionCodec', () => {
  const k1 = entry('k1');
  const k2 = entry('k2');
  const message = { text: 'My phone is +4915112345678, where is my order?', phone: '4915112345678' };
  const plain = defaultPayloadConverter.toPayload(message);

  it('encrypts every payload under the current key, with the key id and a fresh IV', async () => {
    const codec = new EncryptionCodec([k1]);
    const [a, b] = await codec.encode([plain, plain]);
    for (const p of [a!, b!]) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.['encryption-key-id'])).toBe('k1');
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', 'encryption-cipher', 'encryption-key-id']);
      expect(text(p.data)).not.toContain('4915112345678');
      expect(text(p.data)).not.toContain('json/plain');
    }
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
  });

  it('decodes to the original payload, metadata included', async () => {
    const codec = new EncryptionCodec([k1]);
    const withMeta: Payload = { ...plain, metadata: { ...plain.metadata, messageType: new TextEncoder().encode('x') } };
    const [decoded] = await codec.decode(await codec.encode([withMeta]));
    expect(text(decoded!.metadata?.encoding)).toBe('json/plain');
    expect(text(decoded!.metadata?.messageType)).toBe('x');
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(message);
  });

  it('decrypts with older keys after a rotation, and names a key it no longer holds', async () => {
    const before = await new EncryptionCodec([k1]).encode([plain]);
    const rotated = new EncryptionCodec([k2, k1]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode(before))[0]!)).toEqual(message);
    expect(text((await rotated.encode([plain]))[0]!.metadata?.['encryption-key-id'])).toBe('k2');
    await expect(new EncryptionCodec([k2]).decode(before)).rejects.toThrow(new PayloadDecryptionError('payload encrypted with key "k1", which SECRETS_KEYS does not hold'));
  });

  it('refuses a tampered payload or one under the same id but another key', async () => {
    const [sealed] = await new EncryptionCodec([k1]).encode([plain]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20]! ^= 1;
    await expect(new EncryptionCodec([k1]).decode([{ ...sealed, data: flipped }])).rejects.toThrow(/does not decrypt with key "k1"/);
    await expect(new EncryptionCodec([entry('k1')]).decode([sealed!])).rejects.toThrow(PayloadDecryptionError);
    await expect(new EncryptionCodec([k1]).decode([{ ...sealed, data: flipped.subarray(0, 10) }])).rejects.toThrow(/truncated/);
  });

  it('passes through payloads that are not encrypted (histories recorded before the codec)', async () => {
    const codec = new EncryptionCodec([k1]);
    const binaryNull = defaultPayloadConverter.toPayload(undefined);
    expect(await codec.decode([plain, binaryNull])).toEqual([plain, binaryNull]);
  });
});
