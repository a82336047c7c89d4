// End users' media and agents' attachments on WhatsApp and Messenger, against the fake Graph API
// and the fake OpenAI: a signed webhook names a file, the platform fetches it with the channel's
// token into its storage (within its limits, once), shows it to agents through the API, gives it
// to the assistant (an image to a vision model, a voice note as a transcript), adds a document
// to the knowledge base on request, and sends an agent's file in Meta's own formats.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { inboundMediaName, type InboundMedia } from '../activities/media/inbound.ts';
import { createLogger } from '../lib/logger.ts';
import { createDocumentStorage } from '../lib/storage.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../lib/tenants.ts';
import { startFakeOpenAi, FAKE_OPENAI_KEY, type FakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, eventually, WHATSAPP_TOKEN, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const MAX_BYTES = 50_000;

describe('media in and out', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let openai: FakeOpenAi;
  let rig: ConversationRig;
  let app: App;
  let key: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    rig = await createConversationRig(temporal.client, {
      llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY } },
      env: { MEDIA_MAX_BYTES: String(MAX_BYTES), TRANSCRIPTION_MODEL: 'whisper-1' },
    });
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    key = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'inbox', scope: 'tenant' })).key;
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await openai?.close();
    await temporal?.close();
  });

  const storage = () => createDocumentStorage(rig.config);
  const tdb = () => forTenant(rig.db, rig.tenantId);
  const post = (channel: 'whatsapp' | 'messenger' | 'instagram', body: unknown, secret: string) => {
    const payload = JSON.stringify(body);
    return app.inject({ method: 'POST', url: `/webhooks/${channel}`, payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) } });
  };
  const whatsappMessage = (from: string, message: Record<string, unknown>) => {
    const id = `wamid.${randomBytes(8).toString('hex')}`;
    const body = {
      object: 'whatsapp_business_account',
      entry: [{ id: '555000111', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: rig.phoneNumberId },
        contacts: [{ profile: { name: 'Ana' }, wa_id: from }], messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), ...message }],
      } }] }],
    };
    return { id, body };
  };
  const storedMessage = (externalMessageId: string) =>
    eventually(async () => {
      const row = await tdb().message.findFirst({ where: { externalMessageId } });
      const media = (row?.content as { media?: InboundMedia } | undefined)?.media;
      return row && media ? { row, media, content: row.content as Record<string, unknown> } : undefined;
    }, 20_000, `media of ${externalMessageId} recorded`);
  const api = (method: 'GET' | 'POST', url: string, payload?: unknown, bearerKey = key) =>
    app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearerKey}` }, ...(payload !== undefined && { payload: payload as object }) });

  it('fetches a WhatsApp image with the number\'s token into storage, serves it to agents of its tenant only, and the local assistant says it arrived', async () => {
    const from = '15551240001';
    const mediaId = rig.graph.addMedia({ bytes: PNG, mimeType: 'image/png' });
    const { id, body } = whatsappMessage(from, { type: 'image', image: { id: mediaId, mime_type: 'image/png', sha256: createHash('sha256').update(PNG).digest('base64') } });
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);

    const reply = await eventually(() => rig.graph.delivered.find((d) => d.to === from), 20_000, 'a reply');
    expect(reply.text).toBe("Thanks, I received your image (image.png). I can't look at images myself: could you tell me in words what you need?");
    const { row, media } = await storedMessage(id);
    expect(media).toMatchObject({ status: 'stored', key: `${rig.tenantId}/${inboundMediaName('whatsapp', id)}`, mimeType: 'image/png', sizeBytes: PNG.byteLength, filename: 'image.png' });
    expect(await storage().get((media as { key: string }).key)).toEqual(PNG);
    // The lookup and the download both carry the number's token; the file is fetched once however many steps needed it.
    const lookups = rig.graph.requests.filter((r) => r.kind === 'whatsapp.media' && r.path.endsWith(`/${mediaId}`));
    const downloads = rig.graph.requests.filter((r) => r.kind === 'whatsapp.media_download' && r.path.endsWith(`/${mediaId}`));
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(downloads).toHaveLength(lookups.length);
    for (const r of [...lookups, ...downloads]) expect(r.headers.authorization).toBe(`Bearer ${WHATSAPP_TOKEN}`);

    const file = await api('GET', `/conversations/${row.conversationId}/messages/${row.id}/media`);
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('image/png');
    expect(file.headers['content-disposition']).toBe(`inline; filename="image.png"; filename*=UTF-8''image.png`);
    expect(file.rawPayload).toEqual(PNG);

    const other = await createTenant(rig.db, { name: 'Other', slug: `other-${randomBytes(4).toString('hex')}` });
    const foreign = await api('GET', `/conversations/${row.conversationId}/messages/${row.id}/media`, undefined, other.apiKey.key);
    expect(foreign.statusCode).toBe(404);
    const text = await tdb().message.findFirst({ where: { conversationId: row.conversationId, direction: 'outbound' } });
    expect((await api('GET', `/conversations/${row.conversationId}/messages/${text!.id}/media`)).json().error.code).toBe('no_media');
  });

  it('refuses a file over MEDIA_MAX_BYTES without downloading it, and a type not allowed, and says why', async () => {
    const big = rig.graph.addMedia({ bytes: randomBytes(MAX_BYTES + 1), mimeType: 'image/jpeg' });
    const exe = rig.graph.addMedia({ bytes: randomBytes(100), mimeType: 'application/x-msdownload' });
    const a = whatsappMessage('15551240002', { type: 'image', image: { id: big, mime_type: 'image/jpeg' } });
    const b = whatsappMessage('15551240003', { type: 'document', document: { id: exe, mime_type: 'application/x-msdownload', filename: 'setup.exe' } });
    expect((await post('whatsapp', a.body, 'wa-app-secret')).statusCode).toBe(200);
    expect((await post('whatsapp', b.body, 'wa-app-secret')).statusCode).toBe(200);
    const tooBig = await storedMessage(a.id);
    const notAllowed = await storedMessage(b.id);
    expect(tooBig.media).toEqual({ status: 'refused', reason: `too_large: ${MAX_BYTES + 1} bytes, the limit is ${MAX_BYTES} (MEDIA_MAX_BYTES)` });
    expect(notAllowed.media).toEqual({ status: 'refused', reason: 'type_not_allowed: application/x-msdownload is not in MEDIA_ALLOWED_TYPES' });
    expect(rig.graph.requests.filter((r) => r.kind === 'whatsapp.media_download' && (r.path.endsWith(big) || r.path.endsWith(exe)))).toHaveLength(0);
    const res = await api('GET', `/conversations/${tooBig.row.conversationId}/messages/${tooBig.row.id}/media`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'media_unavailable', message: expect.stringContaining('too_large') });
  });

  it('retries a download Meta failed for now, into the same key, and records one it refuses for good as failed', async () => {
    const mediaId = rig.graph.addMedia({ bytes: PNG, mimeType: 'image/png' });
    let failures = 1;
    const stop = rig.graph.failFor((r) => r.kind === 'whatsapp.media_download' && r.path.endsWith(mediaId) && failures-- > 0, { code: 2, status: 503 });
    try {
      const retried = whatsappMessage('15551240007', { type: 'image', image: { id: mediaId, mime_type: 'image/png' } });
      expect((await post('whatsapp', retried.body, 'wa-app-secret')).statusCode).toBe(200);
      const { media } = await storedMessage(retried.id);
      expect(media).toMatchObject({ status: 'stored', key: `${rig.tenantId}/${inboundMediaName('whatsapp', retried.id)}` });
      expect(rig.graph.requests.filter((r) => r.kind === 'whatsapp.media_download' && r.path.endsWith(mediaId)).map((r) => r.status)).toContain(503);
      expect(await storage().get((media as { key: string }).key)).toEqual(PNG);
    } finally {
      stop();
    }
    // An id Meta does not know (code 100): permanent, recorded at once.
    const gone = whatsappMessage('15551240008', { type: 'document', document: { id: '999000111222', mime_type: 'application/pdf', filename: 'gone.pdf' } });
    expect((await post('whatsapp', gone.body, 'wa-app-secret')).statusCode).toBe(200);
    const { media } = await storedMessage(gone.id);
    expect(media).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^download_failed: WhatsApp media lookup failed \(HTTP 400, code 100/) });
  });

  it('fetches a Messenger attachment from its payload URL', async () => {
    const psid = `7${Date.now()}`;
    const url = rig.graph.addAttachment({ bytes: PNG, mimeType: 'image/png' });
    const mid = `m_${randomBytes(8).toString('hex')}`;
    const body = { object: 'page', entry: [{ id: rig.pageId, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: rig.pageId }, timestamp: Date.now(), message: { mid, attachments: [{ type: 'image', payload: { url } }] } }] }] };
    expect((await post('messenger', body, 'page-app-secret')).statusCode).toBe(200);
    const { media } = await storedMessage(mid);
    expect(media).toMatchObject({ status: 'stored', mimeType: 'image/png', sizeBytes: PNG.byteLength });
    expect(await storage().get((media as { key: string }).key)).toEqual(PNG);
  });

  it('fetches an Instagram attachment from its CDN URL', async () => {
    const igsid = `${Date.now()}1`;
    const url = rig.graph.addAttachment({ bytes: PNG, mimeType: 'image/png' });
    const mid = `aWdfZAG1faXRlbToxOklH${randomBytes(8).toString('hex')}`;
    const event = { sender: { id: igsid }, recipient: { id: rig.instagramAccountId }, timestamp: Date.now(), message: { mid, attachments: [{ type: 'image', payload: { url } }] } };
    expect((await post('instagram', { object: 'instagram', entry: [{ id: rig.instagramAccountId, time: Date.now(), messaging: [event] }] }, 'ig-app-secret')).statusCode).toBe(200);
    const { media } = await storedMessage(mid);
    expect(media).toMatchObject({ status: 'stored', mimeType: 'image/png', sizeBytes: PNG.byteLength });
  });

  it('transcribes a voice note with OpenAI and answers the transcript', async () => {
    const from = '15551240004';
    const ogg = randomBytes(2_000);
    openai.transcriptions.respond('Hello there');
    const { id, body } = whatsappMessage(from, { type: 'audio', audio: { id: rig.graph.addMedia({ bytes: ogg, mimeType: 'audio/ogg; codecs=opus' }), mime_type: 'audio/ogg; codecs=opus', voice: true } });
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
    const reply = await eventually(() => rig.graph.delivered.find((d) => d.to === from), 20_000, 'a reply');
    // The local assistant greets back: the transcript was the turn's question.
    expect(reply.text).toBe('Hello! How can I help you today?');
    const { content } = await storedMessage(id);
    expect(content).toMatchObject({ transcript: 'Hello there', transcriptModel: 'whisper-1', media: { status: 'stored', mimeType: 'audio/ogg', filename: 'audio.ogg' } });
    const heard = openai.transcriptions.requests.filter((r) => r.status === 200);
    expect(heard[0]).toMatchObject({ model: 'whisper-1', filename: 'audio.ogg', mimeType: 'audio/ogg' });
    expect(heard[0]!.bytes).toEqual(ogg);
  });

  it('gives an image to a vision-capable OpenAI model as an image content part', async () => {
    const settings = (await tdb().tenant.findFirst({ select: { settings: true } }))!.settings as Record<string, unknown>;
    await tdb().tenant.update({ where: { id: rig.tenantId }, data: { settings: { ...settings, llm: { ...(settings.llm as object), provider: 'openai', model: 'gpt-4o' } } } });
    try {
      openai.respond(() => ({ text: 'A tiny picture.' }));
      const from = '15551240005';
      const { body } = whatsappMessage(from, { type: 'image', image: { id: rig.graph.addMedia({ bytes: PNG, mimeType: 'image/png' }), mime_type: 'image/png', caption: 'What is this?' } });
      expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
      expect((await eventually(() => rig.graph.delivered.find((d) => d.to === from), 20_000, 'a reply')).text).toBe('A tiny picture.');
      const asked = openai.requests.map((r) => r.body as { messages: { role: string; content: unknown }[] }).find((b) => JSON.stringify(b).includes('What is this?'))!;
      expect(asked.messages.at(-1)).toEqual({
        role: 'user',
        content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG.toString('base64')}` } }],
      });
    } finally {
      await tdb().tenant.update({ where: { id: rig.tenantId }, data: { settings: settings as object } });
    }
  });

  it('adds a document a customer sent to the knowledge base on request', async () => {
    const txt = Buffer.from('Opening hours: 9 to 5, Monday to Friday.\n');
    const { id, body } = whatsappMessage('15551240006', { type: 'document', document: { id: rig.graph.addMedia({ bytes: txt, mimeType: 'text/plain' }), mime_type: 'text/plain', filename: 'hours.txt' } });
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
    const { row } = await storedMessage(id);
    const res = await api('POST', `/conversations/${row.conversationId}/messages/${row.id}/media/knowledge`, { title: 'Opening hours' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ title: 'Opening hours', filename: 'hours.txt', format: 'text', status: 'pending', sizeBytes: txt.byteLength });
    const doc = await tdb().document.findFirst({ where: { id: res.json().id } });
    expect(await storage().get(doc!.storageKey!)).toEqual(txt);
    const described = await temporal.client.workflow.getHandle(res.json().workflowId).describe();
    expect(described.type).toBe('ingestDocument');
    // An image is no document.
    const image = await tdb().message.findFirst({ where: { type: 'image', content: { path: ['media', 'status'], equals: 'stored' } } });
    expect((await api('POST', `/conversations/${image!.conversationId}/messages/${image!.id}/media/knowledge`)).statusCode).toBe(415);
  });

  it('erasing an end user deletes the files they sent', async () => {
    const { row, media } = await storedMessage((await tdb().message.findFirst({ where: { channel: 'whatsapp', type: 'image', content: { path: ['caption'], equals: 'What is this?' } } }))!.externalMessageId!);
    const file = (media as { key: string }).key;
    expect(await storage().get(file)).toEqual(PNG);
    const conversation = await tdb().conversation.findFirst({ where: { id: row.conversationId } });
    const res = await app.inject({ method: 'DELETE', url: `/api/v1/end-users/whatsapp/${conversation!.externalUserId}`, headers: { authorization: `Bearer ${key}` } });
    expect(res.statusCode).toBe(200);
    await expect(storage().get(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("sends an agent's image on WhatsApp (uploaded, then sent by media id) and an uploaded document on Messenger", async () => {
    const image = await tdb().message.findFirst({ where: { channel: 'whatsapp', type: 'image', content: { path: ['media', 'status'], equals: 'stored' } } });
    const conversation = await tdb().conversation.findFirst({ where: { id: image!.conversationId } });
    expect((await api('POST', `/conversations/${conversation!.id}/take`, { agentId: 'agent-1' })).statusCode).toBe(200);
    const sent = await api('POST', `/conversations/${conversation!.id}/messages`, { agentId: 'agent-1', text: 'Is this the one?', attachment: { messageId: image!.id } });
    expect(sent.statusCode).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'sent' });
    const upload = rig.graph.requests.find((r) => r.kind === 'whatsapp.media_upload');
    expect(upload).toMatchObject({ status: 200, body: { messaging_product: 'whatsapp', type: 'image/png', file: { filename: 'image.png', type: 'image/png' } } });
    const out = rig.graph.deliveredMedia.find((d) => d.to === conversation!.externalUserId)!;
    expect(out).toMatchObject({ channel: 'whatsapp', type: 'image', mimeType: 'image/png' });
    expect(out.bytes).toEqual(PNG);
    expect(rig.graph.delivered.find((d) => d.to === conversation!.externalUserId && d.text === 'Is this the one?')).toBeDefined();
    const stored = await tdb().message.findFirst({ where: { id: sent.json().messageId } });
    expect(stored!.content).toMatchObject({ attachment: { kind: 'image', key: (image!.content as { media: { key: string } }).media.key } });
    expect(stored!.status).toBe('sent');

    const messenger = await tdb().conversation.findFirst({ where: { channel: { type: 'messenger' } } });
    expect((await api('POST', `/conversations/${messenger!.id}/take`, { agentId: 'agent-1' })).statusCode).toBe(200);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(300)]);
    const textsBefore = rig.graph.delivered.filter((d) => d.to === messenger!.externalUserId).length;
    const doc = await api('POST', `/conversations/${messenger!.id}/messages`, { agentId: 'agent-1', attachment: { filename: 'invoice.pdf', mimeType: 'application/pdf', data: pdf.toString('base64') } });
    expect(doc.json()).toMatchObject({ status: 'sent' });
    const file = rig.graph.deliveredMedia.find((d) => d.to === messenger!.externalUserId)!;
    expect(file).toMatchObject({ channel: 'messenger', type: 'file', mimeType: 'application/pdf', filename: 'invoice.pdf' });
    expect(file.bytes).toEqual(pdf);
    // Nothing but the file: a message without text sends no text part.
    expect(rig.graph.delivered.filter((d) => d.to === messenger!.externalUserId)).toHaveLength(textsBefore);

    const bad = await api('POST', `/conversations/${messenger!.id}/messages`, { agentId: 'agent-1', attachment: { messageId: randomUUID() } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_attachment');
    const empty = await api('POST', `/conversations/${messenger!.id}/messages`, { agentId: 'agent-1' });
    expect(empty.statusCode).toBe(400);
  });
});
