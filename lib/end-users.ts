// GDPR for one end user of a tenant (a WhatsApp number, a Messenger PSID, a web chat visitor on a
// channel type): everything stored about them, and its erasure. Conversations are unique per
// (channel, external user id), so one person on two WhatsApp numbers of the tenant has two.
import { createHash } from 'node:crypto';
import type { ChannelType } from '../generated/prisma/client.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';
import type { Prisma } from '../generated/prisma/client.ts';

export interface EndUserRef {
  channel: ChannelType;
  externalUserId: string;
}

async function conversationsOf(tdb: TenantDb, ref: EndUserRef) {
  return tdb.conversation.findMany({
    where: { externalUserId: ref.externalUserId, channel: { type: ref.channel } },
    orderBy: { createdAt: 'asc' },
  });
}

/** All data about the end user, or undefined when the tenant has none. */
export async function exportEndUser(tdb: TenantDb, ref: EndUserRef) {
  const conversations = await conversationsOf(tdb, ref);
  if (conversations.length === 0) return undefined;
  const ids = conversations.map((c) => c.id);
  const [messages, events] = await Promise.all([
    tdb.message.findMany({ where: { conversationId: { in: ids } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    tdb.event.findMany({ where: { subjectType: 'conversation', subjectId: { in: ids } }, orderBy: { createdAt: 'asc' } }),
  ]);
  return { conversations, messages, events };
}

/**
 * The workflow ids stored on the end user's conversations (distinct; conversations without one
 * have no workflow to end), or undefined when the tenant has no conversation with them.
 */
export async function endUserWorkflowIds(tdb: TenantDb, ref: EndUserRef): Promise<string[] | undefined> {
  const conversations = await tdb.conversation.findMany({
    where: { externalUserId: ref.externalUserId, channel: { type: ref.channel } },
    select: { workflowId: true },
  });
  if (conversations.length === 0) return undefined;
  return [...new Set(conversations.flatMap((c) => (c.workflowId ? [c.workflowId] : [])))];
}

/** SHA-256 of the external id: the audit trail proves an erasure without keeping who it was. */
export function endUserFingerprint(ref: EndUserRef): string {
  return createHash('sha256').update(`${ref.channel}:${ref.externalUserId}`).digest('hex');
}

/**
 * The storage keys of the files the end user sent (activities/media), to delete with their
 * messages: each is that message's own. Files agents sent are left: they may be a tenant
 * document's original or shared by other messages.
 */
export async function endUserMediaKeys(tdb: TenantDb, ref: EndUserRef): Promise<string[]> {
  const messages = await tdb.message.findMany({
    where: { conversation: { externalUserId: ref.externalUserId, channel: { type: ref.channel } }, direction: 'inbound', type: { in: ['image', 'audio', 'video', 'document', 'sticker'] } },
    select: { content: true },
  });
  return messages.flatMap((m) => {
    const media = (m.content as { media?: { status?: unknown; key?: unknown } } | null)?.media;
    return media?.status === 'stored' && typeof media.key === 'string' ? [media.key] : [];
  });
}

/**
 * Deletes the end user's messages (and their inbound dedupe keys: a WhatsApp message id encodes
 * the sender's number), conversation events and conversations, and records an audit event
 * (`end_user.erased`) that names them only by fingerprint. Returns undefined when there was
 * nothing to erase.
 */
export async function eraseEndUser(tdb: TenantDb, ref: EndUserRef, requestId?: string) {
  return tdb.$transaction(async (tx) => {
    const conversations = await tx.conversation.findMany({ where: { externalUserId: ref.externalUserId, channel: { type: ref.channel } }, select: { id: true } });
    if (conversations.length === 0) return undefined;
    const ids = conversations.map((c) => c.id);
    const keyed = await tx.message.findMany({ where: { conversationId: { in: ids }, direction: 'inbound', externalMessageId: { not: null } }, select: { externalMessageId: true } });
    await tx.inboundMessageKey.deleteMany({ where: { channel: ref.channel, externalMessageId: { in: keyed.map((m) => m.externalMessageId!) } } });
    const messages = await tx.message.deleteMany({ where: { conversationId: { in: ids } } });
    const events = await tx.event.deleteMany({ where: { subjectType: 'conversation', subjectId: { in: ids } } });
    const removed = await tx.conversation.deleteMany({ where: { id: { in: ids } } });
    const counts = { conversations: removed.count, messages: messages.count, events: events.count };
    await tx.event.create({
      data: tenantData<Prisma.EventUncheckedCreateInput>({
        type: 'end_user.erased',
        subjectType: 'end_user',
        subjectId: endUserFingerprint(ref),
        payload: { channel: ref.channel, ...counts, ...(requestId ? { requestId } : {}) },
      }),
    });
    return counts;
  });
}
