// A local fake of Meta's Graph API for tests: the WhatsApp Cloud API messages endpoint and the
// Messenger Send API, speaking their wire format (request validation, success bodies, error
// envelopes and statuses), with failures and delays that tests switch on.
//
//   POST /{version}/{phone-number-id}/messages   WhatsApp: text (and other types) or mark-as-read
//   POST /{version}/me/messages                  Messenger: message or sender_action
//   POST /{version}/{page-id}/messages           Instagram (a page linked to an account): message or sender_action
//   GET  /{version}/{phone-number-id}?fields=…   WhatsApp: the number, if the token's business owns it
//   GET  /{version}/me?fields=id                 Messenger: the page a page token belongs to
//        …,instagram_business_account{id,username}   Instagram: and the account linked to that page
//
// Which ids a token owns is told per token (`owners` option, `own()`); an id no token was told to
// own answers like Meta answers a number of another business (error 100, subcode 33).
//
// Media, in Meta's wire format:
//   GET  /{version}/{media-id}                   WhatsApp: { url, mime_type, sha256, file_size, id } of a file added by addMedia()
//   GET  /whatsapp-media/{media-id}              WhatsApp: the file itself (the lookaside URL: Bearer token required)
//   GET  /messenger-cdn/{id}                     Messenger: an attachment's payload.url (signed CDN URL: no token)
//   POST /{version}/{phone-number-id}/media      WhatsApp: multipart upload (messaging_product, type, file) → { id }
//   POST /{version}/{phone-number-id}/messages   WhatsApp: type image|document with { id } or { link }, caption, filename
//   POST /{version}/me/messages                  Messenger: an attachment by URL or attachment_id (JSON), or uploaded (multipart filedata)
//   POST /{version}/{page-id}/message_attachments  Instagram: upload (multipart platform=instagram, message, filedata) → { attachment_id }
//   POST /{version}/{page-id}/messages           Instagram: message.attachment { type, payload: { attachment_id } }
//
// WhatsApp message templates (graph-templates.ts): GET /{version}/{waba-id}/message_templates,
// and POST /{version}/{phone-number-id}/messages with type "template", checked against them.
//
// Every request is recorded, failed ones included, so a test can assert exactly what reached Meta.
import { randomBytes } from 'node:crypto';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MESSENGER_TAGS, messengerQuickRepliesError, messengerTemplateError, whatsappInteractiveError } from './interactive-limits.ts';
import { createFakeTemplates, type FakeTemplates } from './graph-templates.ts';

export const FAKE_GRAPH_API_VERSION = 'v21.0';

/** What a test asks the fake to answer with instead of a success. */
export interface FakeGraphError {
  /** Graph error code; the HTTP status and message default from it (see defaultStatus). */
  code: number;
  subcode?: number;
  status?: number;
  message?: string;
  /** Sets `Retry-After` (seconds) on the response. */
  retryAfterSeconds?: number;
  /** Sets `X-Business-Use-Case-Usage` with this `estimated_time_to_regain_access` (minutes). */
  regainAccessMinutes?: number;
  /** WhatsApp's `error_data.details`. */
  details?: string;
  isTransient?: boolean;
  /** Answer this raw text instead of a Graph error body (e.g. a proxy's HTML 502). */
  rawBody?: string;
}

export type RequestKind =
  | 'whatsapp.message'
  | 'whatsapp.read'
  | 'whatsapp.message_templates'
  | 'messenger.message'
  | 'messenger.sender_action'
  | 'instagram.message'
  | 'instagram.sender_action'
  | 'instagram.attachment_upload'
  | 'whatsapp.phone_number'
  | 'messenger.me'
  | 'whatsapp.media'
  | 'whatsapp.media_download'
  | 'whatsapp.media_upload'
  | 'messenger.attachment_download'
  | 'unknown';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. /v21.0/123/messages */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw text if it was not JSON. */
  body: unknown;
  kind: RequestKind;
  /** What the fake answered. */
  status: number;
  response: unknown;
}

/** A text message the fake accepted, for asserting what a user would have seen. */
export interface DeliveredText {
  channel: 'whatsapp' | 'messenger' | 'instagram';
  /** phone_number_id for WhatsApp, "me" (the page) for Messenger, the linked page's id for Instagram. */
  from: string;
  to: string;
  text: string;
  messageId: string;
  /** The titles of the buttons, list rows or quick replies the message offered. */
  choices?: string[];
}

/** A file a message carried out: what the user received. */
export interface DeliveredMedia {
  channel: 'whatsapp' | 'messenger' | 'instagram';
  to: string;
  /** image or document (WhatsApp); image, file, audio or video (Messenger, Instagram). */
  type: string;
  bytes: Buffer;
  mimeType: string;
  filename?: string;
  caption?: string;
  messageId: string;
}

/** A file the fake holds: added by a test (inbound) or uploaded by the platform. */
export interface FakeMediaFile {
  bytes: Buffer;
  mimeType: string;
  filename?: string;
  /** Uploaded for Instagram, as this attachment type. */
  instagramType?: string;
}

const INSTAGRAM_ATTACHMENT_TYPES = ['image', 'video', 'audio', 'file'];

export interface FakeGraphApi {
  /** Base URL to use as META_GRAPH_API_URL, e.g. http://127.0.0.1:PORT/v21.0 */
  url: string;
  requests: RecordedRequest[];
  delivered: DeliveredText[];
  /** WhatsApp message templates per business account, and the template messages delivered. */
  templates: FakeTemplates;
  /** Images and documents delivered (uploaded or by link), in order. */
  deliveredMedia: DeliveredMedia[];
  /** A WhatsApp media id for these bytes, as a webhook names an end user's image or voice note. */
  addMedia(file: FakeMediaFile): string;
  /** A Messenger attachment URL (payload.url) serving these bytes. */
  addAttachment(file: FakeMediaFile): string;
  /** The next `count` requests fail with `error`. */
  failNext(count: number, error: FakeGraphError): void;
  /** Every request matching `predicate` fails with `error` until removed (or reset). */
  failFor(predicate: (req: RecordedRequest) => boolean, error: FakeGraphError): () => void;
  /** Delays every response by `ms` (0 to stop). */
  delay(ms: number): void;
  /** From now on the token owns these WhatsApp numbers and/or is the token of this page. */
  own(token: string, owned: FakeChannelOwnership): void;
  /** Forgets requests, deliveries, failures and delays (not ownership). */
  reset(): void;
  /** Resolves with the requests once at least `count` were received; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

/** What a token owns, for the ownership GETs the platform makes when a channel is registered. */
export interface FakeChannelOwnership {
  phoneNumberIds?: string[];
  pageId?: string;
  /** The Instagram professional account linked to `pageId`: its page then takes Instagram sends. */
  instagramAccountId?: string;
}

export interface FakeGraphApiOptions {
  /** Ownership per token (see own()). */
  owners?: Record<string, FakeChannelOwnership>;
  /** If given, only these tokens are accepted (others get 190); otherwise any non-empty token is. */
  accessTokens?: string[];
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
}

const WHATSAPP_TEXT_MAX = 4096;
const MESSENGER_TEXT_MAX = 2000;
/** Instagram counts bytes of UTF-8. */
const INSTAGRAM_TEXT_MAX_BYTES = 1000;

// Meta's messages for the codes tests use most; anything else gets a generic one.
const DEFAULT_MESSAGES: Record<number, string> = {
  1: 'An unknown error occurred',
  2: 'An unexpected error has occurred. Please retry your request later.',
  4: 'Application request limit reached',
  10: '(#10) Application does not have permission for this action',
  17: 'User request limit reached',
  100: '(#100) Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  200: '(#200) Permissions error',
  368: 'The action attempted has been deemed abusive or is otherwise disallowed',
  551: 'This person isn\'t available right now.',
  80007: '(#80007) There have been too many messages sent from this WhatsApp Business Account.',
  130429: '(#130429) Rate limit hit',
  131026: '(#131026) Message Undeliverable.',
  131047: '(#131047) Re-engagement message',
  131056: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
};

/** The HTTP status Meta sends with a code. */
export function defaultStatus(code: number): number {
  if (code === 190 || code === 102) return 401;
  if (code === 10 || (code >= 200 && code <= 299)) return 403;
  if ([4, 17, 32, 613, 130429, 131056].includes(code) || (code >= 80000 && code <= 80014)) return 429;
  if (code === 1 || code === 2) return 500;
  return 400;
}

export async function startFakeGraphApi(options: FakeGraphApiOptions = {}): Promise<FakeGraphApi> {
  const requests: RecordedRequest[] = [];
  const delivered: DeliveredText[] = [];
  const deliveredMedia: DeliveredMedia[] = [];
  const mediaFiles = new Map<string, FakeMediaFile>();
  const cdnFiles = new Map<string, FakeMediaFile>();
  let origin = '';
  let queued: FakeGraphError[] = [];
  let rules: { predicate: (req: RecordedRequest) => boolean; error: FakeGraphError }[] = [];
  let delayMs = 0;
  let waiters: { count: number; resolve: () => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const templates = createFakeTemplates();
  const owners = new Map<string, { phoneNumberIds: Set<string>; pageId?: string; instagramAccountId?: string }>();
  const own = (token: string, owned: FakeChannelOwnership) => {
    const entry = owners.get(token) ?? { phoneNumberIds: new Set<string>() };
    for (const id of owned.phoneNumberIds ?? []) entry.phoneNumberIds.add(id);
    if (owned.pageId !== undefined) entry.pageId = owned.pageId;
    if (owned.instagramAccountId !== undefined) entry.instagramAccountId = owned.instagramAccountId;
    owners.set(token, entry);
  };
  for (const [token, owned] of Object.entries(options.owners ?? {})) own(token, owned);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void received(req, Buffer.concat(chunks), res));
  });

  async function received(req: IncomingMessage, bytes: Buffer, res: ServerResponse) {
    {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = bytes.toString('utf8');
      let body: unknown = raw;
      let bodyIsJson = false;
      if (/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
        // Meta's upload endpoints take multipart/form-data: fields as strings, files with their name and type.
        try {
          body = await multipartFields(bytes, req.headers['content-type']!);
          bodyIsJson = true;
        } catch {
          // recorded as sent, answered with a 100
        }
      } else {
        try {
          body = raw ? JSON.parse(raw) : undefined;
          bodyIsJson = raw !== '';
        } catch {
          // keep the raw text: it is recorded as sent, and answered with a 100
        }
      }
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        kind: 'unknown',
        status: 0,
        response: undefined,
      };
      const answer = handle(recorded, bodyIsJson);
      recorded.status = answer.status;
      recorded.response = answer.body;
      requests.push(recorded);
      waiters = waiters.filter((w) => (requests.length >= w.count ? (w.resolve(), false) : true));
      const send = () => reply(res, answer);
      if (delayMs > 0) {
        const t = setTimeout(() => (timers.delete(t), send()), delayMs);
        timers.add(t);
      } else send();
    }
  }

  interface Answer {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
    raw?: string;
    /** A file's bytes, answered with its own content type. */
    file?: FakeMediaFile;
  }

  function handle(req: RecordedRequest, bodyIsJson: boolean): Answer {
    // The CDN serves Messenger attachments to whoever has the signed URL.
    const cdn = req.method === 'GET' ? /^\/messenger-cdn\/([^/]+)$/.exec(req.path)?.[1] : undefined;
    if (cdn !== undefined) {
      req.kind = 'messenger.attachment_download';
      const injected = queued.shift() ?? rules.find((r) => r.predicate(req))?.error;
      if (injected) return graphError(injected);
      const file = cdnFiles.get(cdn);
      return file ? { status: 200, body: `${file.bytes.byteLength} bytes`, file } : { status: 404, body: 'Not Found', raw: 'Not Found' };
    }
    const download = req.method === 'GET' ? /^\/whatsapp-media\/([^/]+)$/.exec(req.path)?.[1] : undefined;
    const upload = req.method === 'POST' ? /^\/v\d+\.\d+\/([^/]+)\/media$/.exec(req.path)?.[1] : undefined;
    const instagramUpload = req.method === 'POST' ? /^\/v\d+\.\d+\/([^/]+)\/message_attachments$/.exec(req.path)?.[1] : undefined;
    if (download !== undefined) req.kind = 'whatsapp.media_download';
    if (upload !== undefined) req.kind = 'whatsapp.media_upload';
    if (instagramUpload !== undefined) req.kind = 'instagram.attachment_upload';
    const match = /^\/v\d+\.\d+\/([^/]+)\/messages$/.exec(req.path);
    const node = match?.[1];
    const object = req.method === 'GET' ? /^\/v\d+\.\d+\/([^/]+)$/.exec(req.path)?.[1] : undefined;
    const templateAccount = req.method === 'GET' ? /^\/v\d+\.\d+\/([^/]+)\/message_templates$/.exec(req.path)?.[1] : undefined;
    if (templateAccount) req.kind = 'whatsapp.message_templates';
    if (object) req.kind = object === 'me' ? 'messenger.me' : mediaFiles.has(object) ? 'whatsapp.media' : 'whatsapp.phone_number';
    const b = (bodyIsJson && typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, any>;
    if (node === 'me') req.kind = b.sender_action !== undefined ? 'messenger.sender_action' : 'messenger.message';
    else if (node && instagramPage(node)) req.kind = b.sender_action !== undefined ? 'instagram.sender_action' : 'instagram.message';
    else if (node) req.kind = b.status === 'read' ? 'whatsapp.read' : 'whatsapp.message';

    // The order Meta checks in: the token first, then injected trouble, then the request itself.
    const token = bearer(req.headers.authorization) ?? req.query.access_token;
    if (!token) return graphError({ code: 190, message: 'An active access token must be used to query information about the current user.' });
    if (options.accessTokens && !options.accessTokens.includes(token)) return graphError({ code: 190 });

    const injected = queued.shift() ?? rules.find((r) => r.predicate(req))?.error;
    if (injected) return graphError(injected);

    if (download !== undefined) {
      const file = mediaFiles.get(download);
      return file ? { status: 200, body: `${file.bytes.byteLength} bytes`, file } : graphError({ code: 100, message: '(#100) Invalid media id' });
    }
    if (object && mediaFiles.has(object)) {
      const file = mediaFiles.get(object)!;
      return {
        status: 200,
        body: {
          messaging_product: 'whatsapp', url: `${origin}/whatsapp-media/${object}`, mime_type: file.mimeType,
          sha256: createHash('sha256').update(file.bytes).digest('hex'), file_size: file.bytes.byteLength, id: object,
        },
      };
    }
    if (upload !== undefined) return whatsappUpload(b);
    if (instagramUpload !== undefined) return instagramAttachmentUpload(instagramUpload, token, b);
    if (templateAccount) return templates.list(templateAccount, req.query);
    if (object) return ownedObject(object, token, req.query.fields);
    if (req.method !== 'POST' || !node) {
      return graphError({ code: 2500, status: 400, message: `Unknown path components: ${req.path}` });
    }
    if (!bodyIsJson || typeof req.body !== 'object' || req.body === null) return invalidParam('(#100) The request body must be JSON');
    if (node !== 'me' && instagramPage(node)) return instagram(node, token, b);
    return node === 'me' ? messenger(b) : whatsapp(node, b);
  }

  /** Whether some token told the fake this page is linked to an Instagram account. */
  function instagramPage(pageId: string): boolean {
    return [...owners.values()].some((o) => o.pageId === pageId && o.instagramAccountId !== undefined);
  }

  /** The Messenger Platform's Instagram API on /{page-id}/messages: only that page's token may send. */
  function instagram(pageId: string, token: string, b: Record<string, any>): Answer {
    if (owners.get(token)?.pageId !== pageId) return graphError({ code: 200, message: '(#200) The page access token is not the token of this page' });
    const recipientId = b.recipient?.id;
    if (typeof recipientId !== 'string' || !recipientId) return invalidParam('(#100) The parameter recipient is required');
    if (b.sender_action !== undefined) {
      if (!['typing_on', 'typing_off', 'mark_seen'].includes(b.sender_action)) return invalidParam('(#100) Param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF}');
      return { status: 200, body: { recipient_id: recipientId } };
    }
    // messaging_type is optional on Instagram; the one tag it takes is HUMAN_AGENT.
    if (b.messaging_type !== undefined && !['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(b.messaging_type)) return invalidParam('(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}');
    if (b.messaging_type === 'MESSAGE_TAG' && b.tag !== 'HUMAN_AGENT') return invalidParam('(#100) Param tag must be HUMAN_AGENT for an Instagram message');
    if (typeof b.message !== 'object' || b.message === null) return invalidParam('(#100) The parameter message is required');
    if (b.message.attachment !== undefined) return instagramAttachmentSend(recipientId, b.message);
    const text = b.message.text;
    if (typeof text !== 'string' || !text) return invalidParam('(#100) Param message[text] must be a non-empty UTF-8 encoded string');
    if (Buffer.byteLength(text, 'utf8') > INSTAGRAM_TEXT_MAX_BYTES) return invalidParam(`(#100) Length of param message[text] must be less than or equal to ${INSTAGRAM_TEXT_MAX_BYTES} bytes`);
    const messageId = `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE${randomBytes(18).toString('base64url')}`;
    delivered.push({ channel: 'instagram', from: pageId, to: recipientId, text, messageId });
    return { status: 200, body: { recipient_id: recipientId, message_id: messageId } };
  }

  /** Instagram's Attachment Upload API: the file is kept under the id the message then names. */
  function instagramAttachmentUpload(pageId: string, token: string, b: Record<string, any>): Answer {
    if (owners.get(token)?.pageId !== pageId) return graphError({ code: 200, message: '(#200) The page access token is not the token of this page' });
    if (b.platform !== 'instagram') return invalidParam('(#100) Param platform must be instagram for an Instagram attachment');
    let message: { attachment?: { type?: unknown } };
    try {
      message = typeof b.message === 'string' ? JSON.parse(b.message) : b.message;
    } catch {
      return invalidParam('(#100) Param message must be a JSON object');
    }
    const type = message?.attachment?.type;
    if (!INSTAGRAM_ATTACHMENT_TYPES.includes(type as string)) return invalidParam(`(#100) Param message[attachment][type] must be one of {${INSTAGRAM_ATTACHMENT_TYPES.join(', ')}}`);
    const file = b.filedata as MultipartFile | undefined;
    if (typeof file !== 'object' || !file?.bytes) return invalidParam('(#100) The parameter filedata is required');
    const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
    mediaFiles.set(id, { bytes: file.bytes, mimeType: file.type || 'application/octet-stream', ...(file.filename && { filename: file.filename }), instagramType: type as string });
    return { status: 200, body: { attachment_id: id } };
  }

  /** An Instagram message naming an uploaded attachment: it must be sent as the type it was uploaded as. */
  function instagramAttachmentSend(recipientId: string, message: Record<string, any>): Answer {
    if (message.text !== undefined) return invalidParam('(#100) Only one of message[text] and message[attachment] may be set');
    const { type, payload } = message.attachment ?? {};
    if (!INSTAGRAM_ATTACHMENT_TYPES.includes(type)) return invalidParam(`(#100) Param message[attachment][type] must be one of {${INSTAGRAM_ATTACHMENT_TYPES.join(', ')}}`);
    const file = typeof payload?.attachment_id === 'string' ? mediaFiles.get(payload.attachment_id) : undefined;
    if (!file?.instagramType) return invalidParam('(#100) The attachment needs the attachment_id of an uploaded attachment');
    if (file.instagramType !== type) return invalidParam(`(#100) The attachment was uploaded as ${file.instagramType}, not ${String(type)}`);
    const messageId = `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE${randomBytes(18).toString('base64url')}`;
    deliveredMedia.push({ channel: 'instagram', to: recipientId, type, bytes: file.bytes, mimeType: file.mimeType, messageId, ...(file.filename && { filename: file.filename }) });
    return { status: 200, body: { recipient_id: recipientId, message_id: messageId } };
  }

  function ownedObject(object: string, token: string, fields = 'id'): Answer {
    const owned = owners.get(token);
    // Top-level fields: commas inside a field's {subfields} do not separate.
    const wanted = fields.split(/,(?![^{]*\})/).map((f) => f.trim());
    if (object === 'me') {
      // A token that is no page token is a user or system user: /me is that user.
      const id = owned?.pageId ?? `1000${[...token].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1e9, 7)}`;
      const linked = wanted.find((f) => f.startsWith('instagram_business_account'));
      const account = linked && owned?.instagramAccountId && { id: owned.instagramAccountId, ...(linked.includes('username') && { username: 'test_shop' }) };
      return { status: 200, body: { id, ...(wanted.includes('name') && { name: owned?.pageId ? 'Test Page' : 'Test User' }), ...(account && { instagram_business_account: account }) } };
    }
    if (!owned?.phoneNumberIds.has(object)) {
      return graphError({
        code: 100,
        subcode: 33,
        message: `Unsupported get request. Object with ID '${object}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
      });
    }
    const body: Record<string, unknown> = { id: object };
    if (wanted.includes('display_phone_number')) body.display_phone_number = `+1 555-${object.slice(-4).padStart(4, '0')}`;
    if (wanted.includes('verified_name')) body.verified_name = 'Test Business';
    return { status: 200, body };
  }

  function whatsapp(phoneNumberId: string, b: Record<string, any>): Answer {
    if (b.messaging_product !== 'whatsapp') return invalidParam('(#100) The parameter messaging_product is required.');
    if (b.status !== undefined) {
      if (b.status !== 'read') return invalidParam('(#100) Param status must be one of {READ} - got "' + String(b.status) + '".');
      if (typeof b.message_id !== 'string' || !b.message_id) return invalidParam('(#100) The parameter message_id is required.');
      if (b.typing_indicator !== undefined && b.typing_indicator?.type !== 'text') {
        return invalidParam('(#100) Param typing_indicator[type] must be one of {TEXT}.');
      }
      return { status: 200, body: { success: true } };
    }
    if (b.recipient_type !== undefined && b.recipient_type !== 'individual') return invalidParam('(#100) Param recipient_type must be one of {INDIVIDUAL, GROUP}.');
    if (typeof b.to !== 'string' || !b.to) return invalidParam('(#100) The parameter to is required.');
    const type = b.type ?? 'text';
    if (typeof b[type] !== 'object' || b[type] === null) return invalidParam(`(#100) The parameter ${type} is required.`);
    if (type === 'template') {
      const sent = templates.send(phoneNumberId, b.to, b.template);
      if ('refusal' in sent) return graphError({ ...sent.refusal, status: 400 });
      return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: b.to, wa_id: b.to.replace(/\D/g, '') }], messages: [{ id: sent.messageId, message_status: 'accepted' }] } };
    }
    if (type === 'text') {
      const text = b.text.body;
      if (typeof text !== 'string' || !text) return invalidParam("(#100) The parameter text['body'] is required.");
      if (text.length > WHATSAPP_TEXT_MAX) return invalidParam(`(#100) Param text['body'] must be at most ${WHATSAPP_TEXT_MAX} characters long.`);
      if (b.text.preview_url !== undefined && typeof b.text.preview_url !== 'boolean') return invalidParam("(#100) Param text['preview_url'] must be a boolean.");
    }
    const interactiveError = type === 'interactive' ? whatsappInteractiveError(b.interactive) : null;
    if (interactiveError) return invalidParam(interactiveError);
    let media: FakeMediaFile | undefined;
    if (type === 'image' || type === 'document') {
      const m = b[type] as { id?: unknown; link?: unknown; caption?: unknown; filename?: unknown };
      if ((m.id === undefined) === (m.link === undefined)) return invalidParam(`(#100) Param ${type} must have exactly one of id or link.`);
      if (m.id !== undefined && (typeof m.id !== 'string' || !mediaFiles.has(m.id))) return invalidParam(`(#131053) Media upload error: unknown media id ${String(m.id)}`);
      if (m.caption !== undefined && (typeof m.caption !== 'string' || m.caption.length > 1024)) return invalidParam(`(#100) Param ${type}['caption'] must be a string of at most 1024 characters.`);
      if (type === 'image' && m.filename !== undefined) return invalidParam("(#100) Param image['filename'] is not a valid parameter.");
      media = typeof m.id === 'string' ? mediaFiles.get(m.id)! : { bytes: Buffer.alloc(0), mimeType: 'application/octet-stream' };
    }
    const messageId = `wamid.${randomBytes(24).toString('base64url')}`;
    if (type === 'text') delivered.push({ channel: 'whatsapp', from: phoneNumberId, to: b.to, text: b.text.body, messageId });
    if (type === 'interactive') delivered.push({ channel: 'whatsapp', from: phoneNumberId, to: b.to, text: b.interactive.body.text, messageId, choices: interactiveTitles(b.interactive) });
    if (media) {
      const m = b[type] as { caption?: string; filename?: string };
      deliveredMedia.push({ channel: 'whatsapp', to: b.to, type, bytes: media.bytes, mimeType: media.mimeType, messageId, ...(m.filename && { filename: m.filename }), ...(m.caption && { caption: m.caption }) });
    }
    return {
      status: 200,
      body: { messaging_product: 'whatsapp', contacts: [{ input: b.to, wa_id: b.to.replace(/\D/g, '') }], messages: [{ id: messageId }] },
    };
  }

  function whatsappUpload(b: Record<string, any>): Answer {
    if (b.messaging_product !== 'whatsapp') return invalidParam('(#100) The parameter messaging_product is required.');
    const file = b.file as MultipartFile | undefined;
    if (typeof file !== 'object' || !file?.bytes) return invalidParam('(#100) The parameter file is required.');
    if (typeof b.type !== 'string' || !b.type) return invalidParam('(#100) The parameter type is required.');
    const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
    mediaFiles.set(id, { bytes: file.bytes, mimeType: file.type || b.type, ...(file.filename && { filename: file.filename }) });
    return { status: 200, body: { id } };
  }

  function messenger(b: Record<string, any>): Answer {
    // Multipart sends carry recipient and message as JSON text fields.
    for (const field of ['recipient', 'message'] as const) {
      if (typeof b[field] === 'string') {
        try {
          b[field] = JSON.parse(b[field]);
        } catch {
          return invalidParam(`(#100) Param ${field} must be a JSON object`);
        }
      }
    }
    const recipientId = b.recipient?.id;
    if (typeof recipientId !== 'string' || !recipientId) return invalidParam('(#100) The parameter recipient is required');
    if (b.sender_action !== undefined) {
      if (!['typing_on', 'typing_off', 'mark_seen'].includes(b.sender_action)) return invalidParam('(#100) Param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF}');
      return { status: 200, body: { recipient_id: recipientId } };
    }
    if (!['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(b.messaging_type)) return invalidParam('(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}');
    if (b.messaging_type === 'MESSAGE_TAG' && !MESSENGER_TAGS.includes(b.tag)) return invalidParam(`(#100) Param tag must be one of {${MESSENGER_TAGS.join(', ')}}`);
    const text = b.message?.text;
    if (typeof b.message !== 'object' || b.message === null) return invalidParam('(#100) The parameter message is required');
    if (text !== undefined && (typeof text !== 'string' || !text)) return invalidParam('(#100) Param message[text] must be a non-empty UTF-8 encoded string');
    if (typeof text === 'string' && text.length > MESSENGER_TEXT_MAX) return invalidParam(`(#100) Length of param message[text] must be less than or equal to ${MESSENGER_TEXT_MAX}`);
    const quickRepliesError = b.message.quick_replies === undefined ? null : messengerQuickRepliesError(b.message.quick_replies);
    if (quickRepliesError) return invalidParam(quickRepliesError);
    if (b.message.attachment?.type === 'template') {
      const templateError = messengerTemplateError(b.message.attachment.payload);
      if (templateError) return invalidParam(templateError);
      const messageId = `m_${randomBytes(24).toString('base64url')}`;
      const payload = b.message.attachment.payload;
      delivered.push({ channel: 'messenger', from: 'me', to: recipientId, text: payload.text, messageId, choices: payload.buttons.map((x: { title: string }) => x.title) });
      return { status: 200, body: { recipient_id: recipientId, message_id: messageId } };
    }
    const attachment = b.message.attachment as { type?: unknown; payload?: { url?: unknown; attachment_id?: unknown; is_reusable?: unknown } } | undefined;
    let media: FakeMediaFile | undefined;
    if (attachment !== undefined) {
      if (text !== undefined) return invalidParam('(#100) Only one of message[text] and message[attachment] may be set');
      if (!['image', 'audio', 'video', 'file'].includes(attachment.type as string)) return invalidParam('(#100) Param message[attachment][type] must be one of {IMAGE, AUDIO, VIDEO, FILE}');
      const filedata = b.filedata as MultipartFile | undefined;
      const payload = attachment.payload ?? {};
      if (filedata?.bytes) media = { bytes: filedata.bytes, mimeType: filedata.type || 'application/octet-stream', ...(filedata.filename && { filename: filedata.filename }) };
      else if (typeof payload.attachment_id === 'string' && mediaFiles.has(payload.attachment_id)) media = mediaFiles.get(payload.attachment_id);
      else if (typeof payload.url === 'string' && /^https?:\/\//.test(payload.url)) media = { bytes: Buffer.alloc(0), mimeType: 'application/octet-stream' };
      else return invalidParam('(#100) The attachment needs a url, an attachment_id or uploaded filedata');
    } else if (text === undefined) return invalidParam('(#100) Param message must have text or an attachment');
    const messageId = `m_${randomBytes(24).toString('base64url')}`;
    if (typeof text === 'string') {
      delivered.push({ channel: 'messenger', from: 'me', to: recipientId, text, messageId, ...(b.message.quick_replies && { choices: b.message.quick_replies.map((q: { title: string }) => q.title) }) });
    }
    if (media) deliveredMedia.push({ channel: 'messenger', to: recipientId, type: attachment!.type as string, bytes: media.bytes, mimeType: media.mimeType, messageId, ...(media.filename && { filename: media.filename }) });
    return { status: 200, body: { recipient_id: recipientId, message_id: messageId, ...(media && b.filedata && { attachment_id: String(BigInt(`0x${randomBytes(7).toString('hex')}`)) }) } };
  }

  const invalidParam = (message: string) => graphError({ code: 100, message });

  function graphError(e: FakeGraphError): Answer {
    const status = e.status ?? defaultStatus(e.code);
    const headers: Record<string, string> = {
      // Meta sends these on errors; the client must not depend on them being absent.
      'www-authenticate': status === 401 ? 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"' : '',
    };
    if (e.retryAfterSeconds !== undefined) headers['retry-after'] = String(e.retryAfterSeconds);
    if (e.regainAccessMinutes !== undefined) {
      headers['x-business-use-case-usage'] = JSON.stringify({
        '102030405060708': [{ type: 'whatsapp', call_count: 100, total_cputime: 30, total_time: 40, estimated_time_to_regain_access: e.regainAccessMinutes }],
      });
    }
    if (e.rawBody !== undefined) return { status, body: e.rawBody, headers, raw: e.rawBody };
    const error: Record<string, unknown> = {
      message: e.message ?? DEFAULT_MESSAGES[e.code] ?? `(#${e.code}) An error occurred`,
      type: 'OAuthException',
      code: e.code,
      ...(e.subcode !== undefined && { error_subcode: e.subcode }),
      ...(e.isTransient !== undefined && { is_transient: e.isTransient }),
      ...(e.details !== undefined && { error_data: { messaging_product: 'whatsapp', details: e.details } }),
      fbtrace_id: `A${randomBytes(10).toString('base64url')}`,
    };
    return { status, body: { error }, headers };
  }

  function reply(res: ServerResponse, a: Answer) {
    const headers = Object.fromEntries(Object.entries(a.headers ?? {}).filter(([, v]) => v));
    if (a.file) {
      res.writeHead(a.status, { 'content-type': a.file.mimeType, 'content-length': String(a.file.bytes.byteLength), ...headers }).end(a.file.bytes);
      return;
    }
    if (a.raw !== undefined) {
      res.writeHead(a.status, { 'content-type': 'text/html', ...headers }).end(a.raw);
      return;
    }
    res.writeHead(a.status, { 'content-type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(a.body));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `http://127.0.0.1:${port}/${FAKE_GRAPH_API_VERSION}`,
    requests,
    delivered,
    templates,
    deliveredMedia,
    addMedia(file) {
      const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      mediaFiles.set(id, file);
      return id;
    },
    addAttachment(file) {
      const id = randomUUID();
      cdnFiles.set(id, file);
      return `${origin}/messenger-cdn/${id}?_nc_cat=1&oh=${randomBytes(8).toString('hex')}`;
    },
    failNext(count, error) {
      queued.push(...Array.from({ length: count }, () => error));
    },
    failFor(predicate, error) {
      const rule = { predicate, error };
      rules.push(rule);
      return () => {
        rules = rules.filter((r) => r !== rule);
      };
    },
    delay(ms) {
      delayMs = ms;
    },
    own,
    reset() {
      requests.length = 0;
      delivered.length = 0;
      templates.reset();
      deliveredMedia.length = 0;
      queued = [];
      rules = [];
      delayMs = 0;
    },
    waitForRequests(count, timeoutMs = 5000) {
      if (requests.length >= count) return Promise.resolve([...requests]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new Error(`fake Graph API: expected ${count} requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        const waiter = { count, resolve: () => (clearTimeout(timer), resolve([...requests])) };
        waiters.push(waiter);
      });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface MultipartFile {
  filename?: string;
  type: string;
  bytes: Buffer;
}

/** A multipart/form-data body's fields: text as strings, files as MultipartFile (undici's parser). */
async function multipartFields(bytes: Buffer, contentType: string): Promise<Record<string, string | MultipartFile>> {
  const form = await new Response(new Uint8Array(bytes), { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, string | MultipartFile> = {};
  for (const [name, value] of form) {
    fields[name] = typeof value === 'string' ? value : { filename: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
  }
  return fields;
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/** The titles a WhatsApp interactive message offers (buttons or list rows). */
function interactiveTitles(i: Record<string, any>): string[] {
  if (i.type === 'button') return i.action.buttons.map((b: { reply: { title: string } }) => b.reply.title);
  return i.action.sections.flatMap((s: { rows: { title: string }[] }) => s.rows.map((r) => r.title));
}
