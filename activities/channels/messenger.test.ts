// The Messenger client against the fake Graph API over real HTTP.
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGraphApi, type FakeGraphApi } from '../../test/fakes/graph-api.ts';
import { GRAPH_PERMANENT_ERROR, GRAPH_THROTTLED_ERROR, GRAPH_TRANSIENT_ERROR } from './graph-errors.ts';
import { MessengerClient } from './messenger.ts';
import { MESSENGER_TEXT_LIMIT, splitMessage, type PartialSendDetails } from './split-message.ts';

const TOKEN = 'EAApageToken0123456789abcdefABCDEF';
const PSID = '6789012345678901';

let fake: FakeGraphApi;
let client: MessengerClient;

beforeAll(async () => {
  fake = await startFakeGraphApi({ accessTokens: [TOKEN] });
  client = new MessengerClient({ graphApiUrl: `${fake.url}/`, pageAccessToken: TOKEN, timeoutMs: 2000 });
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

// Sentences of ~60 characters: ~4500 characters, three parts at the 2000 limit.
const longReply = Array.from({ length: 75 }, (_, i) => `Sentence number ${i} explains one more detail of the answer.`).join(' ');

describe('MessengerClient.sendText', () => {
  it('sends the Send API shape to /me/messages with the token in the header only', async () => {
    const result = await client.sendText(PSID, 'Hello from the page');
    expect(result.messageIds).toEqual([expect.stringMatching(/^m_/)]);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v21.0/me/messages', query: {}, kind: 'messenger.message' });
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.body).toEqual({ recipient: { id: PSID }, messaging_type: 'RESPONSE', message: { text: 'Hello from the page', metadata: 'metachat' } });
    expect(req!.response).toEqual({ recipient_id: PSID, message_id: result.messageIds[0] });
  });

  it('splits at sentence ends under 2000 characters and sends in order', async () => {
    const parts = splitMessage(longReply, MESSENGER_TEXT_LIMIT);
    expect(parts.length).toBe(3);
    expect(parts.every((p) => p.endsWith('.'))).toBe(true);
    const result = await client.sendText(PSID, longReply);
    expect(fake.delivered.map((d) => d.text)).toEqual(parts);
    expect(result.messageIds).toEqual(fake.delivered.map((d) => d.messageId));
  });

  it('resumes a partly delivered reply from the failed part', async () => {
    fake.failFor((req) => fake.delivered.length === 2 && req.kind === 'messenger.message', { code: 1200, message: 'Temporary send message failure. Please try again later' });
    const failure = await failureOf(client.sendText(PSID, longReply));
    const details = failure.details?.[0] as PartialSendDetails;
    expect(failure).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
    expect(details).toMatchObject({ failedPartIndex: 2, partCount: 3, sentMessageIds: fake.delivered.map((d) => d.messageId) });

    fake.reset();
    const resumed = await client.sendText(PSID, longReply, { startAtPart: details.failedPartIndex });
    expect(resumed.messageIds).toHaveLength(1);
    expect(fake.delivered.map((d) => d.text)).toEqual(splitMessage(longReply, MESSENGER_TEXT_LIMIT).slice(2));
  });

  it('fails permanently outside the messaging window (10 / 2018278)', async () => {
    fake.failNext(1, { code: 10, subcode: 2018278, message: '(#10) This message is sent outside of allowed window.' });
    const failure = await failureOf(client.sendText(PSID, 'late reply'));
    expect(failure).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ httpStatus: 403, code: 10, subcode: 2018278 });
  });

  it('fails permanently on an expired page token, without the token', async () => {
    const bad = new MessengerClient({ graphApiUrl: fake.url, pageAccessToken: 'EAAexpiredPageToken1234567890abcd' });
    const failure = await failureOf(bad.sendText(PSID, 'hi'));
    expect(failure).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ httpStatus: 401, code: 190 });
    expect(JSON.stringify([failure.message, failure.details])).not.toContain('EAAexpired');
  });

  it('waits as long as Retry-After says when throttled', async () => {
    fake.failNext(1, { code: 613, retryAfterSeconds: 12 });
    expect(await failureOf(client.sendText(PSID, 'hi'))).toMatchObject({ type: GRAPH_THROTTLED_ERROR, nextRetryDelay: 12_000 });
  });

  it('retries a timeout', async () => {
    const slow = new MessengerClient({ graphApiUrl: fake.url, pageAccessToken: TOKEN, timeoutMs: 100 });
    fake.delay(1000);
    expect(await failureOf(slow.sendText(PSID, 'hi'))).toMatchObject({ type: GRAPH_TRANSIENT_ERROR, nonRetryable: false });
  });
});

describe('MessengerClient.senderAction', () => {
  it.each(['typing_on', 'typing_off', 'mark_seen'] as const)('sends %s', async (action) => {
    await client.senderAction(PSID, action);
    expect(fake.requests[0]).toMatchObject({
      path: '/v21.0/me/messages',
      kind: 'messenger.sender_action',
      body: { recipient: { id: PSID }, sender_action: action },
      response: { recipient_id: PSID },
    });
    expect(fake.requests[0]!.body).not.toHaveProperty('messaging_type');
  });

  it('classifies failures', async () => {
    fake.failNext(1, { code: 551 });
    expect(await failureOf(client.senderAction(PSID, 'typing_on'))).toMatchObject({ type: GRAPH_PERMANENT_ERROR, nonRetryable: true });
  });
});
