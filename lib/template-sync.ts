// Reads a WhatsApp channel's message templates from the Graph API
// (GET /{waba-id}/message_templates, every page) into message_templates. Called by the API on
// demand and by the scheduled templateSync workflow for every WhatsApp channel.
//
// Pages are followed by their `after` cursor on our own URL, never by the `paging.next` link of
// the answer: that link carries no token today, but the token must not follow any URL we did not
// build. A listing read to its end is the truth about which templates exist, so templates absent
// from it are removed, except those a status webhook told of after the read began.
import { z } from 'zod';
import type { Prisma } from '../generated/prisma/client.ts';
import { readChannelSecrets } from './channels.ts';
import type { Keyring } from './crypto.ts';
import type { Db } from './db.ts';
import { getGraph, type GraphCallFailure } from './graph-api.ts';
import { forTenant, tenantData } from './tenant-db.ts';
import { graphTemplateSchema, type GraphTemplate } from './whatsapp-templates.ts';

export const TEMPLATE_PAGE_SIZE = 100;
/** A business account has at most a few thousand templates (Meta allows 6000 per WABA); stop well after. */
const MAX_PAGES = 100;
const TIMEOUT_MS = 10_000;
const FIELDS = 'id,name,language,status,category,parameter_format,components,rejected_reason';

const pageSchema = z.looseObject({
  data: z.array(z.unknown()),
  paging: z.looseObject({ cursors: z.looseObject({ after: z.string().optional() }).optional(), next: z.string().optional() }).optional(),
});

export type TemplateSyncResult =
  | { ok: true; synced: number; removed: number; skipped: number }
  | { ok: false; reason: 'not_whatsapp' | 'no_waba_id' | 'no_access_token' }
  | { ok: false; reason: 'graph_error'; failure: GraphCallFailure };

export async function syncTemplates(deps: { db: Db; keyring: Keyring; graphApiUrl: string }, tenantId: string, channelId: string): Promise<TemplateSyncResult> {
  const tdb = forTenant(deps.db, tenantId);
  const channel = await tdb.channel.findFirst({ where: { id: channelId }, select: { type: true, wabaId: true } });
  if (!channel || channel.type !== 'whatsapp') return { ok: false, reason: 'not_whatsapp' };
  if (!channel.wabaId) return { ok: false, reason: 'no_waba_id' };
  const { accessToken } = await readChannelSecrets(deps.db, deps.keyring, channelId);
  if (!accessToken) return { ok: false, reason: 'no_access_token' };

  const readAt = new Date();
  const listed: GraphTemplate[] = [];
  let skipped = 0;
  let after: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ fields: FIELDS, limit: String(TEMPLATE_PAGE_SIZE), ...(after && { after }) });
    const answer = await getGraph({ graphApiUrl: deps.graphApiUrl, path: `/${encodeURIComponent(channel.wabaId)}/message_templates?${query}`, accessToken, timeoutMs: TIMEOUT_MS });
    if (!answer.ok) return { ok: false, reason: 'graph_error', failure: answer.failure };
    const parsed = pageSchema.safeParse(answer.body);
    if (!parsed.success) {
      return { ok: false, reason: 'graph_error', failure: { httpStatus: 200, code: null, subcode: null, fbtraceId: null, kind: 'transient', message: 'the template listing is not in the Graph API\'s shape' } };
    }
    for (const item of parsed.data.data) {
      const template = graphTemplateSchema.safeParse(item);
      if (template.success) listed.push(template.data);
      else skipped++; // one odd entry must not stop the others
    }
    after = parsed.data.paging?.cursors?.after;
    if (!parsed.data.paging?.next || !after) break;
  }

  const existing = new Map((await tdb.messageTemplate.findMany({ where: { channelId }, select: { id: true, externalId: true } })).map((t) => [t.externalId, t.id]));
  for (const t of listed) {
    const fields = {
      name: t.name,
      language: t.language,
      category: t.category ?? null,
      parameterFormat: t.parameter_format ?? 'POSITIONAL',
      components: t.components as Prisma.InputJsonValue,
      syncedAt: readAt,
    };
    const status = { status: t.status, reason: t.rejected_reason && t.rejected_reason !== 'NONE' ? t.rejected_reason : null, statusAt: readAt };
    const id = existing.get(t.id);
    if (id) {
      await tdb.messageTemplate.updateMany({ where: { id }, data: fields });
      // A status webhook newer than this read keeps its status.
      await tdb.messageTemplate.updateMany({ where: { id, statusAt: { lte: readAt } }, data: status });
    } else {
      await tdb.messageTemplate.createMany({
        data: [tenantData<Prisma.MessageTemplateUncheckedCreateInput>({ channelId, externalId: t.id, ...fields, ...status })],
        skipDuplicates: true, // a concurrent sync or webhook created it: the next sync updates it
      });
    }
  }
  const { count: removed } = await tdb.messageTemplate.deleteMany({
    where: { channelId, externalId: { notIn: listed.map((t) => t.id) }, statusAt: { lt: readAt } },
  });
  return { ok: true, synced: listed.length, removed, skipped };
}
