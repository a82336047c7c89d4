// Outbound calls to tenant URLs (functions, webhook endpoints, a tenant's own model base URL) check
// the address they connect to, not only the name written in the URL: a name that resolves to
// 127.0.0.1 is refused at connect time, redirects are not followed, and what the tenant is told
// of a failure is the same whether the address was refused, the port closed or the call timed out.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import getPort from 'get-port';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunctionActivities } from '../activities/llm/functions.ts';
import { createLlmActivities } from '../activities/llm/index.ts';
import { createOpenAiProvider } from '../activities/llm/openai.ts';
import { ProviderError, type ChatRequest } from '../activities/llm/provider.ts';
import { createWebhookActivities } from '../activities/webhooks.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Config } from '../lib/config.ts';
import { createDb, type Db } from '../lib/db.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { setLlmCredential } from '../lib/llm-credentials.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { tenantDispatcher, tenantFetch, UNREACHABLE, type ResolveAll } from '../lib/tenant-urls.ts';
import { createWebhookEndpoint, type WebhookDispatcher } from '../lib/tenant-webhooks.ts';
import { createTenant } from '../lib/tenants.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { testConfig } from './support/config.ts';
import { createMigratedDatabase } from './support/database.ts';

/** A hostile DNS zone: every name maps to this machine. */
const toLoopback: ResolveAll = async () => [{ address: '127.0.0.1', family: 4 }];

const chat: ChatRequest = { model: 'gpt-4o-mini', system: 'be brief', messages: [{ role: 'user', text: 'hi' }], tools: [], temperature: 0, maxTokens: 50, timeoutMs: 5000 };

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number; hits: number }> {
  const state = { server: undefined as unknown as Server, port: 0, hits: 0 };
  state.server = createServer((req, res) => {
    state.hits++;
    handler!(req, res);
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

describe('outbound tenant URLs', () => {
  let config: Config;
  let db: Db;
  let tenantId: string;
  let receiver: Awaited<ReturnType<typeof listen>>;
  let silent: Awaited<ReturnType<typeof listen>>;
  let openai: FakeOpenAi;
  let closedPort: number;
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logs.push(String(chunk)), done()) }));

  beforeAll(async () => {
    config = testConfig({ DATABASE_URL: await createMigratedDatabase('tenant_urls') });
    db = createDb(config, 'tenant-urls-test');
    tenantId = (await createTenant(db, { name: 'Urls', slug: `urls-${randomBytes(4).toString('hex')}` })).tenant.id;
    receiver = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    silent = await listen(() => undefined); // accepts, never answers
    openai = await startFakeOpenAi();
    closedPort = await getPort();
  });

  afterAll(async () => {
    for (const s of [receiver, silent]) s?.server.closeAllConnections();
    await Promise.all([receiver, silent].map((s) => s && new Promise<void>((r) => s.server.close(() => r()))));
    await openai?.close();
    await db?.$disconnect();
  });

  async function failureOf(p: Promise<unknown>): Promise<Error> {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a failure');
  }

  it('a function whose name resolves to 127.0.0.1 is refused at connect time, with the message a closed port or a timeout gets', async () => {
    const tdb = forTenant(db, tenantId);
    const fn = (name: string, endpoint: string) =>
      createTenantFunction(tdb, config.SECRETS_KEYS, { name, description: name, parameters: { type: 'object' }, endpoint, secret: 'fn-secret-0123456789', timeoutMs: 500 }, { allowHttp: true });
    await fn('rebound', `https://fn.rebind.example:${receiver.port}/x`);
    await fn('closed', `http://127.0.0.1:${closedPort}/x`);
    await fn('slow', `http://127.0.0.1:${silent.port}/x`);
    const env = new MockActivityEnvironment();
    const call = (name: string, allowInsecure: boolean) => {
      const activities = createFunctionActivities({ db, keyring: config.SECRETS_KEYS, allowInsecureFunctionEndpoints: allowInsecure, connections: tenantDispatcher({ allowInsecure, resolve: toLoopback }) });
      return env.run(activities.callTenantFunction, { tenantId, name, arguments: '{}', callId: randomBytes(4).toString('hex') });
    };

    const before = receiver.hits;
    const refused = await failureOf(call('rebound', false));
    expect(receiver.hits).toBe(before);
    const closed = await failureOf(call('closed', true));
    const slow = await failureOf(call('slow', true));
    for (const [err, name] of [[refused, 'rebound'], [closed, 'closed'], [slow, 'slow']] as const) {
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err.message).toBe(`function ${name} ${UNREACHABLE}`);
    }
  });

  it('a webhook endpoint whose name resolves to 127.0.0.1 is refused, and the delivery log says what it says of a closed port or a timeout', async () => {
    const tdb = forTenant(db, tenantId);
    const event = await tdb.event.create({ data: tenantData<Prisma.EventUncheckedCreateInput>({ type: 'conversation.closed', payload: { conversationId: 'c' } }) });
    const attempt = async (url: string, allowInsecure: boolean) => {
      const { endpoint } = await createWebhookEndpoint(tdb, config.SECRETS_KEYS, { url }, { allowHttp: true });
      const delivery = await tdb.webhookDelivery.create({ data: tenantData<Prisma.WebhookDeliveryUncheckedCreateInput>({ endpointId: endpoint.id, eventId: event.id, eventType: event.type }) });
      const activities = createWebhookActivities({
        db, keyring: config.SECRETS_KEYS, logger, dispatcher: {} as WebhookDispatcher, allowInsecureEndpoints: allowInsecure,
        connections: tenantDispatcher({ allowInsecure, resolve: toLoopback }),
      });
      await failureOf(new MockActivityEnvironment().run(activities.attemptWebhookDelivery, { deliveryId: delivery.id, tenantId, timeoutMs: 500 }));
      return tdb.webhookDelivery.findFirstOrThrow({ where: { id: delivery.id } });
    };

    const before = receiver.hits;
    const refused = await attempt(`https://hooks.rebind.example:${receiver.port}/hook`, false);
    expect(receiver.hits).toBe(before);
    const closed = await attempt(`http://127.0.0.1:${closedPort}/hook`, true);
    const slow = await attempt(`http://127.0.0.1:${silent.port}/hook`, true);
    for (const d of [refused, closed, slow]) expect(d).toMatchObject({ lastStatusCode: null, lastError: `the endpoint ${UNREACHABLE}` });
    // The detail is for operators, at debug level.
    const details = logs.map((l) => JSON.parse(l) as { level: number; msg: string; detail?: string }).filter((l) => l.msg === 'webhook attempt: no connection');
    expect(details.map((l) => l.level)).toEqual([20, 20, 20]);
    expect(details[0]!.detail).toBe('ERR_TENANT_ADDRESS_REFUSED');
    expect(details[1]!.detail).toBe('ECONNREFUSED');
  });

  it("a tenant's model base URL on 127.0.0.1 is refused when insecure URLs are off, and works when they are on", async () => {
    const provider = (allowInsecure: boolean) => createOpenAiProvider({ apiKey: FAKE_OPENAI_KEY, baseURL: openai.url, fetch: tenantFetch(tenantDispatcher({ allowInsecure })) });
    const before = openai.requests.length;
    const err = await failureOf(provider(false).complete(chat));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toBe(`OpenAI ${UNREACHABLE}`);
    expect(openai.requests.length).toBe(before);

    openai.respond(() => ({ text: 'Hello from the fake.' }));
    expect((await provider(true).complete(chat)).text).toBe('Hello from the fake.');
  });

  it("generateReply sends a tenant's own base URL through the connect-time check, and the platform's base URL not", async () => {
    const slug = `own-llm-${randomBytes(4).toString('hex')}`;
    const own = (await createTenant(db, { name: slug, slug, settings: { llm: { provider: 'openai', model: 'gpt-4o-mini' } } })).tenant.id;
    const activities = (allowInsecure: boolean) =>
      createLlmActivities({
        db, keyring: config.SECRETS_KEYS, openai: { apiKey: FAKE_OPENAI_KEY, baseURL: openai.url },
        allowInsecureFunctionEndpoints: allowInsecure, tenantConnections: tenantDispatcher({ allowInsecure, resolve: toLoopback }),
      });
    const reply = (allowInsecure: boolean) =>
      new MockActivityEnvironment().run(activities(allowInsecure).generateReply, { tenantId: own, question: 'hi', passages: [], history: [], attachments: [], handoffKeyword: 'human' }) as Promise<{ text: string }>;
    openai.respond(() => ({ text: 'Answered.' }));

    // The platform's own base URL (the operator's, on 127.0.0.1 here) is not a tenant URL.
    expect((await reply(false)).text).toBe('Answered.');

    const port = new URL(openai.url).port;
    await setLlmCredential(forTenant(db, own), config.SECRETS_KEYS, own, 'openai', { apiKey: FAKE_OPENAI_KEY, baseUrl: `https://llm.rebind.example:${port}/v1` });
    const before = openai.requests.length;
    const refused = await failureOf(reply(false));
    expect(refused.message).toBe(`OpenAI ${UNREACHABLE}`);
    expect(openai.requests.length).toBe(before);

    await setLlmCredential(forTenant(db, own), config.SECRETS_KEYS, own, 'openai', { apiKey: FAKE_OPENAI_KEY, baseUrl: `http://llm.rebind.example:${port}/v1` }, { allowHttp: true });
    expect((await reply(true)).text).toBe('Answered.');
    expect(openai.requests.length).toBe(before + 1);
  });

  it("the model SDK does not follow a tenant base URL's redirect", async () => {
    const bouncer = await listen((req, res) => res.writeHead(307, { location: `${openai.url}${(req.url ?? '').replace(/^\/v1/, '')}` }).end());
    try {
      const before = openai.requests.length;
      const provider = createOpenAiProvider({ apiKey: FAKE_OPENAI_KEY, baseURL: `http://127.0.0.1:${bouncer.port}/v1`, fetch: tenantFetch(tenantDispatcher({ allowInsecure: true })) });
      const err = await failureOf(provider.complete(chat));
      expect(err.message).toBe(`OpenAI ${UNREACHABLE}`);
      expect(bouncer.hits).toBe(1);
      expect(openai.requests.length).toBe(before);
    } finally {
      await new Promise<void>((r) => bouncer.server.close(() => r()));
    }
  });
});
