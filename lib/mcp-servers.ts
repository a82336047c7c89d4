// Tenants' Model Context Protocol servers (streamable HTTP) as tool sources: what a tenant
// registers, how the URL and auth headers are stored, and which of a server's tools the model is
// offered under which name.
//
// The URL and the headers are one AES-256-GCM secret (AAD `mcp:{id}`): a URL often carries a
// token of its own, so neither is returned by the API nor logged.
//
// Names: a tool is offered as `<server>_<tool>` (OpenAI and Anthropic both accept
// [A-Za-z0-9_-]{1,64}). Built-in tools and tenant functions win a clash; between servers the
// first in (server name, tool name) order wins; the others are left out, so the outcome never
// depends on discovery order.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Prisma, type McpServer } from '../generated/prisma/client.ts';
import { openSecretColumns, sealSecretColumns, type Keyring } from './crypto.ts';
import type { TenantDb } from './tenant-db.ts';
import { tenantUrl } from './tenant-urls.ts';

export const MAX_MCP_SERVERS_PER_TENANT = 10;
/** Tools kept per server: each one is described to the model on every call. */
export const MAX_TOOLS_PER_MCP_SERVER = 50;
/** How long a discovery is trusted before the next model call lists the tools again. */
export const MCP_TOOLS_TTL_MS = 5 * 60_000;

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** Headers the transport sets itself. */
const RESERVED_HEADERS = ['host', 'content-type', 'content-length', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'connection', 'transfer-encoding'];

export function mcpServerSchemas(allowInsecure: boolean) {
  const input = z
    .object({
      name: z.string().regex(/^[a-z][a-z0-9]{0,19}$/, 'lower-case letters and digits, starting with a letter, at most 20'),
      url: tenantUrl(allowInsecure),
      /** Sent with every request to the server (e.g. Authorization); write-only. */
      headers: z
        .record(
          z.string().regex(HEADER_NAME, 'must be an HTTP header name').refine((h) => !RESERVED_HEADERS.includes(h.toLowerCase()), 'is set by the platform'),
          z.string().min(1).max(4096).refine((v) => !/[\r\n\0]/.test(v), 'must not contain line breaks'),
        )
        .refine((h) => Object.keys(h).length <= 10, 'at most 10 headers')
        .default({}),
      timeoutMs: z.number().int().min(500).max(30_000).default(10_000),
      enabled: z.boolean().default(true),
    })
    .strict();
  return { input, patch: input.omit({ name: true }).partial().strict() };
}

export type McpServerInput = z.input<ReturnType<typeof mcpServerSchemas>['input']>;
export type McpServerPatch = z.infer<ReturnType<typeof mcpServerSchemas>['patch']>;

/** A discovered tool as cached on the server's row. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpConnection {
  url: string;
  headers: Record<string, string>;
}

function sealed(keyring: Keyring, id: string, connection: McpConnection) {
  return sealSecretColumns(keyring, JSON.stringify(connection), `mcp:${id}`);
}

export function mcpConnection(keyring: Keyring, server: McpServer): McpConnection {
  return JSON.parse(openSecretColumns(keyring, server, `mcp:${server.id}`)) as McpConnection;
}

/** What the API shows of a server: never the URL or the header values (header names only). */
export function mcpServerView(keyring: Keyring, s: McpServer) {
  const { url, headers } = mcpConnection(keyring, s);
  return {
    id: s.id,
    name: s.name,
    host: new URL(url).host,
    headerNames: Object.keys(headers).sort(),
    timeoutMs: s.timeoutMs,
    enabled: s.enabled,
    tools: cachedTools(s).map((t) => ({ name: t.name, offeredAs: offeredName(s.name, t.name), description: t.description })),
    toolsError: s.toolsError,
    toolsRefreshedAt: s.toolsRefreshedAt?.toISOString() ?? null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

export async function createMcpServer(tdb: TenantDb, keyring: Keyring, input: McpServerInput, options: { allowHttp?: boolean } = {}): Promise<McpServer> {
  const s = mcpServerSchemas(options.allowHttp ?? false).input.parse(input);
  const id = randomUUID();
  return tdb.mcpServer.create({
    data: { id, name: s.name, timeoutMs: s.timeoutMs, enabled: s.enabled, ...sealed(keyring, id, { url: s.url, headers: s.headers }) } as never,
  });
}

/** Applies a patch; a new URL or new headers drop the cached tools (they came from the old server). */
export async function updateMcpServer(tdb: TenantDb, keyring: Keyring, server: McpServer, patch: McpServerPatch): Promise<McpServer> {
  const { url, headers, ...rest } = patch;
  const reconnect = url !== undefined || headers !== undefined;
  const current = mcpConnection(keyring, server);
  return tdb.mcpServer.update({
    where: { id: server.id },
    data: {
      ...rest,
      ...(reconnect && { ...sealed(keyring, server.id, { url: url ?? current.url, headers: headers ?? current.headers }), tools: Prisma.DbNull, toolsRefreshedAt: null, toolsError: null }),
    },
  });
}

export function cachedTools(s: McpServer): McpTool[] {
  return Array.isArray(s.tools) ? (s.tools as unknown as McpTool[]) : [];
}

export function offeredName(server: string, tool: string): string {
  return `${server}_${tool}`;
}

/**
 * Keeps the tools a provider accepts and the platform can validate arguments with; says why the
 * others were left out (shown on the server, never sent to the model).
 */
export function acceptedTools(server: string, listed: { name: string; description?: string | undefined; inputSchema: unknown }[]): { tools: McpTool[]; refused: string[] } {
  const tools: McpTool[] = [];
  const refused: string[] = [];
  for (const t of [...listed].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const why = refusal(server, t.name, t.inputSchema);
    if (why) refused.push(`${t.name}: ${why}`);
    else if (tools.length >= MAX_TOOLS_PER_MCP_SERVER) refused.push(`${t.name}: more than ${MAX_TOOLS_PER_MCP_SERVER} tools`);
    else tools.push({ name: t.name, description: (t.description ?? t.name).slice(0, 1024), inputSchema: t.inputSchema as Record<string, unknown> });
  }
  return { tools, refused };
}

function refusal(server: string, name: string, schema: unknown): string | undefined {
  if (!TOOL_NAME.test(offeredName(server, name))) return 'name must be letters, digits, "_" and "-", at most 64 with the server name';
  if (!schema || typeof schema !== 'object' || (schema as { type?: unknown }).type !== 'object') return 'input schema must have "type": "object"';
  if (JSON.stringify(schema).length > 16_384) return 'input schema larger than 16 KiB';
  try {
    z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return 'input schema is not a JSON Schema the platform can validate arguments with';
  }
  return undefined;
}

/** One offered MCP tool: the server it runs on and its own name there. */
export interface OfferedMcpTool {
  offeredAs: string;
  server: McpServer;
  tool: McpTool;
}

/**
 * The MCP tools offered beside built-ins and tenant functions (`taken`), in a stable order; a
 * name already taken is left out (see the clash rule at the top).
 */
export function offeredMcpTools(servers: McpServer[], taken: Iterable<string>): OfferedMcpTool[] {
  const used = new Set(taken);
  const offered: OfferedMcpTool[] = [];
  for (const server of [...servers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const tool of cachedTools(server)) {
      const offeredAs = offeredName(server.name, tool.name);
      if (used.has(offeredAs)) continue;
      used.add(offeredAs);
      offered.push({ offeredAs, server, tool });
    }
  }
  return offered;
}
