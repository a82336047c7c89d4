// Channels of a tenant and their secrets. Public ids (phone_number_id, waba_id, page_id, the
// Instagram account id, the web chat widget id) are columns the webhooks look channels up by; the verify token is only kept
// as its SHA-256 (GET verification finds the channel by it); access tokens and app secrets are
// AES-256-GCM ciphertext in channel_secrets, bound to `${channelId}:${name}` so a ciphertext
// copied to another row does not decrypt. Secrets leave this module only through
// readChannelSecrets (for activities and webhooks) and masked in views.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Channel, ChannelSecret, ChannelStatus, ChannelType, Prisma } from '../generated/prisma/client.ts';
import { decryptSecret, encryptSecret, reencryptRows, sha256, type EncryptedSecret, type Keyring, type RotationResult } from './crypto.ts';
import type { Db } from './db.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';
import { webOriginSchema } from './tenant-settings.ts';

/** Every channel type, in the order the API documents them. */
export const CHANNEL_TYPES = ['whatsapp', 'messenger', 'instagram', 'webchat'] as const satisfies readonly ChannelType[];

/** The secret names per channel type, exactly as stored in channel_secrets.name. */
export const CHANNEL_SECRET_NAMES = {
  whatsapp: ['accessToken', 'appSecret'],
  messenger: ['pageAccessToken', 'appSecret'],
  // The Messenger Platform's Instagram API: the token of the Facebook Page the account is linked to.
  instagram: ['pageAccessToken', 'appSecret'],
  webchat: [],
} as const satisfies Record<ChannelType, readonly string[]>;

const name = z.string().trim().min(1).max(120);
/** Meta's ids are numeric strings. */
const metaId = z.string().regex(/^\d{1,32}$/, 'must be a numeric id as shown by Meta');
const secret = z.string().min(8).max(4096).regex(/^\S+$/, 'must not contain whitespace');
/** Sent to the Graph API in the Authorization header, which holds no character beyond Latin-1: Meta's tokens are visible ASCII. */
const graphToken = z.string().min(8).max(4096).regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters (no whitespace)');
const verifyToken = z.string().min(8).max(256).regex(/^\S+$/, 'must not contain whitespace');

export const whatsappChannelSchema = z
  .object({
    type: z.literal('whatsapp'),
    name,
    phoneNumberId: metaId,
    wabaId: metaId,
    accessToken: graphToken,
    appSecret: secret,
    verifyToken,
  })
  .strict();

export const messengerChannelSchema = z
  .object({
    type: z.literal('messenger'),
    name,
    pageId: metaId,
    pageAccessToken: graphToken,
    appSecret: secret,
    verifyToken,
  })
  .strict();

/**
 * An Instagram professional account, messaged through the Page it is linked to: webhooks name the
 * account (`entry[].id`), replies go to the Page's messages edge with the Page's token.
 */
export const instagramChannelSchema = z
  .object({
    type: z.literal('instagram'),
    name,
    instagramAccountId: metaId,
    pageId: metaId,
    pageAccessToken: graphToken,
    appSecret: secret,
    verifyToken,
  })
  .strict();

export const webchatChannelSchema = z
  .object({
    type: z.literal('webchat'),
    name,
    allowedOrigins: z.array(webOriginSchema).max(50).default([]),
  })
  .strict();

export const createChannelSchema = z.discriminatedUnion('type', [whatsappChannelSchema, messengerChannelSchema, instagramChannelSchema, webchatChannelSchema]);
export type CreateChannelInput = z.input<typeof createChannelSchema>;

/** PATCH: any subset of the type's fields except `type`; a secret given is replaced. */
export const updateChannelSchema = z
  .object({
    name: name.optional(),
    status: z.enum(['active', 'disabled']).optional(),
    phoneNumberId: metaId.optional(),
    wabaId: metaId.optional(),
    pageId: metaId.optional(),
    instagramAccountId: metaId.optional(),
    accessToken: graphToken.optional(),
    pageAccessToken: graphToken.optional(),
    appSecret: secret.optional(),
    verifyToken: verifyToken.optional(),
    allowedOrigins: z.array(webOriginSchema).max(50).optional(),
  })
  .strict();
export type UpdateChannelInput = z.infer<typeof updateChannelSchema>;

/** Which fields each type accepts on update (besides name and status). */
const UPDATABLE: Record<ChannelType, readonly string[]> = {
  whatsapp: ['phoneNumberId', 'wabaId', 'accessToken', 'appSecret', 'verifyToken'],
  messenger: ['pageId', 'pageAccessToken', 'appSecret', 'verifyToken'],
  instagram: ['instagramAccountId', 'pageId', 'pageAccessToken', 'appSecret', 'verifyToken'],
  webchat: ['allowedOrigins'],
};

export class ChannelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelInputError';
  }
}

/** A public id or verify token is already used by another channel (of any tenant). */
export class ChannelConflictError extends Error {
  constructor() {
    super('another channel already uses this phone number id, page id, Instagram account id or verify token');
    this.name = 'ChannelConflictError';
  }
}

/** `••••`: that a secret is set, and nothing of it (not even its last characters). */
export function maskSecret(_value: string): string {
  return '••••';
}

export interface ChannelView {
  id: string;
  type: ChannelType;
  name: string;
  status: ChannelStatus;
  phoneNumberId: string | null;
  wabaId: string | null;
  pageId: string | null;
  instagramAccountId: string | null;
  widgetId: string | null;
  allowedOrigins: string[];
  /** Masked secrets by name; the verify token is never kept, only whether one is set. */
  secrets: Record<string, string>;
  hasVerifyToken: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function aad(channelId: string, secretName: string): string {
  return `${channelId}:${secretName}`;
}

function decrypt(keyring: Keyring, row: Pick<ChannelSecret, 'channelId' | 'name' | 'ciphertext' | 'iv' | 'authTag' | 'keyId'>): string {
  const sealed: EncryptedSecret = { ciphertext: row.ciphertext, iv: row.iv, authTag: row.authTag, keyId: row.keyId };
  return decryptSecret(keyring, sealed, aad(row.channelId, row.name));
}

function sealedColumns(keyring: Keyring, channelId: string, secretName: string, value: string) {
  const sealed = encryptSecret(keyring, value, aad(channelId, secretName));
  return {
    ciphertext: Buffer.from(sealed.ciphertext),
    iv: Buffer.from(sealed.iv),
    authTag: Buffer.from(sealed.authTag),
    keyId: sealed.keyId,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';
}

function allowedOriginsOf(channel: Channel): string[] {
  const config = channel.config as { allowedOrigins?: unknown };
  return Array.isArray(config?.allowedOrigins) ? config.allowedOrigins.filter((o): o is string => typeof o === 'string') : [];
}

export function channelView(keyring: Keyring, channel: Channel, secrets: ChannelSecret[]): ChannelView {
  const masked: Record<string, string> = {};
  for (const row of secrets) {
    try {
      masked[row.name] = maskSecret(decrypt(keyring, row));
    } catch {
      masked[row.name] = '•••• (undecryptable)';
    }
  }
  return {
    id: channel.id,
    type: channel.type,
    name: channel.name,
    status: channel.status,
    phoneNumberId: channel.phoneNumberId,
    wabaId: channel.wabaId,
    pageId: channel.pageId,
    instagramAccountId: channel.instagramAccountId,
    widgetId: channel.widgetId,
    allowedOrigins: allowedOriginsOf(channel),
    secrets: masked,
    hasVerifyToken: channel.verifyTokenHash !== null,
    createdAt: channel.createdAt,
    updatedAt: channel.updatedAt,
  };
}

function newWidgetId(): string {
  return `wc_${randomBytes(12).toString('base64url')}`;
}

/**
 * Creates a channel of the scoped tenant with its secrets, in one transaction (the channel row
 * first: its id is part of each secret's associated data).
 */
export async function createChannel(tdb: TenantDb, keyring: Keyring, input: CreateChannelInput): Promise<ChannelView> {
  const parsed = createChannelSchema.parse(input);
  const columns: Omit<Prisma.ChannelUncheckedCreateInput, 'tenantId'> = { type: parsed.type, name: parsed.name };
  const secretValues: Record<string, string> = {};
  switch (parsed.type) {
    case 'whatsapp':
      Object.assign(columns, { phoneNumberId: parsed.phoneNumberId, wabaId: parsed.wabaId, verifyTokenHash: new Uint8Array(sha256(parsed.verifyToken)) });
      Object.assign(secretValues, { accessToken: parsed.accessToken, appSecret: parsed.appSecret });
      break;
    case 'messenger':
      Object.assign(columns, { pageId: parsed.pageId, verifyTokenHash: new Uint8Array(sha256(parsed.verifyToken)) });
      Object.assign(secretValues, { pageAccessToken: parsed.pageAccessToken, appSecret: parsed.appSecret });
      break;
    case 'instagram':
      Object.assign(columns, { instagramAccountId: parsed.instagramAccountId, pageId: parsed.pageId, verifyTokenHash: new Uint8Array(sha256(parsed.verifyToken)) });
      Object.assign(secretValues, { pageAccessToken: parsed.pageAccessToken, appSecret: parsed.appSecret });
      break;
    case 'webchat':
      Object.assign(columns, { widgetId: newWidgetId(), config: { allowedOrigins: parsed.allowedOrigins } });
      break;
  }
  try {
    return await tdb.$transaction(async (tx) => {
      const channel = await tx.channel.create({ data: tenantData<Prisma.ChannelUncheckedCreateInput>(columns) });
      const secrets: ChannelSecret[] = [];
      for (const [secretName, value] of Object.entries(secretValues)) {
        secrets.push(
          await tx.channelSecret.create({
            data: tenantData<Prisma.ChannelSecretUncheckedCreateInput>({ channelId: channel.id, name: secretName, ...sealedColumns(keyring, channel.id, secretName, value) }),
          }),
        );
      }
      return channelView(keyring, channel, secrets);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ChannelConflictError();
    throw err;
  }
}

/** The channel (of the scoped tenant) with masked secrets, or undefined. */
export async function getChannel(tdb: TenantDb, keyring: Keyring, id: string): Promise<ChannelView | undefined> {
  const channel = await tdb.channel.findUnique({ where: { id } });
  if (!channel) return undefined;
  const secrets = await tdb.channelSecret.findMany({ where: { channelId: id }, orderBy: { name: 'asc' } });
  return channelView(keyring, channel, secrets);
}

/** Updates a channel of the scoped tenant; returns undefined when there is none with this id. */
export async function updateChannel(tdb: TenantDb, keyring: Keyring, id: string, input: UpdateChannelInput): Promise<ChannelView | undefined> {
  const patch = updateChannelSchema.parse(input);
  try {
    return await tdb.$transaction(async (tx) => {
      const channel = await tx.channel.findUnique({ where: { id } });
      if (!channel) return undefined;
      const allowed = new Set(['name', 'status', ...UPDATABLE[channel.type]]);
      const wrong = Object.keys(patch).filter((k) => !allowed.has(k));
      if (wrong.length) throw new ChannelInputError(`${wrong.join(', ')} cannot be set on a ${channel.type} channel`);

      const data: Prisma.ChannelUncheckedUpdateInput = {};
      if (patch.name !== undefined) data.name = patch.name;
      if (patch.status !== undefined) data.status = patch.status;
      if (patch.phoneNumberId !== undefined) data.phoneNumberId = patch.phoneNumberId;
      if (patch.wabaId !== undefined) data.wabaId = patch.wabaId;
      if (patch.pageId !== undefined) data.pageId = patch.pageId;
      if (patch.instagramAccountId !== undefined) data.instagramAccountId = patch.instagramAccountId;
      if (patch.verifyToken !== undefined) data.verifyTokenHash = new Uint8Array(sha256(patch.verifyToken));
      if (patch.allowedOrigins !== undefined) data.config = { ...(channel.config as object), allowedOrigins: patch.allowedOrigins };
      const updated = await tx.channel.update({ where: { id }, data });

      for (const secretName of CHANNEL_SECRET_NAMES[channel.type] as readonly string[]) {
        const value = patch[secretName as keyof UpdateChannelInput];
        if (typeof value !== 'string') continue;
        const sealed = sealedColumns(keyring, id, secretName, value);
        const existing = await tx.channelSecret.findFirst({ where: { channelId: id, name: secretName } });
        if (existing) await tx.channelSecret.update({ where: { id: existing.id }, data: sealed });
        else await tx.channelSecret.create({ data: tenantData<Prisma.ChannelSecretUncheckedCreateInput>({ channelId: id, name: secretName, ...sealed }) });
      }
      const secrets = await tx.channelSecret.findMany({ where: { channelId: id }, orderBy: { name: 'asc' } });
      return channelView(keyring, updated, secrets);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ChannelConflictError();
    throw err;
  }
}

/** Deletes a channel of the scoped tenant (its secrets and conversations go with it). */
export async function deleteChannel(tdb: TenantDb, id: string): Promise<boolean> {
  const { count } = await tdb.channel.deleteMany({ where: { id } });
  return count > 0;
}

/**
 * The decrypted secrets of a channel by name (`accessToken`, `appSecret`, `pageAccessToken`).
 * Takes the plain Db: activities and webhooks find the tenant from the channel itself.
 */
export async function readChannelSecrets(db: Db, keyring: Keyring, channelId: string): Promise<Record<string, string>> {
  const rows = await db.channelSecret.findMany({ where: { channelId } });
  return Object.fromEntries(rows.map((row) => [row.name, decrypt(keyring, row)]));
}

/** Re-encrypts every channel secret not under the current key (`npm run secrets:rotate`). */
export function rotateChannelSecrets(db: Db, keyring: Keyring, batchSize = 500): Promise<RotationResult> {
  return reencryptRows(
    keyring,
    {
      count: async (current) => ({ total: await db.channelSecret.count(), alreadyCurrent: await db.channelSecret.count({ where: { keyId: current } }) }),
      page: (current, after, take) =>
        db.channelSecret.findMany({ where: { keyId: { not: current }, ...(after ? { id: { gt: after } } : {}) }, orderBy: { id: 'asc' }, take }),
      reseal: async (row) => {
        const plaintext = decrypt(keyring, row);
        const { count } = await db.channelSecret.updateMany({
          where: { id: row.id, keyId: row.keyId, iv: row.iv },
          data: sealedColumns(keyring, row.channelId, row.name, plaintext),
        });
        return count > 0;
      },
    },
    batchSize,
  );
}
