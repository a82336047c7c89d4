// Lists an MCP server's tools and caches the accepted ones on its row (`tools`,
// `toolsRefreshedAt`). A failed discovery keeps the tools last seen (a server that is briefly
// down keeps its tools offered; calls to it then fail like any unreachable tool) and records
// what went wrong in `toolsError`, in the same words for every network failure (UNREACHABLE).
import type { McpServer } from '../generated/prisma/client.ts';
import type { Keyring } from './crypto.ts';
import { listMcpTools } from './mcp-client.ts';
import { acceptedTools, mcpConnection } from './mcp-servers.ts';
import type { TenantDb } from './tenant-db.ts';
import { networkFailureDetail, refusedTenantUrl, UNREACHABLE } from './tenant-urls.ts';
import type { Agent } from 'undici';

export async function refreshMcpServerTools(
  tdb: TenantDb,
  keyring: Keyring,
  server: McpServer,
  options: { connections: Agent; allowInsecure: boolean; debug?: (message: string, fields: Record<string, unknown>) => void },
): Promise<McpServer> {
  const connection = mcpConnection(keyring, server);
  const refused = refusedTenantUrl(connection.url, options.allowInsecure);
  let update: { tools?: object; toolsError: string | null };
  if (refused) {
    update = { toolsError: refused };
  } else {
    try {
      const { tools, refused: left } = acceptedTools(server.name, await listMcpTools(connection, { timeoutMs: server.timeoutMs, connections: options.connections }));
      update = { tools: tools as unknown as object, toolsError: left.length ? `left out: ${left.join('; ')}`.slice(0, 2000) : null };
    } catch (err) {
      options.debug?.('mcp discovery failed', { mcpServerId: server.id, detail: networkFailureDetail(err) });
      update = { toolsError: `the server ${UNREACHABLE}, or did not answer as an MCP server` };
    }
  }
  return tdb.mcpServer.update({ where: { id: server.id }, data: { ...update, toolsRefreshedAt: new Date() } });
}
