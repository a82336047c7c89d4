// Choices on each channel against the fake Graph API over real HTTP, which checks Meta's limits:
// WhatsApp reply buttons, a list, and numbered text beyond a list; Messenger the button template,
// quick replies and text; the HUMAN_AGENT tag.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGraphApi, type FakeGraphApi } from '../../test/fakes/graph-api.ts';
import type { ChoiceSet } from '../../workflows/types.ts';
import { MessengerClient } from './messenger.ts';
import { WhatsAppClient } from './whatsapp.ts';

const TOKEN = 'EAAtestInteractiveToken0123456789';
const choices = (n: number, title = (i: number) => `Option ${i + 1}`): ChoiceSet => ({ items: Array.from({ length: n }, (_, i) => ({ id: `opt_${i + 1}`, title: title(i) })) });

let fake: FakeGraphApi;
let whatsapp: WhatsAppClient;
let messenger: MessengerClient;

beforeAll(async () => {
  fake = await startFakeGraphApi({ accessTokens: [TOKEN] });
  whatsapp = new WhatsAppClient({ graphApiUrl: fake.url, phoneNumberId: '106540352242922', accessToken: TOKEN, timeoutMs: 2000 });
  messenger = new MessengerClient({ graphApiUrl: fake.url, pageAccessToken: TOKEN, timeoutMs: 2000 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const bodies = () => fake.requests.map((r) => r.body as Record<string, any>);

describe('WhatsApp choices', () => {
  it('up to 3 short titles: reply buttons with our ids', async () => {
    await whatsapp.sendText('16505551234', 'Which size?', { choices: choices(3) });
    expect(bodies()).toEqual([
      {
        messaging_product: 'whatsapp', recipient_type: 'individual', to: '16505551234', type: 'interactive',
        interactive: { type: 'button', body: { text: 'Which size?' }, action: { buttons: [1, 2, 3].map((n) => ({ type: 'reply', reply: { id: `opt_${n}`, title: `Option ${n}` } })) } },
      },
    ]);
    expect(fake.delivered[0]).toMatchObject({ text: 'Which size?', choices: ['Option 1', 'Option 2', 'Option 3'] });
  });

  it('more than 3, or a description: a list with its button label', async () => {
    await whatsapp.sendText('16505551234', 'Pick a store', { choices: { ...choices(10), button: 'Stores' } });
    await whatsapp.sendText('16505551234', 'Pick one', { choices: { items: [{ id: 'a', title: 'A', description: 'The first' }] } });
    const [ten, described] = bodies();
    expect(ten!.interactive).toMatchObject({ type: 'list', action: { button: 'Stores', sections: [{ rows: expect.arrayContaining([{ id: 'opt_10', title: 'Option 10' }]) }] } });
    expect(ten!.interactive.action.sections[0].rows).toHaveLength(10);
    expect(described!.interactive).toMatchObject({ type: 'list', action: { button: 'Options', sections: [{ rows: [{ id: 'a', title: 'A', description: 'The first' }] }] } });
  });

  it('a body longer than the buttons take goes first as text, the buttons ride on the last part', async () => {
    const long = `${'Long sentence here. '.repeat(60).trim()}`; // 1199 characters
    await whatsapp.sendText('16505551234', long, { choices: choices(2) });
    const sent = bodies();
    expect(sent.map((b) => b.type)).toEqual(['text', 'interactive']);
    expect(sent[1]!.interactive.body.text.length).toBeLessThanOrEqual(1024);
  });

  it('what no list can hold goes out as numbered text', async () => {
    await whatsapp.sendText('16505551234', 'Pick', { choices: choices(2, (i) => `A title of 25 characters${i}`) });
    expect(bodies()[0]).toMatchObject({ type: 'text', text: { body: 'Pick\n\n1. A title of 25 characters0\n2. A title of 25 characters1' } });
  });
});

describe('Messenger choices and tags', () => {
  it('up to 3 choices under 640 characters: a button template whose postbacks carry our ids', async () => {
    await messenger.sendText('PSID1', 'Which size?', { choices: choices(2) });
    expect(bodies()[0]).toEqual({
      recipient: { id: 'PSID1' },
      messaging_type: 'RESPONSE',
      message: {
        attachment: { type: 'template', payload: { template_type: 'button', text: 'Which size?', buttons: [1, 2].map((n) => ({ type: 'postback', title: `Option ${n}`, payload: `opt_${n}` })) } },
        metadata: 'metachat',
      },
    });
  });

  it('more choices: quick replies on the last part', async () => {
    await messenger.sendText('PSID1', 'Pick a store', { choices: choices(5) });
    expect(bodies()[0]!.message).toEqual({ text: 'Pick a store', quick_replies: [1, 2, 3, 4, 5].map((n) => ({ content_type: 'text', title: `Option ${n}`, payload: `opt_${n}` })), metadata: 'metachat' });
    expect(fake.delivered[0]!.choices).toHaveLength(5);
  });

  it('a title longer than Messenger takes: numbered text', async () => {
    await messenger.sendText('PSID1', 'Pick', { choices: choices(1, () => 'Twenty-one characters') });
    expect(bodies()[0]!.message).toEqual({ text: 'Pick\n\n1. Twenty-one characters', metadata: 'metachat' });
  });

  it('a HUMAN_AGENT reply is a MESSAGE_TAG message', async () => {
    await messenger.sendText('PSID1', 'Sorry for the wait', { tag: 'HUMAN_AGENT' });
    expect(bodies()[0]).toMatchObject({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'Sorry for the wait' } });
  });
});
