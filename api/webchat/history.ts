// Web chat messages as the widget sees them, read from the messages table: the frame of a stored
// message, the opaque cursor after it (base64url of created_at in ms and the row id: the order
// replay uses), the replay after a cursor, and marking outbound messages delivered.
import { createHash } from 'node:crypto';
import type { Message } from '../../generated/prisma/client.ts';
import type { Db } from '../../lib/db.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { OutboundAttachment } from '../../workflows/types.ts';
import type { MessageFrame } from './frames.ts';
import { cursorDate } from '../schemas/common.ts';

export interface VisitorKey {
  tenantId: string;
  channelId: string;
  visitorId: string;
}

export interface Cursor {
  at: Date;
  id: string;
}

/** Without a cursor, a socket gets this many of the newest messages (a fresh page shows the thread). */
export const HISTORY_LIMIT = 50;
/** At most this many messages are replayed after a cursor in one go; the widget's next reconnect continues. */
export const REPLAY_LIMIT = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(`${row.createdAt.getTime()}.${row.id}`).toString('base64url');
}

/** The cursor, or null when the text is not one of ours. */
export function decodeCursor(text: string): Cursor | null {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(text)) return null;
  const match = /^(\d{1,15})\.(.+)$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match || !UUID.test(match[2]!)) return null;
  const at = cursorDate(new Date(Number(match[1])));
  return at ? { at, id: match[2]! } : null;
}

/**
 * The external id of a visitor's message, derived from its clientMessageId (uuid-shaped digest
 * of channel, visitor and client id): a resend after a reconnect carries the same id, so it is
 * recognised and stored once.
 */
export function visitorMessageId(channelId: string, visitorId: string, clientMessageId: string): string {
  const hex = createHash('sha256').update(`webchat:${channelId}:${visitorId}:${clientMessageId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

type Row = Pick<Message, 'id' | 'createdAt' | 'direction' | 'content' | 'externalMessageId'>;

/** The signed link to an outbound message's file (file-links.ts). */
export type FileUrl = (message: { id: string; createdAt: Date }) => string;

/** The frame of a stored message, or null for one the widget cannot show (no text, no file). */
export function frameOf(row: Row, fileUrl?: FileUrl): MessageFrame | null {
  const content = (row.content ?? {}) as { text?: unknown; author?: unknown; clientMessageId?: unknown; choices?: { items?: unknown }; attachment?: OutboundAttachment };
  const text = typeof content.text === 'string' ? content.text : '';
  const file = row.direction === 'outbound' && content.attachment && fileUrl ? content.attachment : undefined;
  if (!text && !file) return null;
  const base = { type: 'message' as const, text, at: row.createdAt.toISOString(), cursor: encodeCursor(row) };
  if (row.direction === 'inbound') {
    return {
      ...base,
      id: row.externalMessageId ?? row.id,
      author: 'visitor',
      ...(typeof content.clientMessageId === 'string' ? { clientMessageId: content.clientMessageId } : {}),
    };
  }
  const choices = Array.isArray(content.choices?.items) ? (content.choices.items as { id: string; title: string; description?: string }[]) : undefined;
  return {
    ...base,
    id: row.id,
    author: content.author === 'agent' ? 'agent' : 'assistant',
    ...(choices && { choices: choices.map((c) => ({ id: c.id, title: c.title, ...(c.description && { description: c.description }) })) }),
    ...(file && { file: { kind: file.kind, filename: file.filename, mimeType: file.mimeType, url: fileUrl!(row) } }),
  };
}

const SELECT = { id: true, createdAt: true, direction: true, content: true, externalMessageId: true, status: true } as const;

export async function conversationIdOf(db: Db, key: VisitorKey): Promise<string | null> {
  const row = await forTenant(db, key.tenantId).conversation.findFirst({
    where: { channelId: key.channelId, externalUserId: key.visitorId },
    select: { id: true },
  });
  return row?.id ?? null;
}

/**
 * The visitor's messages after `after` (both directions, by created_at then id), or without a
 * cursor the newest HISTORY_LIMIT of them; failed outbound messages are left out. Pending ones
 * are included: their NOTIFY may have gone out before this socket was there.
 */
export async function messagesAfter(db: Db, key: VisitorKey, after: Cursor | null) {
  const conversationId = await conversationIdOf(db, key);
  if (!conversationId) return [];
  const tdb = forTenant(db, key.tenantId);
  const where = {
    conversationId,
    status: { not: 'failed' as const },
    ...(after ? { OR: [{ createdAt: { gt: after.at } }, { createdAt: after.at, id: { gt: after.id } }] } : {}),
  };
  if (after) return tdb.message.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: REPLAY_LIMIT, select: SELECT });
  const newest = await tdb.message.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: HISTORY_LIMIT, select: SELECT });
  return newest.reverse();
}

/** One outbound message of this visitor, by id (null if it is not theirs). */
export async function outboundMessage(db: Db, key: VisitorKey, messageId: string, createdAt: number) {
  return forTenant(db, key.tenantId).message.findFirst({
    where: { id: messageId, createdAt: new Date(createdAt), direction: 'outbound', conversation: { channelId: key.channelId, externalUserId: key.visitorId } },
    select: SELECT,
  });
}

/** Waits between looks at a message still pending (about 30 s in all). */
const DELIVERED_RETRY_MS = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000];

/**
 * A socket got these outbound messages: sent becomes delivered (read and failed stay). The
 * worker publishes a message before it records it `sent` (and announces that), so one may still
 * be pending here: it is marked once it is sent, looked at again with backoff; if the worker
 * takes longer than that, it stays `sent`.
 */
export async function markDelivered(db: Db, tenantId: string, rows: { id: string; createdAt: Date }[], retryMs: readonly number[] = DELIVERED_RETRY_MS): Promise<void> {
  const tdb = forTenant(db, tenantId);
  let left = rows.map((r) => ({ id: r.id, createdAt: r.createdAt }));
  for (let attempt = 0; left.length > 0; attempt++) {
    await tdb.message.updateMany({ where: { OR: left, direction: 'outbound', status: 'sent' }, data: { status: 'delivered' } });
    const wait = retryMs[attempt];
    if (wait === undefined) return;
    // `sent` too: one may have become sent between the update and this look.
    left = await tdb.message.findMany({ where: { OR: left, direction: 'outbound', status: { in: ['pending', 'sent'] } }, select: { id: true, createdAt: true } });
    if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
