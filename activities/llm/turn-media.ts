// What a turn's media messages give the model, resolved inside the model call (so that the
// workflow's hot path stays one activity): a voice note's transcript joins the question, an
// image goes to a vision-capable model as the image itself, and everything else is named in
// words. A message whose file is not fetched yet is fetched here (the same idempotent step as
// workflows/inbound-media.ts, so the two never store it twice).
import { log } from '@temporalio/activity';
import type { Db } from '../../lib/db.ts';
import type { DocumentStorage } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { ChannelKind, InboundKind } from '../../workflows/types.ts';
import type { FetchedInboundMedia, FetchInboundMediaInput } from '../media/inbound.ts';
import type { ChatImage, ProviderName } from './provider.ts';

/** One media message of the turn, as the workflow knows it. */
export interface InboundMediaRef {
  channel: ChannelKind;
  externalMessageId: string;
  kind: InboundKind;
}

export interface TurnMedia {
  /** Voice notes' transcripts, in the turn's order. */
  transcripts: string[];
  images: ChatImage[];
  /** What the model is told about media it does not get as such (documents, videos, refused files). */
  notes: string[];
}

/** Image types both vendors take, and the size both take (Anthropic's per-image limit). */
const VISION_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
const VISION_MAX_BYTES = 5 * 1024 * 1024;

/**
 * Whether a model takes images: OpenAI's GPT-4o/4.1/5 and o-series, Anthropic's Claude 3 and
 * later. Older or unknown models get the image named in words instead.
 */
export function visionCapable(provider: ProviderName, model: string): boolean {
  if (provider === 'anthropic') return /^claude-(3|opus-4|sonnet-4|haiku-4|[a-z]+-[4-9])/.test(model);
  return /^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|o[134])/.test(model);
}

export async function resolveTurnMedia(
  deps: { db: Db; storage?: DocumentStorage; fetch?: (input: FetchInboundMediaInput) => Promise<FetchedInboundMedia> },
  tenantId: string,
  refs: InboundMediaRef[],
): Promise<TurnMedia> {
  const out: TurnMedia = { transcripts: [], images: [], notes: [] };
  const keys = forTenant(deps.db, tenantId).inboundMessageKey;
  for (const ref of refs) {
    try {
      const key = await keys.findFirst({ where: { channel: ref.channel, externalMessageId: ref.externalMessageId }, select: { messageId: true, createdAt: true } });
      if (!key || !deps.fetch) {
        out.notes.push(`The customer sent ${article(ref.kind)} that could not be opened.`);
        continue;
      }
      const fetched = await deps.fetch({ tenantId, messageId: key.messageId, createdAt: key.createdAt.getTime() });
      const { media } = fetched;
      if (media.status !== 'stored') {
        out.notes.push(`The customer sent ${article(ref.kind)} that could not be received (${media.reason.split(':')[0]}).`);
        continue;
      }
      if (fetched.transcript !== undefined) {
        out.transcripts.push(fetched.transcript);
        continue;
      }
      if ((ref.kind === 'image' || ref.kind === 'sticker') && VISION_TYPES.has(media.mimeType) && media.sizeBytes <= VISION_MAX_BYTES && deps.storage) {
        const bytes = await deps.storage.get(media.key);
        out.images.push({ mimeType: media.mimeType, base64: bytes.toString('base64'), filename: media.filename });
        continue;
      }
      out.notes.push(`The customer sent ${article(ref.kind)}: ${media.filename} (${media.mimeType}, ${Math.ceil(media.sizeBytes / 1024)} KB).`);
    } catch (err) {
      // The reply never waits on a file: answered without it, and the inbox still shows it.
      log.warn('media of the turn not available to the model', { kind: ref.kind, error: String(err) });
      out.notes.push(`The customer sent ${article(ref.kind)} that could not be opened.`);
    }
  }
  return out;
}

function article(kind: string): string {
  const noun = kind === 'audio' ? 'voice note' : kind;
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}
