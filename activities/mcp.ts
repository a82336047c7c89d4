// Tools of tenants' MCP servers, offered and called the way tenant functions are
// (activities/llm/functions.ts routes a call here when no tenant function has the name): the same
// activity, timeouts, result cap, SSRF rules and retry verdicts.
//
// Discovery is cached on the server's row for MCP_TOOLS_TTL_MS; a model call that finds the cache
// stale lists the tools again before answering (bounded by the server's timeout).
//
// Idempotency: MCP has no idempotency key, so the result of each call is stored by the model's
// call id (mcp_tool_calls) before the activity returns; a retried attempt after that returns the
// stored result without calling the tool again. An attempt that dies between the tool's answer
// and the insert may call it twice: the rows say which calls completed.
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Agent } from 'undici';
import { z } from 'zod';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/db.ts';
import { callMcpTool } from '../lib/mcp-client.ts';
import { refreshMcpServerTools } from '../lib/mcp-discovery.ts';
import { mcpConnection, MCP_TOOLS_TTL_MS, offeredMcpTools, type OfferedMcpTool } from '../lib/mcp-servers.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { networkFailureDetail, refusedTenantUrl, UNREACHABLE } from '../lib/tenant-urls.ts';
import type { FunctionCallInput, FunctionCallResult } from './llm/functions.ts';
import type { ToolSpec } from './llm/provider.ts';

export const MCP_TOOL_UNAVAILABLE = 'McpToolUnavailable';
/** Characters of a tool's answer kept (as for tenant functions). */
export const MCP_RESULT_MAX_CHARS = 8_000;

export function createMcpTools(deps: { db: Db; keyring: Keyring; connections: Agent; allowInsecure: boolean }) {
  async function offered(tenantId: string, taken: string[], refresh: boolean): Promise<OfferedMcpTool[]> {
    const tdb = forTenant(deps.db, tenantId);
    let servers = await tdb.mcpServer.findMany({ where: { enabled: true }, orderBy: { name: 'asc' } });
    if (refresh) {
      const stale = (s: (typeof servers)[number]) => !s.toolsRefreshedAt || Date.now() - s.toolsRefreshedAt.getTime() > MCP_TOOLS_TTL_MS;
      servers = await Promise.all(
        servers.map((s) => (stale(s) ? refreshMcpServerTools(tdb, deps.keyring, s, { connections: deps.connections, allowInsecure: deps.allowInsecure, debug: (m, f) => log.debug(m, f) }) : s)),
      );
    }
    return offeredMcpTools(servers, taken);
  }

  return {
    /** Tool specs for the model; `taken`: names of built-ins and tenant functions, which win. */
    async toolSpecs(tenantId: string, taken: string[]): Promise<ToolSpec[]> {
      return (await offered(tenantId, taken, true)).map((t) => ({ name: t.offeredAs, description: t.tool.description, parameters: t.tool.inputSchema }));
    },

    /** Runs a call by its offered name; undefined when no MCP tool has it. */
    async call(input: FunctionCallInput, taken: string[]): Promise<FunctionCallResult | undefined> {
      const match = (await offered(input.tenantId, taken, false)).find((t) => t.offeredAs === input.name);
      if (!match) return undefined;
      const tdb = forTenant(deps.db, input.tenantId);
      const recorded = await tdb.mcpToolCall.findFirst({ where: { callId: input.callId } });
      if (recorded) return { content: recorded.content, isError: recorded.isError };

      let args: unknown;
      try {
        args = JSON.parse(input.arguments || '{}');
      } catch {
        return { content: 'invalid arguments: not JSON', isError: true };
      }
      const checked = z.fromJSONSchema(match.tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(args);
      if (!checked.success) return { content: `invalid arguments, not called:\n${z.prettifyError(checked.error)}`, isError: true };
      const connection = mcpConnection(deps.keyring, match.server);
      const refused = refusedTenantUrl(connection.url, deps.allowInsecure);
      if (refused) return { content: `${refused}: not called`, isError: true };

      let result: FunctionCallResult;
      try {
        result = await callMcpTool(connection, match.tool.name, checked.data as Record<string, unknown>, {
          timeoutMs: match.server.timeoutMs,
          connections: deps.connections,
          signal: Context.current().cancellationSignal,
        });
      } catch (err) {
        log.debug('mcp tool: no answer', { tool: input.name, detail: networkFailureDetail(err) });
        throw ApplicationFailure.retryable(`tool ${input.name} ${UNREACHABLE}`, MCP_TOOL_UNAVAILABLE);
      }
      result = { content: result.content.slice(0, MCP_RESULT_MAX_CHARS) || '(empty result)', isError: result.isError };
      // The first attempt to finish wins; a concurrent one returns what it stored.
      await tdb.mcpToolCall.createMany({
        data: [{ callId: input.callId, serverId: match.server.id, tool: match.tool.name, content: result.content, isError: result.isError }] as never,
        skipDuplicates: true,
      });
      log.info('mcp tool called', { mcpServerId: match.server.id, tool: match.tool.name, isError: result.isError });
      const stored = await tdb.mcpToolCall.findFirstOrThrow({ where: { callId: input.callId } });
      return { content: stored.content, isError: stored.isError };
    },
  };
}
