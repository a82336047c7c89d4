// The WhatsApp client against the fake Graph API over real HTTP: the exact request Meta expects,
// and the failure Temporal needs for each way a call can go wrong.
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGraphApi, type FakeGraphApi } from '../../test/fakes/graph-api.ts';
import { GRAPH_PERMANENT_ERROR, GRAPH_THROTTLED_ERROR, GRAPH_TRANSIENT_ERROR } from './graph-errors.ts';
import { splitMessage, WHATSAPP_TEXT_LIMIT, type PartialSendDetails } from './split-message.ts';
import { WhatsAppClient } from './whatsapp.ts';

const TOKEN = 'EAAtestWhatsAppToken0123456789abcdef';

let fake: FakeGraphApi;
let client: WhatsAppClient;

beforeAll(async () => {
  fake = await startFakeGraphApi({ accessTokens: [TOKEN] });
  client = new WhatsAppClient({ graphApiUrl: fake.url, phoneNumberId: '106540352242922', accessToken: TOKEN, timeoutMs: 2000 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/** Three paragraphs of ~3000 characters: three parts at the 4096 limit. */
const longReply = ['A', 'B', 'C'].map((p) => `${p}${'x'.repeat(20)} `.repeat(140).trim()).join('\n\n');

describe('WhatsAppClient.sendText', () => {
  it('sends the Cloud API text message shape with the token in the header only', async () => {
    const result = await client.sendText('+1 (555) 010-0001', 'Hello! See https://example.com');
    expect(result.messageIds).toHaveLength(1);
    expect(result.messageIds[0]).toMatch(/^wamid\./);
    expect(result.partCount).toBe(1);

    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v21.0/106540352242922/messages', query: {}, status: 200 });
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+1 (555) 010-0001',
      type: 'text',
      text: { body: 'Hello! See https://example.com', preview_url: true },
    });
    expect(req!.response).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+1 (555) 010-0001', wa_id: '15550100001' }],
      messages: [{ id: result.messageIds[0] }],
    });
  });

  it('asks for no link preview when there is no link', async () => {
    await client.sendText('15550100001', 'Plain text');
    expect(fake.requests[0]!.body).toMatchObject({ text: { body: 'Plain text', preview_url: false } });
  });

  it('sends a long reply as parts in order, each within the limit, and returns every id', async () => {
    const expected = splitMessage(longReply, WHATSAPP_TEXT_LIMIT);
    expect(expected).toHaveLength(3);
    const result = await client.sendText('15550100001', longReply);
    expect(fake.delivered.map((d) => d.text)).toEqual(expected);
    expect(result.messageIds).toEqual(fake.delivered.map((d) => d.messageId));
    expect(new Set(result.messageIds).size).toBe(3);
  });

  it('throws a retryable failure on each 500 and succeeds once the Graph API recovers', async () => {
    // The client does not retry: Temporal calls it again. Two failed attempts, then one that works.
    fake.failNext(2, { code: 2 });
    for (let attempt = 0; attempt < 2; attempt++) {
      const failure = await failureOf(client.sendText('15550100001', 'hi'));
      expect(failure).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
      expect(failure.details?.[0]).toMatchObject({ httpStatus: 500, code: 2, sentMessageIds: [], failedPartIndex: 0, partCount: 1 });
    }
    expect((await client.sendText('15550100001', 'hi')).messageIds).toHaveLength(1);
    expect(fake.requests.map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('says which parts were delivered when part k fails, and resumes from part k without resending', async () => {
    const parts = splitMessage(longReply, WHATSAPP_TEXT_LIMIT);
    const removeRule = fake.failFor((req) => (req.body as { text?: { body?: string } }).text?.body === parts[1], { code: 1 });

    const failure = await failureOf(client.sendText('15550100001', longReply));
    const details = failure.details?.[0] as PartialSendDetails;
    expect(failure).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
    expect(details).toMatchObject({ failedPartIndex: 1, partCount: 3, sentMessageIds: [fake.delivered[0]!.messageId] });

    removeRule();
    const resumed = await client.sendText('15550100001', longReply, { startAtPart: details.failedPartIndex });
    // Part 0 went out exactly once; parts 1 and 2 once each, in order.
    expect(fake.delivered.map((d) => d.text)).toEqual(parts);
    expect(resumed).toEqual({ messageIds: fake.delivered.slice(1).map((d) => d.messageId), partCount: 3 });
    expect(fake.requests.map((r) => r.status)).toEqual([200, 500, 200, 200]);
  });

  it('reports each accepted part as it goes, so an activity can heartbeat its progress', async () => {
    const seen: unknown[] = [];
    await client.sendText('15550100001', longReply, { onPartSent: (p) => void seen.push(p) });
    expect(seen).toEqual(fake.delivered.map((d, partIndex) => ({ partIndex, partCount: 3, messageId: d.messageId })));
  });

  it('fails permanently on a bad token, with the reason and without the token', async () => {
    const bad = new WhatsAppClient({ graphApiUrl: fake.url, phoneNumberId: '106540352242922', accessToken: 'EAAwrongToken9876543210zyxwvuts' });
    const failure = await failureOf(bad.sendText('15550100001', 'hi'));
    expect(failure).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ httpStatus: 401, code: 190, subcode: null, fbtraceId: expect.any(String) });
    expect(failure.message).toContain('code 190');
    expect(JSON.stringify([failure.message, failure.details])).not.toContain('EAAwrongToken');
  });

  it('fails permanently outside the 24-hour window (131047)', async () => {
    fake.failNext(1, { code: 131047, details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' });
    const failure = await failureOf(client.sendText('15550100001', 'hi'));
    expect(failure).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ code: 131047, message: expect.stringContaining('24 hours') });
  });

  it('turns 429 with Retry-After into nextRetryDelay', async () => {
    fake.failNext(1, { code: 130429, retryAfterSeconds: 7 });
    const failure = await failureOf(client.sendText('15550100001', 'hi'));
    expect(failure).toMatchObject({ type: GRAPH_THROTTLED_ERROR, nonRetryable: false, nextRetryDelay: 7000 });
  });

  it("honours Meta's estimated time to regain access when there is no Retry-After", async () => {
    fake.failNext(1, { code: 80007, regainAccessMinutes: 2 });
    expect(await failureOf(client.sendText('15550100001', 'hi'))).toMatchObject({ type: GRAPH_THROTTLED_ERROR, nextRetryDelay: 120_000 });
  });

  it('retries a timeout', async () => {
    const slow = new WhatsAppClient({ graphApiUrl: fake.url, phoneNumberId: '1', accessToken: TOKEN, timeoutMs: 100 });
    fake.delay(1000);
    const failure = await failureOf(slow.sendText('15550100001', 'hi'));
    expect(failure).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
    expect(failure.message).toContain('timeout');
  });

  it('retries a connection error and a proxy page, and does not resend a success it cannot read', async () => {
    const nowhere = new WhatsAppClient({ graphApiUrl: 'http://127.0.0.1:1/v21.0', phoneNumberId: '1', accessToken: TOKEN });
    expect(await failureOf(nowhere.sendText('1', 'hi'))).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });

    fake.failNext(1, { code: 0, status: 502, rawBody: '<html>502 Bad Gateway</html>' });
    expect(await failureOf(client.sendText('1', 'hi'))).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });

    fake.failNext(1, { code: 0, status: 200, rawBody: '<html>ok?</html>' });
    expect(await failureOf(client.sendText('1', 'hi'))).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
  });

  it('lets the caller cancel', async () => {
    fake.delay(1000);
    const controller = new AbortController();
    const sending = client.sendText('1', 'hi', { signal: controller.signal });
    controller.abort();
    await expect(sending).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('WhatsAppClient.markReadWithTyping', () => {
  it('marks the message read and shows the typing indicator in one call', async () => {
    await client.markReadWithTyping('wamid.HBgLMTU1NTAxMDAwMDEVAgASGBQzQTdBMjM');
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      path: '/v21.0/106540352242922/messages',
      kind: 'whatsapp.read',
      body: { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.HBgLMTU1NTAxMDAwMDEVAgASGBQzQTdBMjM', typing_indicator: { type: 'text' } },
      response: { success: true },
    });
  });

  it('classifies failures like sends', async () => {
    fake.failNext(1, { code: 100, message: '(#100) Invalid parameter' });
    expect(await failureOf(client.markReadWithTyping('wamid.x'))).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
  });
});
