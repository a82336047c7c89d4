// Talks to a tenant's MCP server with the official SDK client over streamable HTTP. Every request
// goes through the tenant-URL dispatcher (lib/tenant-urls.ts: internal addresses refused at
// connect time) and never follows a redirect, like tenant functions. A connection lives for one
// discovery or one call: tool calls are rare next to model calls, and a session kept open across
// activities would be state a worker restart loses anyway.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Agent } from 'undici';
import type { McpConnection } from './mcp-servers.ts';

export interface McpRequestOptions {
  timeoutMs: number;
  connections: Agent;
  signal?: AbortSignal;
}

async function withClient<T>(connection: McpConnection, options: McpRequestOptions, use: (client: Client) => Promise<T>): Promise<T> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])]);
  const transport = new StreamableHTTPClientTransport(new URL(connection.url), {
    requestInit: { headers: connection.headers },
    fetch: (url, init) => fetch(url, { ...init, redirect: 'manual', signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal, dispatcher: options.connections } as RequestInit),
  });
  const client = new Client({ name: 'meta-chat-platform', version: '1.0.0' });
  try {
    await client.connect(transport, { timeout: options.timeoutMs, signal });
    return await use(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Every tool the server lists (following pagination, at most 10 pages). */
export function listMcpTools(connection: McpConnection, options: McpRequestOptions) {
  return withClient(connection, options, async (client) => {
    const tools: { name: string; description?: string | undefined; inputSchema: unknown }[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const listed = await client.listTools(cursor ? { cursor } : {}, { timeout: options.timeoutMs });
      tools.push(...listed.tools);
      cursor = listed.nextCursor;
      if (!cursor) break;
    }
    return tools;
  });
}

/** Calls one tool; the result's content as text (text parts verbatim, others as JSON). */
export function callMcpTool(connection: McpConnection, name: string, args: Record<string, unknown>, options: McpRequestOptions) {
  return withClient(connection, options, async (client) => {
    const result = await client.callTool({ name, arguments: args }, undefined, { timeout: options.timeoutMs });
    const parts = Array.isArray(result.content) ? (result.content as { type: string; text?: string }[]) : [];
    const text = parts.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : JSON.stringify(p))).join('\n');
    const structured = !text && result.structuredContent !== undefined ? JSON.stringify(result.structuredContent) : '';
    return { content: text || structured, isError: result.isError === true };
  });
}
