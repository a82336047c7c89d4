// Delivery statuses of our outbound messages (WhatsApp `statuses[]`, Messenger `delivery` and
// `read`). Each is one indexed UPDATE through the tenant-scoped client, so it runs on the request
// path. A status only moves forward — pending < sent < delivered < read — and `failed` may
// replace any of them (with Meta's error details); nothing moves a failed message. Duplicates
// and out-of-order statuses (Meta sends both) therefore change nothing. Statuses never start a
// conversation.
import type { MessageStatus } from '../../generated/prisma/client.ts';
import type { TenantDb } from '../../lib/tenant-db.ts';
import type { MetaChannelType } from './channel-lookup.ts';
import type { OutboundStatus, StatusItem } from './normalize.ts';

/** The statuses a message may be in for `status` to replace it. */
export const REPLACEABLE: Record<OutboundStatus, MessageStatus[]> = {
  sent: ['pending'],
  delivered: ['pending', 'sent'],
  read: ['pending', 'sent', 'delivered'],
  failed: ['pending', 'sent', 'delivered', 'read'],
};

/** Applies one delivery's statuses for one channel, in order; returns how many messages changed. */
export async function applyStatuses(tdb: TenantDb, channelType: MetaChannelType, channelId: string, items: StatusItem[]): Promise<number> {
  let changed = 0;
  for (const item of items) {
    if (item.kind === 'message') {
      const { count } = await tdb.message.updateMany({
        where: { channel: channelType, externalMessageId: item.externalMessageId, direction: 'outbound', status: { in: REPLACEABLE[item.status] } },
        data: item.status === 'failed' ? { status: 'failed', error: (item.error ?? []) as object } : { status: item.status },
      });
      changed += count;
    } else {
      const { count } = await tdb.message.updateMany({
        where: {
          channel: channelType,
          direction: 'outbound',
          status: { in: REPLACEABLE[item.status] },
          createdAt: { lte: new Date(item.watermark) },
          conversation: { channelId, externalUserId: item.userId },
        },
        data: { status: item.status },
      });
      changed += count;
    }
  }
  return changed;
}
