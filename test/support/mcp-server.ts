// A real MCP server for tests: the SDK's McpServer over streamable HTTP on a local port, stateless
// (a fresh server and transport per request, as the SDK's examples do), answering only requests
// that carry the expected Authorization header. Its tools record their calls.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export const MCP_TEST_TOKEN = 'Bearer mcp-token-0123456789';

export interface TestMcpServer {
  url: string;
  calls: { tool: string; args: unknown }[];
  close(): Promise<void>;
}

/** A shop's server: `order_lookup` (an order's status) and `refund`. */
export async function startTestMcpServer(token = MCP_TEST_TOKEN): Promise<TestMcpServer> {
  const calls: TestMcpServer['calls'] = [];
  const build = () => {
    const mcp = new McpServer({ name: 'shop', version: '1.0.0' });
    mcp.registerTool('order_lookup', { description: 'Status of an order', inputSchema: { orderId: z.string().min(1) } }, async ({ orderId }) => {
      calls.push({ tool: 'order_lookup', args: { orderId } });
      return { content: [{ type: 'text', text: `Order ${orderId} is shipped, arriving Friday.` }] };
    });
    // Also the name of a tenant function in test/mcp-tools.test.ts (offered as shop_refund there): the function wins.
    mcp.registerTool('refund', { description: 'Refund an order', inputSchema: { orderId: z.string() } }, async () => {
      calls.push({ tool: 'refund', args: {} });
      return { content: [{ type: 'text', text: 'refunded' }] };
    });
    return mcp;
  };
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    if (req.headers.authorization !== token) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    const mcp = build();
    res.on('close', () => void transport.close().then(() => mcp.close()));
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    calls,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
