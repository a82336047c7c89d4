// WhatsApp template status webhooks (`field: message_template_status_update` on the WhatsApp
// Business Account webhook): Meta approved, rejected, paused, disabled… one of the business's
// templates. Such a change names the business account (entry[].id, the WABA id), no phone
// number, so the channels are those with that wabaId; it is applied to each of them whose own
// app secret signed the delivery (a channel of another tenant claiming the same WABA id under
// another Meta app gets nothing), and a delivery none of them signed is refused (401).
//
// Each change is one conditional UPDATE: it applies only over a status that is not newer (Meta's
// entry.time against the stored status_at), so redeliveries and out-of-order deliveries change
// nothing. A template no sync has read yet is stored from the webhook alone (no components until
// the next sync).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.ts';
import { readChannelSecrets } from '../../lib/channels.ts';
import { forTenant, tenantData } from '../../lib/tenant-db.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { MAX_CHANNELS_PER_DELIVERY } from './meta-webhook.ts';
import { signatureMatches } from './signature.ts';

export const TEMPLATE_STATUS_FIELD = 'message_template_status_update';

const statusValue = z.looseObject({
  event: z.string().min(1).max(40),
  message_template_id: z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,30}$/)]).transform(String),
  message_template_name: z.string().min(1).max(512),
  message_template_language: z.string().min(1).max(20),
  reason: z.string().max(500).nullish(),
});

const envelope = z.looseObject({
  entry: z.array(
    z.looseObject({
      id: z.string().optional(),
      time: z.number().int().nonnegative().optional(),
      changes: z.array(z.looseObject({ field: z.string(), value: z.unknown() })).default([]),
    }),
  ),
});

export interface TemplateStatusChange {
  wabaId: string;
  /** When Meta says the change happened (entry.time), else when it arrived. */
  at: Date;
  externalId: string;
  name: string;
  language: string;
  event: string;
  reason: string | null;
}

/** The template status changes of a delivery; a malformed one is a 400 like any malformed change. */
export function templateStatusChanges(json: unknown, receivedAt: Date): TemplateStatusChange[] {
  const parsed = envelope.safeParse(json);
  if (!parsed.success) return []; // the delivery's own schema reports it
  const changes: TemplateStatusChange[] = [];
  parsed.data.entry.forEach((entry, e) => {
    entry.changes.forEach((change, c) => {
      if (change.field !== TEMPLATE_STATUS_FIELD) return;
      const value = statusValue.safeParse(change.value);
      if (!value.success || !entry.id) {
        const where = `/entry/${e}/changes/${c}`;
        const message = !entry.id ? `${where.slice(0, where.indexOf('/changes'))}/id is required for template status changes` : `${where}/value ${value.error!.issues[0]!.path.join('/')} ${value.error!.issues[0]!.message}`;
        throw new HttpError(400, 'invalid_payload', `Malformed whatsapp webhook: ${message}`);
      }
      // Meta's time has seconds only: the change counts as of the end of its second, so that a
      // sync read earlier in that second does not make it look stale.
      const at = entry.time && entry.time * 1000 <= receivedAt.getTime() + 60_000 ? new Date(entry.time * 1000 + 999) : receivedAt;
      const v = value.data;
      changes.push({ wabaId: entry.id, at, externalId: v.message_template_id, name: v.message_template_name, language: v.message_template_language, event: v.event.toUpperCase(), reason: v.reason && v.reason !== 'NONE' ? v.reason : null });
    });
  });
  return changes;
}

/** The status an event leaves the template in; FLAGGED is a quality warning, the template stays sendable. */
function statusAfter(event: string): string | null {
  if (event === 'FLAGGED') return null;
  if (event === 'REINSTATED') return 'APPROVED';
  return event;
}

/** Verifies and applies a delivery's template status changes; returns how many templates changed. */
export async function applyTemplateStatusChanges(app: FastifyInstance, raw: Buffer, digest: Buffer, changes: TemplateStatusChange[]): Promise<number> {
  if (changes.length === 0) return 0;
  const wabaIds = [...new Set(changes.map((c) => c.wabaId))];
  if (wabaIds.length > MAX_CHANNELS_PER_DELIVERY) throw new HttpError(400, 'too_many_channels', `A delivery may name at most ${MAX_CHANNELS_PER_DELIVERY} business accounts`);
  const channels = await app.db.channel.findMany({
    where: { type: 'whatsapp', status: 'active', wabaId: { in: wabaIds } },
    select: { id: true, tenantId: true, wabaId: true },
    take: 100,
  });
  if (channels.length === 0) {
    app.log.warn({ channel: 'whatsapp', wabaIds }, 'template status for business accounts this platform does not serve; ignored');
    return 0;
  }
  const signed = [];
  for (const channel of channels) {
    const { appSecret } = await readChannelSecrets(app.db, app.config.SECRETS_KEYS, channel.id);
    if (appSecret && signatureMatches(raw, appSecret, digest)) signed.push(channel);
  }
  if (signed.length === 0) throw new HttpError(401, 'invalid_signature', 'X-Hub-Signature-256 does not match the body');

  let changed = 0;
  for (const channel of signed) {
    const tdb = forTenant(app.db, channel.tenantId);
    for (const change of changes.filter((c) => c.wabaId === channel.wabaId)) {
      const status = statusAfter(change.event);
      const data = { ...(status && { status }), reason: change.reason ?? (status === 'APPROVED' ? null : undefined), statusAt: change.at };
      const { count } = await tdb.messageTemplate.updateMany({ where: { channelId: channel.id, externalId: change.externalId, statusAt: { lte: change.at } }, data });
      changed += count;
      if (count === 0 && status) {
        const { count: created } = await tdb.messageTemplate.createMany({
          data: [
            tenantData<Prisma.MessageTemplateUncheckedCreateInput>({
              channelId: channel.id, externalId: change.externalId, name: change.name, language: change.language, status,
              parameterFormat: 'POSITIONAL', reason: change.reason, statusAt: change.at,
            }),
          ],
          skipDuplicates: true, // it exists with a newer status
        });
        changed += created;
      }
      app.log.info({ tenantId: channel.tenantId, channelId: channel.id, template: change.name, language: change.language, event: change.event }, 'template status changed');
    }
  }
  return changed;
}
