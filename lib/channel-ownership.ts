// A tenant registers a WhatsApp number, a Messenger page or an Instagram account only with a token
// that owns it: the Graph API (META_GRAPH_API_URL) is asked with the channel's own token, at
// registration and when the id or the token changes.
//
//   WhatsApp   GET /{phone-number-id}?fields=id,display_phone_number   (the access token)
//              must answer that id: Meta answers error 100 (subcode 33) for an id the token's
//              business does not own, 190 for a bad token.
//   Messenger  GET /me?fields=id   (the page access token)  must answer the page id.
//   Instagram  GET /me?fields=id,instagram_business_account   (the page access token)  must
//              answer the page id, and the Instagram account linked to that page must be the
//              channel's (a page links to one professional account at most).
//
// A claim that fails, and a claim of an id another tenant has registered, get the same answer
// (ChannelNotOwnedError, 422): the API never confirms that an id exists elsewhere. The same tenant
// registering its own id twice is told so (ChannelConflictError, 409). When the Graph API cannot
// be asked (no connection, timeout, 5xx, throttled), nothing is registered
// (ChannelOwnershipUnavailableError, 503): an unverified claim is never accepted silently.
import type { Channel } from '../generated/prisma/client.ts';
import { ChannelConflictError, readChannelSecrets, type CreateChannelInput, type UpdateChannelInput } from './channels.ts';
import { sha256, type Keyring } from './crypto.ts';
import type { Db } from './db.ts';
import type { TenantDb } from './tenant-db.ts';

/** How long registration waits for the Graph API. */
export const OWNERSHIP_CHECK_TIMEOUT_MS = 10_000;

export type OwnershipClaim =
  | { type: 'whatsapp'; phoneNumberId: string; accessToken: string }
  | { type: 'messenger'; pageId: string; pageAccessToken: string }
  | { type: 'instagram'; instagramAccountId: string; pageId: string; pageAccessToken: string };

export class ChannelNotOwnedError extends Error {
  constructor(claim: Pick<OwnershipClaim, 'type'>) {
    const what = claim.type === 'whatsapp' ? 'phone number id' : claim.type === 'instagram' ? 'page id and Instagram account id' : 'page id';
    super(`The ${claim.type === 'whatsapp' ? 'access token' : 'page access token'} does not own this ${what}, or this ${what} cannot be registered`);
    this.name = 'ChannelNotOwnedError';
  }
}

export class ChannelOwnershipUnavailableError extends Error {
  constructor() {
    super('The Graph API could not be asked whether the token owns this channel; nothing was changed, try again later');
    this.name = 'ChannelOwnershipUnavailableError';
  }
}

// Meta's "try later": throttling (4, 17, 32, 341, 613, 80000–80014) and temporary errors (1, 2).
const TRY_LATER_CODES = new Set([1, 2, 4, 17, 32, 341, 613]);

/** Asks the Graph API whether the claim's token owns the claim's id; resolves when it does. */
export async function verifyChannelOwnership(graphApiUrl: string, claim: OwnershipClaim, options: { timeoutMs?: number } = {}): Promise<void> {
  const base = graphApiUrl.replace(/\/+$/, '');
  const [path, expected, token] =
    claim.type === 'whatsapp'
      ? [`/${encodeURIComponent(claim.phoneNumberId)}?fields=id,display_phone_number`, claim.phoneNumberId, claim.accessToken]
      : claim.type === 'instagram'
        ? ['/me?fields=id,instagram_business_account', claim.pageId, claim.pageAccessToken]
        : ['/me?fields=id', claim.pageId, claim.pageAccessToken];
  let response: Response;
  let body: unknown;
  try {
    response = await fetch(`${base}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? OWNERSHIP_CHECK_TIMEOUT_MS),
    });
    body = await response.json().catch(() => undefined);
  } catch {
    throw new ChannelOwnershipUnavailableError();
  }
  if (response.ok) {
    const answer = body as { id?: unknown; instagram_business_account?: { id?: unknown } } | undefined;
    const linked = claim.type !== 'instagram' || answer?.instagram_business_account?.id === claim.instagramAccountId;
    if (answer?.id === expected && linked) return;
    throw new ChannelNotOwnedError(claim);
  }
  const error = (body as { error?: { code?: unknown; is_transient?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'number' ? error.code : null;
  const tryLater = response.status === 429 || response.status >= 500 || error?.is_transient === true || (code !== null && (TRY_LATER_CODES.has(code) || (code >= 80000 && code <= 80014)));
  if (tryLater) throw new ChannelOwnershipUnavailableError();
  throw new ChannelNotOwnedError(claim);
}

/** What a new channel claims (nothing for web chat). */
export function ownershipClaimOf(input: CreateChannelInput): OwnershipClaim | undefined {
  if (input.type === 'whatsapp') return { type: 'whatsapp', phoneNumberId: input.phoneNumberId, accessToken: input.accessToken };
  if (input.type === 'messenger') return { type: 'messenger', pageId: input.pageId, pageAccessToken: input.pageAccessToken };
  if (input.type === 'instagram') return { type: 'instagram', instagramAccountId: input.instagramAccountId, pageId: input.pageId, pageAccessToken: input.pageAccessToken };
  return undefined;
}

/**
 * What a change claims: the new id with the stored token, the stored id with the new token, or
 * both new. Nothing when the change touches neither (a new app secret, a name) or the channel is
 * not the tenant's (the update then answers 404).
 */
export async function ownershipClaimOfUpdate(tdb: TenantDb, db: Db, keyring: Keyring, id: string, patch: UpdateChannelInput): Promise<OwnershipClaim | undefined> {
  const channel = await tdb.channel.findUnique({ where: { id } });
  if (!channel) return undefined;
  if (channel.type === 'whatsapp' && (patch.phoneNumberId !== undefined || patch.accessToken !== undefined)) {
    const stored = patch.accessToken === undefined ? await readChannelSecrets(db, keyring, id) : {};
    const phoneNumberId = patch.phoneNumberId ?? channel.phoneNumberId;
    const accessToken = patch.accessToken ?? stored.accessToken;
    return phoneNumberId && accessToken ? { type: 'whatsapp', phoneNumberId, accessToken } : undefined;
  }
  if (channel.type === 'messenger' && (patch.pageId !== undefined || patch.pageAccessToken !== undefined)) {
    const stored = patch.pageAccessToken === undefined ? await readChannelSecrets(db, keyring, id) : {};
    const pageId = patch.pageId ?? channel.pageId;
    const pageAccessToken = patch.pageAccessToken ?? stored.pageAccessToken;
    return pageId && pageAccessToken ? { type: 'messenger', pageId, pageAccessToken } : undefined;
  }
  if (channel.type === 'instagram' && (patch.instagramAccountId !== undefined || patch.pageId !== undefined || patch.pageAccessToken !== undefined)) {
    const stored = patch.pageAccessToken === undefined ? await readChannelSecrets(db, keyring, id) : {};
    const instagramAccountId = patch.instagramAccountId ?? channel.instagramAccountId;
    const pageId = patch.pageId ?? channel.pageId;
    const pageAccessToken = patch.pageAccessToken ?? stored.pageAccessToken;
    return instagramAccountId && pageId && pageAccessToken ? { type: 'instagram', instagramAccountId, pageId, pageAccessToken } : undefined;
  }
  return undefined;
}

/**
 * A unique violation as the tenant may see it: ChannelConflictError (409) when one of the
 * tenant's own channels holds the id or verify token, else ChannelNotOwnedError (422), the answer
 * an id that is not the token's gets. Other errors pass through.
 */
export async function conflictAsSeenByTenant(
  tdb: TenantDb,
  err: unknown,
  wanted: { type: Channel['type']; exceptId?: string; phoneNumberId?: string; pageId?: string; instagramAccountId?: string; verifyToken?: string },
): Promise<never> {
  if (!(err instanceof ChannelConflictError) || wanted.type === 'webchat') throw err;
  const held = [
    ...(wanted.phoneNumberId ? [{ phoneNumberId: wanted.phoneNumberId }] : []),
    ...(wanted.pageId ? [{ pageId: wanted.pageId }] : []),
    ...(wanted.instagramAccountId ? [{ instagramAccountId: wanted.instagramAccountId }] : []),
    ...(wanted.verifyToken ? [{ verifyTokenHash: new Uint8Array(sha256(wanted.verifyToken)) }] : []),
  ];
  const own = held.length
    ? await tdb.channel.findFirst({ where: { type: wanted.type, OR: held, ...(wanted.exceptId && { id: { not: wanted.exceptId } }) }, select: { id: true } })
    : null;
  throw own ? err : new ChannelNotOwnedError({ type: wanted.type });
}
