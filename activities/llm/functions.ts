// Tenants' own functions as tools: the specs offered to the model, and the activity that runs
// one call. Arguments are validated against the function's JSON Schema before anything is sent
// (invalid → an error result back to the model, no call). The call is a POST of
//   { "function": name, "callId": id, "arguments": {...} }
// signed like Meta signs webhooks, with a timestamp against replays:
//   X-MetaChat-Timestamp: <unix seconds>
//   X-MetaChat-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
// `callId` is stable across Temporal's retries of the call: endpoints use it as idempotency key.
// Results are capped in size. 429/5xx/timeouts/no connection are retried by Temporal (a
// retry-after becomes nextRetryDelay); any other answer goes back to the model as the result.
//
// Endpoints are checked when registered (https, no internal address written in the URL) and again
// at connect time (lib/tenant-urls.ts): a name that resolves to an internal address is refused,
// redirects are not followed. Any network failure (refused address, connection refused, timeout)
// reaches the model, and so the conversation, as one message; the detail is logged at debug level.
//
// A tenant whose plan lacks the "functions" feature (lib/plan-features.ts) is offered none of its
// functions or MCP tools, and a call the model made of one before a downgrade is not made: the
// model is told so. The plan is read per turn, so a change applies to the next model call.
//
// What the function is told about the caller: the body above and the headers, nothing else. The
// signature proves the platform sent the call; it says nothing about who the end user is (see the
// README, "Tool calls carry no verified end-user identity").
import { createHmac } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { Keyring } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import { planIncludes } from '../../lib/plan-features.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { BUILTIN_FUNCTION_NAMES, functionSecret } from '../../lib/tenant-functions.ts';
import { networkFailureDetail, refusedTenantUrl, tenantDispatcher, UNREACHABLE } from '../../lib/tenant-urls.ts';
import type { Agent } from 'undici';
import { createMcpTools } from '../mcp.ts';
import { retryAfterMs, type ToolSpec } from './provider.ts';

/** Characters of a function's answer handed to the model. */
export const FUNCTION_RESULT_MAX_CHARS = 8_000;
export const FUNCTION_UNAVAILABLE = 'TenantFunctionUnavailable';

export interface FunctionCallInput {
  tenantId: string;
  name: string;
  /** The model's JSON text. */
  arguments: string;
  callId: string;
}

export interface FunctionCallResult {
  content: string;
  isError: boolean;
}

export function signFunctionCall(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function createFunctionActivities(deps: {
  db: Db;
  keyring: Keyring;
  allowInsecureFunctionEndpoints?: boolean;
  /** The connections calls go through (tests map names with their own); lib/tenant-urls.ts by default. */
  connections?: Agent;
}) {
  const connections = deps.connections ?? tenantDispatcher({ allowInsecure: deps.allowInsecureFunctionEndpoints ?? false });
  // Tools of the tenant's MCP servers come after built-ins and functions, which win a name clash.
  const mcp = createMcpTools({ db: deps.db, keyring: deps.keyring, connections, allowInsecure: deps.allowInsecureFunctionEndpoints ?? false });
  const taken = (functions: { name: string }[]) => [...BUILTIN_FUNCTION_NAMES, ...functions.map((f) => f.name)];
  const enabledFunctions = (tenantId: string) => forTenant(deps.db, tenantId).tenantFunction.findMany({ where: { enabled: true }, orderBy: { name: 'asc' } });
  return {
    async tenantTools(tenantId: string): Promise<ToolSpec[]> {
      if (!(await planIncludes(deps.db, tenantId, 'functions')).included) return [];
      const rows = await enabledFunctions(tenantId);
      const own = rows.map((f) => ({ name: f.name, description: f.description, parameters: f.parameters as Record<string, unknown> }));
      return [...own, ...(await mcp.toolSpecs(tenantId, taken(rows)))];
    },

    async callTenantFunction(input: FunctionCallInput): Promise<FunctionCallResult> {
      const plan = await planIncludes(deps.db, input.tenantId, 'functions');
      if (!plan.included) return { content: `"${input.name}" is not available on the ${plan.planId} plan: not called`, isError: true };
      const f = await forTenant(deps.db, input.tenantId).tenantFunction.findFirst({ where: { name: input.name, enabled: true } });
      if (!f) {
        const viaMcp = await mcp.call(input, taken(await enabledFunctions(input.tenantId)));
        return viaMcp ?? { content: `unknown function "${input.name}"`, isError: true };
      }

      let args: unknown;
      try {
        args = JSON.parse(input.arguments || '{}');
      } catch {
        return { content: 'invalid arguments: not JSON', isError: true };
      }
      const checked = z.fromJSONSchema(f.parameters as Parameters<typeof z.fromJSONSchema>[0]).safeParse(args);
      if (!checked.success) return { content: `invalid arguments, not called:\n${z.prettifyError(checked.error)}`, isError: true };
      const refused = refusedTenantUrl(f.endpoint, deps.allowInsecureFunctionEndpoints ?? false);
      if (refused) return { content: `${refused}: not called`, isError: true };

      const body = JSON.stringify({ function: f.name, callId: input.callId, arguments: checked.data });
      const timestamp = Math.floor(Date.now() / 1000);
      const timeout = AbortSignal.timeout(f.timeoutMs);
      let response: Response;
      let text: string;
      try {
        response = await fetch(f.endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-metachat-timestamp': String(timestamp),
            'x-metachat-signature': signFunctionCall(functionSecret(deps.keyring, f), timestamp, body),
            'x-metachat-call-id': input.callId,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([timeout, Context.current().cancellationSignal]),
          dispatcher: connections,
        } as RequestInit);
        if (response.status >= 300 && response.status < 400) {
          await response.body?.cancel().catch(() => undefined);
          return { content: `the function answered HTTP ${response.status}: redirects are not followed`, isError: true };
        }
        text = (await response.text()).slice(0, FUNCTION_RESULT_MAX_CHARS);
      } catch (err) {
        log.debug('tenant function: no connection', { function: f.name, timedOut: timeout.aborted, detail: networkFailureDetail(err) });
        throw ApplicationFailure.retryable(`function ${f.name} ${UNREACHABLE}`, FUNCTION_UNAVAILABLE);
      }
      if (response.status === 429 || response.status >= 500) {
        const wait = retryAfterMs(response.headers);
        throw ApplicationFailure.create({
          message: `function ${f.name} answered HTTP ${response.status}`,
          type: FUNCTION_UNAVAILABLE,
          ...(wait !== undefined && { nextRetryDelay: Math.min(Math.max(wait, 100), 30_000) }),
        });
      }
      if (!response.ok) return { content: `the function answered HTTP ${response.status}: ${text}`, isError: true };
      return { content: text || '(empty result)', isError: false };
    },
  };
}
