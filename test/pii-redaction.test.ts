// Personal data stays out of model requests (tenant setting privacy.redactPii): a WhatsApp
// question with an email address, a phone number and a card number goes through the real worker
// and conversation workflow to the fake OpenAI server, which records every request body; the model
// sees placeholders, the tenant's function is called with the real values, and the customer reads
// their own values in the reply.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import type { TenantSettingsInput } from '../lib/tenant-settings.ts';
import type { FakeLlmServer } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const EMAIL = 'ana.silva@example.com';
const PHONE = '+44 20 7946 0958';
const CARD = '4111 1111 1111 1111';
const QUESTION = `My email is ${EMAIL}, phone ${PHONE}. I paid with ${CARD}: where is order A-1?`;

describe('PII redaction before the model', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let openai: FakeLlmServer;
  const calls: { arguments: Record<string, unknown> }[] = [];
  const fn = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      calls.push(JSON.parse(raw) as { arguments: Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'shipped', notified: calls.at(-1)!.arguments.email }));
    });
  });

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    openai = await startFakeOpenAi();
    await new Promise<void>((r) => fn.listen(0, '127.0.0.1', r));
    rig = await createConversationRig(temporal.client, { llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY }, allowInsecureFunctionEndpoints: true } });
    await createTenantFunction(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, {
      name: 'order_status',
      description: 'Status of an order; sends a notice to the email given',
      parameters: { type: 'object', properties: { orderId: { type: 'string' }, email: { type: 'string' } }, required: ['orderId', 'email'], additionalProperties: false },
      endpoint: `http://127.0.0.1:${(fn.address() as AddressInfo).port}/order-status`,
      secret: 'fn-secret-0123456789abcdef',
      timeoutMs: 5000,
    }, { allowHttp: true });
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await rig?.close();
    await openai?.close();
    await new Promise<void>((r) => fn.close(() => r()));
    await temporal?.close();
  });
  beforeEach(() => {
    openai.reset();
    calls.length = 0;
  });

  const useSettings = (settings: TenantSettingsInput) =>
    rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 0 }, llm: { provider: 'openai' }, ...settings } as object } });
  const ask = async (question: string) => {
    const to = `1555${Math.floor(Math.random() * 1e7)}`;
    await rig.deliver('whatsapp', to, [text(question)]);
    return (await eventually(() => rig.graph.delivered.find((d) => d.to === to), 30_000, 'a reply')).text;
  };
  /** The model answers with a tool call carrying the email's placeholder, then a reply naming the placeholders. */
  const modelUsesPlaceholders = () =>
    openai.respond((call, n) => {
      if (n === 0) return { toolCalls: [{ name: 'order_status', arguments: { orderId: 'A-1', email: /\[EMAIL_\d+\]/.exec(call.messages.at(-1)!.text)?.[0] ?? 'none' } }] };
      return { text: `Order A-1 is shipped; the notice went to [EMAIL_1], and we will call [PHONE_1] if needed. Card [CARD_1] was charged.` };
    });

  it('sends placeholders to the model, calls the function with the real values, and restores them in the reply', async () => {
    await useSettings({});
    modelUsesPlaceholders();
    const reply = await ask(QUESTION);
    expect(reply).toBe(`Order A-1 is shipped; the notice went to ${EMAIL}, and we will call ${PHONE} if needed. Card ${CARD} was charged.`);
    expect(calls).toEqual([expect.objectContaining({ arguments: { orderId: 'A-1', email: EMAIL } })]);

    expect(openai.requests).toHaveLength(2);
    for (const request of openai.requests) {
      const body = JSON.stringify(request.body);
      for (const value of [EMAIL, PHONE, '7946 0958', CARD, '4111111111111111']) expect(body).not.toContain(value);
    }
    const [first, second] = openai.requests.map((r) => r.body as { messages: { role: string; content: string }[] });
    expect(first!.messages.at(-1)!.content).toBe('My email is [EMAIL_1], phone [PHONE_1]. I paid with [CARD_1]: where is order A-1?');
    // The function's result (it echoes the email) reaches the model redacted too.
    expect(JSON.stringify(second!.messages)).toContain('"notified\\":\\"[EMAIL_1]\\"');
  });

  it('sends the text as written when the tenant turns redaction off', async () => {
    await useSettings({ privacy: { redactPii: false } });
    openai.respond(() => ({ text: 'Noted.' }));
    expect(await ask(`Write to ${EMAIL} please`)).toBe('Noted.');
    expect(JSON.stringify(openai.requests[0]!.body)).toContain(EMAIL);
  });
});
