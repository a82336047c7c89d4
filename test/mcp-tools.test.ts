// A tenant's MCP server as a tool source: a real MCP server (the SDK's McpServer over streamable
// HTTP on a local port, checking an auth header) registered through /api/v1/mcp-servers, its
// tools discovered and offered to the model beside tenant functions, and a tool call from the
// fake OpenAI server going through the conversation workflow to the reply. A retried call with
// the same call id returns the stored result without calling the tool again.
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunctionActivities, type FunctionCallResult } from '../activities/llm/functions.ts';
import { buildApp, type App } from '../api/app.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createTenantFunction } from '../lib/tenant-functions.ts';
import { createApiKey } from '../lib/tenants.ts';
import type { LlmCall } from './fakes/llm-server.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi, type FakeOpenAi } from './fakes/openai.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { MCP_TEST_TOKEN, startTestMcpServer, type TestMcpServer } from './support/mcp-server.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('MCP servers as tool sources', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let openai: FakeOpenAi;
  let mcp: TestMcpServer;
  let app: App;
  let key: string;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    [openai, mcp] = await Promise.all([startFakeOpenAi(), startTestMcpServer()]);
    rig = await createConversationRig(temporal.client, { llm: { openai: { baseURL: openai.url, apiKey: FAKE_OPENAI_KEY }, allowInsecureFunctionEndpoints: true } });
    const config = { ...rig.config, ALLOW_INSECURE_TENANT_URLS: true };
    app = await buildApp({ config, db: rig.db, temporal: createTemporalClient(config), logger: pino({ level: 'silent' }) });
    await app.ready();
    const tdb = forTenant(rig.db, rig.tenantId);
    key = (await createApiKey(tdb, { name: 'mcp test', scope: 'tenant' })).key;
    await createTenantFunction(tdb, rig.config.SECRETS_KEYS, {
      name: 'shop_refund',
      description: 'Refund by the tenant function',
      parameters: { type: 'object', properties: { orderId: { type: 'string' } } },
      endpoint: 'http://127.0.0.1:9/refund',
      secret: 'fn-secret-0123456789abcdef',
    }, { allowHttp: true });
    await rig.db.tenant.update({ where: { id: rig.tenantId }, data: { settings: { conversation: { quietWindowMs: 300 }, llm: { provider: 'openai' } } } });
    await rig.startWorkers(temporal.nativeConnection);
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await Promise.all([openai?.close(), mcp?.close()]);
    await temporal?.close();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload && { payload }) });

  it('registers a server, lists its tools with the auth header, and never shows the URL or the header values', async () => {
    const refused = await call('POST', '/api/v1/mcp-servers', { name: 'shop', url: mcp.url, headers: { 'Content-Type': 'text/plain' } });
    expect(refused.statusCode).toBe(400);
    expect(await rig.db.mcpServer.count()).toBe(0);

    const wrong = await call('POST', '/api/v1/mcp-servers', { name: 'wrong', url: mcp.url, headers: { Authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(201);
    expect(wrong.json()).toMatchObject({ tools: [], toolsError: expect.stringContaining('could not be reached') });
    expect((await call('DELETE', `/api/v1/mcp-servers/${wrong.json().id}`)).statusCode).toBe(204);

    const created = await call('POST', '/api/v1/mcp-servers', { name: 'shop', url: mcp.url, headers: { Authorization: MCP_TEST_TOKEN } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'shop',
      headerNames: ['Authorization'],
      toolsError: null,
      tools: [
        { name: 'order_lookup', offeredAs: 'shop_order_lookup', description: 'Status of an order' },
        { name: 'refund', offeredAs: 'shop_refund' },
      ],
    });
    expect(created.body).not.toContain('mcp-token');
    expect(created.body).not.toContain('/mcp');
    expect((await call('POST', '/api/v1/mcp-servers', { name: 'shop', url: mcp.url })).statusCode).toBe(409);
    const refreshed = await call('POST', `/api/v1/mcp-servers/${created.json().id}/refresh`);
    expect(refreshed.statusCode).toBe(200);
    expect(Date.parse(refreshed.json().toolsRefreshedAt)).toBeGreaterThanOrEqual(Date.parse(created.json().toolsRefreshedAt));
    expect((await call('GET', '/api/v1/mcp-servers')).json().items.map((s: { name: string }) => s.name)).toEqual(['shop']);
    expect(mcp.calls).toEqual([]);
  });

  it("offers the server's tools beside tenant functions and puts a tool's result in the reply", async () => {
    const seen: LlmCall[] = [];
    openai.respond((c, n) => {
      seen.push(c);
      if (n === 0) return { toolCalls: [{ name: 'shop_order_lookup', arguments: { orderId: 'A-7' } }] };
      return { text: `Here is what I found: ${c.toolResults[0]?.content}` };
    });
    const user = `1555${Math.floor(Math.random() * 1e7)}`;
    await rig.deliver('whatsapp', user, [text('Where is order A-7?')]);
    const [reply] = await eventually(() => rig.graph.delivered.filter((d) => d.to === user).length >= 1 && rig.graph.delivered.filter((d) => d.to === user), 30_000, 'a reply');
    expect(reply!.text).toBe('Here is what I found: Order A-7 is shipped, arriving Friday.');
    expect(seen[0]!.tools.filter((t) => t.startsWith('shop_')).sort()).toEqual(['shop_order_lookup', 'shop_refund']);
    expect(mcp.calls).toEqual([{ tool: 'order_lookup', args: { orderId: 'A-7' } }]);
    const recorded = await forTenant(rig.db, rig.tenantId).mcpToolCall.findMany();
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ tool: 'order_lookup', isError: false, content: 'Order A-7 is shipped, arriving Friday.' });
  });

  it('a retried call with the same call id returns the stored result; a name a tenant function has runs the function', async () => {
    const activities = createFunctionActivities({ db: rig.db, keyring: rig.config.SECRETS_KEYS, allowInsecureFunctionEndpoints: true });
    const env = new MockActivityEnvironment();
    const input = { tenantId: rig.tenantId, name: 'shop_order_lookup', arguments: '{"orderId":"B-2"}', callId: 'call_retry_1' };
    const before = mcp.calls.length;
    const first = await env.run(activities.callTenantFunction, input);
    const again = await env.run(activities.callTenantFunction, input);
    expect(again).toEqual(first);
    expect(first).toEqual({ content: 'Order B-2 is shipped, arriving Friday.', isError: false });
    expect(mcp.calls.length).toBe(before + 1);

    const invalid = (await env.run(activities.callTenantFunction, { ...input, arguments: '{"orderId":""}', callId: 'call_invalid' })) as FunctionCallResult;
    expect(invalid.isError).toBe(true);
    expect(invalid.content).toContain('invalid arguments, not called');
    // shop_refund is the tenant function's (its endpoint is a closed port), never the MCP tool.
    await expect(env.run(activities.callTenantFunction, { ...input, name: 'shop_refund', callId: 'call_refund' })).rejects.toThrow('function shop_refund could not be reached');
    expect(mcp.calls.map((c) => c.tool)).not.toContain('refund');
  });
});
