// The Instagram client against the fake Graph API over real HTTP, and the UTF-8 split it sends by.
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGraphApi, type FakeGraphApi } from '../../test/fakes/graph-api.ts';
import { GRAPH_PERMANENT_ERROR } from './graph-errors.ts';
import { InstagramClient } from './instagram.ts';
import { INSTAGRAM_TEXT_LIMIT_BYTES, splitMessage, splitMessageUtf8 } from './split-message.ts';

const TOKEN = 'EAAigPageToken0123456789abcdefABCDEF';
const OTHER_TOKEN = 'EAAotherPageToken0123456789abcdefAB';
const PAGE_ID = '112233445566778';
const IG_ID = '17841400000000001';
const IGSID = '6543210987654321';

let fake: FakeGraphApi;
let client: InstagramClient;

beforeAll(async () => {
  fake = await startFakeGraphApi({ accessTokens: [TOKEN, OTHER_TOKEN], owners: { [TOKEN]: { pageId: PAGE_ID, instagramAccountId: IG_ID }, [OTHER_TOKEN]: { pageId: '999' } } });
  client = new InstagramClient({ graphApiUrl: `${fake.url}/`, pageId: PAGE_ID, pageAccessToken: TOKEN, timeoutMs: 2000 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('splitMessageUtf8', () => {
  it('keeps ASCII parts as long as the limit, and splits multi-byte text so every part fits in bytes', () => {
    const ascii = Array.from({ length: 40 }, (_, i) => `Sentence ${i} says a little more.`).join(' ');
    expect(splitMessageUtf8(ascii, INSTAGRAM_TEXT_LIMIT_BYTES)).toEqual(splitMessage(ascii, INSTAGRAM_TEXT_LIMIT_BYTES));

    const mixed = Array.from({ length: 60 }, (_, i) => `第${i}句：送料は無料です 🚚✨ ça coûte zéro.`).join(' ');
    const parts = splitMessageUtf8(mixed, INSTAGRAM_TEXT_LIMIT_BYTES);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => bytes(p) <= INSTAGRAM_TEXT_LIMIT_BYTES)).toBe(true);
    expect(parts.join(' ')).toBe(mixed);
    expect(splitMessageUtf8(mixed, INSTAGRAM_TEXT_LIMIT_BYTES)).toEqual(parts); // the same parts on a retry
  });

  it('cuts a single long run of emoji between graphemes', () => {
    const parts = splitMessageUtf8('😀'.repeat(600), 1000);
    expect(parts.every((p) => bytes(p) <= 1000 && !/^[\udc00-\udfff]|[\ud800-\udbff]$/.test(p))).toBe(true);
    expect(parts.join('')).toBe('😀'.repeat(600));
  });
});

describe('InstagramClient', () => {
  it("sends Meta's Instagram shape to /{page-id}/messages with the page token in the header only", async () => {
    const result = await client.sendText(IGSID, 'Hi from the shop');
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: `/v21.0/${PAGE_ID}/messages`, query: {}, kind: 'instagram.message' });
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.body).toEqual({ recipient: { id: IGSID }, message: { text: 'Hi from the shop' } });
    expect(fake.delivered).toEqual([{ channel: 'instagram', from: PAGE_ID, to: IGSID, text: 'Hi from the shop', messageId: result.messageIds[0] }]);
  });

  it('sends a reply longer than 1000 bytes in parts the fake accepts', async () => {
    const reply = Array.from({ length: 30 }, (_, i) => `Paso ${i}: la talla única le queda bien a casi todo el mundo — ¡genial! 👍`).join(' ');
    expect(bytes(reply)).toBeGreaterThan(2 * INSTAGRAM_TEXT_LIMIT_BYTES);
    const result = await client.sendText(IGSID, reply);
    expect(result.partCount).toBeGreaterThan(2);
    expect(fake.requests.every((r) => r.status === 200)).toBe(true);
    expect(fake.delivered.map((d) => d.text).join(' ')).toBe(reply);
  });

  it("tags a person's late reply HUMAN_AGENT, and offers choices as numbered lines", async () => {
    await client.sendText(IGSID, 'Sorry for the wait.', { tag: 'HUMAN_AGENT', choices: { items: [{ id: 'a', title: 'Track it' }, { id: 'b', title: 'Cancel' }] } });
    expect(fake.requests[0]!.body).toEqual({ recipient: { id: IGSID }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'Sorry for the wait.\n\n1. Track it\n2. Cancel' } });
    expect(fake.requests[0]!.status).toBe(200);
  });

  it('marks seen and types through the same endpoint', async () => {
    await client.senderAction(IGSID, 'mark_seen');
    await client.senderAction(IGSID, 'typing_on');
    expect(fake.requests.map((r) => [r.kind, (r.body as { sender_action: string }).sender_action])).toEqual([
      ['instagram.sender_action', 'mark_seen'],
      ['instagram.sender_action', 'typing_on'],
    ]);
  });

  it('uploads a file to /{page-id}/message_attachments and sends it by its attachment_id, as image, video, audio or file', async () => {
    const files = [
      { kind: 'document' as const, mimeType: 'application/pdf', filename: 'invoice.pdf', bytes: Buffer.from('%PDF-1.4 invoice') },
      { kind: 'image' as const, mimeType: 'image/png', filename: 'bike.png', bytes: Buffer.from('png bytes') },
      { kind: 'document' as const, mimeType: 'video/mp4', filename: 'how-to.mp4', bytes: Buffer.from('mp4 bytes') },
      { kind: 'document' as const, mimeType: 'audio/x-m4a', filename: 'note.m4a', bytes: Buffer.from('m4a bytes') },
    ];
    const ids = [];
    for (const file of files) ids.push(await client.sendAttachment(IGSID, file));
    expect(fake.requests.map((r) => [r.kind, r.path, r.status])).toEqual(
      files.flatMap(() => [['instagram.attachment_upload', `/v21.0/${PAGE_ID}/message_attachments`, 200], ['instagram.message', `/v21.0/${PAGE_ID}/messages`, 200]]),
    );
    const upload = fake.requests[0]!.body as Record<string, unknown>;
    expect(upload).toMatchObject({ platform: 'instagram', filedata: { filename: 'invoice.pdf', type: 'application/pdf' } });
    expect(JSON.parse(upload.message as string)).toEqual({ attachment: { type: 'file', payload: { is_reusable: false } } });
    const attachmentId = (fake.requests[0]!.response as { attachment_id: string }).attachment_id;
    expect(fake.requests[1]!.body).toEqual({ recipient: { id: IGSID }, message: { attachment: { type: 'file', payload: { attachment_id: attachmentId } } } });
    expect(fake.deliveredMedia.map((m) => [m.channel, m.to, m.type, m.filename, m.bytes.toString()])).toEqual([
      ['instagram', IGSID, 'file', 'invoice.pdf', '%PDF-1.4 invoice'],
      ['instagram', IGSID, 'image', 'bike.png', 'png bytes'],
      ['instagram', IGSID, 'video', 'how-to.mp4', 'mp4 bytes'],
      ['instagram', IGSID, 'audio', 'note.m4a', 'm4a bytes'],
    ]);
    expect(ids).toEqual(fake.deliveredMedia.map((m) => m.messageId));
  });

  it("tags a person's late file HUMAN_AGENT", async () => {
    await client.sendAttachment(IGSID, { kind: 'image', mimeType: 'image/jpeg', filename: 'a.jpg', bytes: Buffer.from('jpeg') }, { messageTag: 'HUMAN_AGENT' });
    expect(fake.requests[1]!.body).toMatchObject({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { attachment: { type: 'image' } } });
    expect(fake.requests[1]!.status).toBe(200);
  });

  it("fails for good with another page's token (Meta's permission error)", async () => {
    const wrong = new InstagramClient({ graphApiUrl: fake.url, pageId: PAGE_ID, pageAccessToken: OTHER_TOKEN, timeoutMs: 2000 });
    const err = await wrong.sendText(IGSID, 'hello').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(fake.delivered).toEqual([]);
  });
});
