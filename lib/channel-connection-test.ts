// "Test connection" of a WhatsApp, Messenger or Instagram channel: asks the Graph API, with the
// channel's stored token, for what the channel sends as, and says what it found or why it could not:
//
//   WhatsApp   GET /{phone-number-id}?fields=display_phone_number,verified_name   (the access token)
//   Messenger  GET /me?fields=id,name   (the page access token; must answer the channel's page id)
//   Instagram  GET /me?fields=id,name,instagram_business_account{id,username}   (the page access
//              token; must answer the channel's page, linked to the channel's Instagram account)
//
// The Graph API's answer is put in the words a tenant can act on (a bad token, a missing
// permission, a wrong id, Meta throttling, Meta unreachable). Nothing of the token is in it.
import { readChannelSecrets } from './channels.ts';
import type { Keyring } from './crypto.ts';
import type { Db } from './db.ts';
import { getGraph, type GraphCallFailure } from './graph-api.ts';

/** How long a test waits for the Graph API: a person is waiting for the answer. */
export const CONNECTION_TEST_TIMEOUT_MS = 5_000;

export const CONNECTION_PROBLEMS = ['invalid_token', 'missing_permission', 'wrong_id', 'throttled', 'unreachable', 'token_unreadable', 'graph_error'] as const;
export type ConnectionProblemKind = (typeof CONNECTION_PROBLEMS)[number];

export interface ConnectionTestResult {
  ok: boolean;
  /**
   * What the Graph API said the channel is (on success, and for a Messenger or Instagram token of
   * another page). Instagram: the linked account's id, `name` its username.
   */
  found: { id: string; displayPhoneNumber: string | null; verifiedName: string | null; name: string | null } | null;
  problem: {
    kind: ConnectionProblemKind;
    message: string;
    httpStatus: number | null;
    graphCode: number | null;
    graphSubcode: number | null;
    fbtraceId: string | null;
  } | null;
}

export interface TestableChannel {
  id: string;
  type: 'whatsapp' | 'messenger' | 'instagram';
  phoneNumberId: string | null;
  pageId: string | null;
  instagramAccountId?: string | null;
}

const WHAT_TO_DO: Record<ConnectionProblemKind, string> = {
  invalid_token: 'Meta refused the token (invalid, expired or revoked): paste a new one.',
  missing_permission:
    'The token lacks a permission this channel needs (WhatsApp: whatsapp_business_messaging and whatsapp_business_management; Messenger: pages_messaging; Instagram: instagram_basic, instagram_manage_messages and pages_manage_metadata).',
  wrong_id: 'Meta does not know this id, or the token cannot see it: check the id against the app dashboard.',
  throttled: 'Meta is throttling calls for this app right now: try again in a few minutes.',
  unreachable: 'The Graph API could not be reached or failed: try again later.',
  token_unreadable: 'The stored token can no longer be decrypted (its key was removed from SECRETS_KEYS): set the token again.',
  graph_error: 'The Graph API refused the request.',
};

/** The tenant's name for a failed call (Graph codes: see lib/graph-api.ts and the sources named there). */
export function problemKindOf(failure: Pick<GraphCallFailure, 'kind' | 'httpStatus' | 'code'>): ConnectionProblemKind {
  const { kind, httpStatus, code } = failure;
  if (kind === 'throttled') return 'throttled';
  if (kind === 'transient') return 'unreachable';
  // 190 bad or expired token, 102 session expired, 463/467 expired or invalid access token.
  if (code === 190 || code === 102 || code === 463 || code === 467 || (code === null && httpStatus === 401)) return 'invalid_token';
  // 10 and 200–299 permissions, 3 a capability the app lacks.
  if (code === 10 || code === 3 || (code !== null && code >= 200 && code <= 299) || (code === null && httpStatus === 403)) return 'missing_permission';
  // 100 invalid parameter, e.g. subcode 33: no such object, or not visible to this token; 803 unknown alias.
  if (code === 100 || code === 803 || (code === null && httpStatus === 404)) return 'wrong_id';
  return 'graph_error';
}

function problem(kind: ConnectionProblemKind, failure?: GraphCallFailure): ConnectionTestResult['problem'] {
  return {
    kind,
    message: !failure ? WHAT_TO_DO[kind] : failure.httpStatus === null ? `${WHAT_TO_DO[kind]} (${failure.message})` : `${WHAT_TO_DO[kind]} Meta said: ${failure.message}`,
    httpStatus: failure?.httpStatus ?? null,
    graphCode: failure?.code ?? null,
    graphSubcode: failure?.subcode ?? null,
    fbtraceId: failure?.fbtraceId ?? null,
  };
}

const text = (v: unknown) => (typeof v === 'string' && v ? v : null);

/** Tests the channel's stored token against the Graph API at `graphApiUrl` (META_GRAPH_API_URL). */
export async function testChannelConnection(
  db: Db,
  keyring: Keyring,
  graphApiUrl: string,
  channel: TestableChannel,
  timeoutMs = CONNECTION_TEST_TIMEOUT_MS,
): Promise<ConnectionTestResult> {
  let secrets: Record<string, string>;
  try {
    secrets = await readChannelSecrets(db, keyring, channel.id);
  } catch {
    return { ok: false, found: null, problem: problem('token_unreadable') };
  }
  const whatsapp = channel.type === 'whatsapp';
  const accessToken = whatsapp ? secrets.accessToken : secrets.pageAccessToken;
  const objectId = whatsapp ? channel.phoneNumberId : channel.pageId;
  if (!accessToken || !objectId) return { ok: false, found: null, problem: problem('token_unreadable') };

  const path = whatsapp
    ? `/${encodeURIComponent(objectId)}?fields=display_phone_number,verified_name`
    : channel.type === 'instagram'
      ? '/me?fields=id,name,instagram_business_account{id,username}'
      : '/me?fields=id,name';
  const answer = await getGraph({ graphApiUrl, path, accessToken, timeoutMs });
  if (!answer.ok) return { ok: false, found: null, problem: problem(problemKindOf(answer.failure), answer.failure) };

  const body = (answer.body ?? {}) as Record<string, unknown>;
  const found = { id: text(body.id) ?? objectId, displayPhoneNumber: text(body.display_phone_number), verifiedName: text(body.verified_name), name: text(body.name) };
  // A page token answers /me with its page; any other token (a user's, another page's) with something else.
  if (!whatsapp && found.id !== objectId) {
    return {
      ok: false,
      found,
      problem: { ...problem('wrong_id')!, message: `The page access token belongs to ${found.name ?? 'another object'} (${found.id}), not to page ${objectId}: paste the token of this page.` },
    };
  }
  if (channel.type === 'instagram') return instagramAnswer(channel, body);
  return { ok: true, found, problem: null };
}

/** The page answered /me as itself: it must be linked to the channel's Instagram account. */
function instagramAnswer(channel: TestableChannel, body: Record<string, unknown>): ConnectionTestResult {
  const linked = (body.instagram_business_account ?? null) as Record<string, unknown> | null;
  const accountId = text(linked?.id);
  const found = { id: accountId ?? text(body.id) ?? '', displayPhoneNumber: null, verifiedName: null, name: accountId ? text(linked?.username) : text(body.name) };
  if (accountId === channel.instagramAccountId) return { ok: true, found, problem: null };
  const linkedTo = accountId ? `Instagram account ${found.name ? `@${found.name} ` : ''}(${accountId})` : 'no Instagram professional account';
  return {
    ok: false,
    found,
    problem: {
      ...problem('wrong_id')!,
      message: `Page ${channel.pageId} is linked to ${linkedTo}, not to ${channel.instagramAccountId}: link the account to this page in its Instagram settings, or fix the ids.`,
    },
  };
}
