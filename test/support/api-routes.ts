// Every /api/v1 route with a valid request for it, for the table-driven suites (auth matrix,
// isolation, fuzzing). `ids` fills in the path; the suites check that this table covers every
// route the app registered.
import { randomUUID } from 'node:crypto';
import { HANDOFF_REQUESTED_EVENT } from '../../lib/analytics.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../../lib/db.ts';
import { createChannel } from '../../lib/channels.ts';
import type { Keyring } from '../../lib/crypto.ts';
import { forTenant, tenantData } from '../../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../../lib/tenants.ts';
import { createTenantFunction } from '../../lib/tenant-functions.ts';
import { createMcpServer } from '../../lib/mcp-servers.ts';
import { setLlmCredential } from '../../lib/llm-credentials.ts';
import { createWebhookEndpoint } from '../../lib/tenant-webhooks.ts';
import { SESSION_COOKIE } from '../../api/plugins/app/sessions.ts';
import { csrfTokenOf } from '../../lib/auth-tokens.ts';
import { hashPassword } from '../../lib/passwords.ts';
import { createSession, sessionPolicy } from '../../lib/sessions.ts';
import { createInvitation } from '../../lib/team.ts';
import { TEST_PASSWORD, type TestSession } from './team.ts';
import type { InjectOptions } from 'light-my-request';
import type { App } from '../../api/app.ts';

/** The session lifetimes every suite's API runs with (the defaults). */
const testConfigShape = { SESSION_MAX_HOURS: 12, SESSION_IDLE_MINUTES: 60 };

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Ids {
  tenantId: string;
  tenantSlug: string;
  /** A signed-in agent's email (password TEST_PASSWORD): the sign-in route's body. */
  agentEmail: string;
  /** A team member the team routes change and remove (role agent). */
  userId: string;
  /** A pending invitation. */
  invitationId: string;
  /** A session of the team member (not one the suites sign in with). */
  sessionId: string;
  channelId: string;
  conversationId: string;
  apiKeyId: string;
  externalUserId: string;
  documentId: string;
  functionId: string;
  mcpServerId: string;
  webhookEndpointId: string;
  webhookDeliveryId: string;
  evaluationCaseId: string;
  /** A finished run, with the seeded case's result. */
  evaluationRunId: string;
}

export interface RouteCase {
  method: Method;
  /** The route pattern as Fastify registered it. */
  pattern: string;
  /**
   * admin: the operator's key; tenant: tenant keys, owners and admins; agent: agent keys and
   * agents too; self: signed-in users of any role, no key; team: signed-in owners and admins, no
   * key; public: no credentials at all (sign-in and the links).
   */
  who: 'admin' | 'tenant' | 'agent' | 'self' | 'team' | 'public';
  url: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
  headers?: Record<string, string>;
  /** Answers an endless event stream when allowed (see injectRoute). */
  stream?: true;
}

export const ROUTES: RouteCase[] = [
  { method: 'POST', pattern: '/api/v1/tenants/', who: 'admin', url: () => '/api/v1/tenants', body: () => ({ name: 'T', slug: `t-${Math.random().toString(36).slice(2, 10)}` }) },
  { method: 'GET', pattern: '/api/v1/tenants/', who: 'admin', url: () => '/api/v1/tenants' },
  { method: 'GET', pattern: '/api/v1/tenants/:id', who: 'admin', url: (i) => `/api/v1/tenants/${i.tenantId}` },
  { method: 'PATCH', pattern: '/api/v1/tenants/:id', who: 'admin', url: (i) => `/api/v1/tenants/${i.tenantId}`, body: () => ({ name: 'Renamed' }) },
  { method: 'DELETE', pattern: '/api/v1/tenants/:id', who: 'admin', url: (i) => `/api/v1/tenants/${i.tenantId}` },
  { method: 'POST', pattern: '/api/v1/admin/integrity-checks', who: 'admin', url: () => '/api/v1/admin/integrity-checks', body: () => ({}) },
  { method: 'GET', pattern: '/api/v1/admin/integrity-checks', who: 'admin', url: () => '/api/v1/admin/integrity-checks' },
  { method: 'GET', pattern: '/api/v1/admin/integrity-checks/:id', who: 'admin', url: () => '/api/v1/admin/integrity-checks/00000000-0000-4000-8000-000000000001' },
  { method: 'PUT', pattern: '/api/v1/admin/tenants/:id/plan', who: 'admin', url: (i) => `/api/v1/admin/tenants/${i.tenantId}/plan`, body: () => ({ plan: 'default', operator: 'ops', reason: 'matrix' }) },
  { method: 'GET', pattern: '/api/v1/admin/tenants/:id/plan-changes', who: 'admin', url: (i) => `/api/v1/admin/tenants/${i.tenantId}/plan-changes` },
  { method: 'POST', pattern: '/api/v1/tenants/:id/invitations', who: 'admin', url: (i) => `/api/v1/tenants/${i.tenantId}/invitations`, body: () => ({ email: 'second-owner@example.com' }) },

  { method: 'POST', pattern: '/api/v1/auth/session', who: 'public', url: () => '/api/v1/auth/session', body: (i) => ({ tenant: i.tenantSlug, email: i.agentEmail, password: TEST_PASSWORD }) },
  { method: 'POST', pattern: '/api/v1/auth/password-reset', who: 'public', url: () => '/api/v1/auth/password-reset', body: (i) => ({ tenant: i.tenantSlug, email: i.agentEmail }) },
  // Tokens no link carries: these answer 400 invalid_token.
  { method: 'POST', pattern: '/api/v1/auth/password-reset/confirm', who: 'public', url: () => '/api/v1/auth/password-reset/confirm', body: () => ({ token: UNKNOWN_TOKEN, password: TEST_PASSWORD }) },
  { method: 'POST', pattern: '/api/v1/auth/invitation/accept', who: 'public', url: () => '/api/v1/auth/invitation/accept', body: () => ({ token: UNKNOWN_TOKEN, password: TEST_PASSWORD }) },

  { method: 'GET', pattern: '/api/v1/me/', who: 'self', url: () => '/api/v1/me' },
  { method: 'GET', pattern: '/api/v1/me/sessions', who: 'self', url: () => '/api/v1/me/sessions' },
  { method: 'DELETE', pattern: '/api/v1/me/sessions/:id', who: 'self', url: (i) => `/api/v1/me/sessions/${i.sessionId}` },
  // The same password again: it keeps working for every later request of a suite.
  { method: 'PUT', pattern: '/api/v1/me/password', who: 'self', url: () => '/api/v1/me/password', body: () => ({ currentPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD }) },

  { method: 'GET', pattern: '/api/v1/team/users', who: 'team', url: () => '/api/v1/team/users' },
  { method: 'PATCH', pattern: '/api/v1/team/users/:id', who: 'team', url: (i) => `/api/v1/team/users/${i.userId}`, body: () => ({ role: 'agent' }) },
  { method: 'POST', pattern: '/api/v1/team/users/:id/password-reset', who: 'team', url: (i) => `/api/v1/team/users/${i.userId}/password-reset` },
  { method: 'GET', pattern: '/api/v1/team/invitations', who: 'team', url: () => '/api/v1/team/invitations' },
  { method: 'POST', pattern: '/api/v1/team/invitations', who: 'team', url: () => '/api/v1/team/invitations', body: () => ({ email: 'newcomer@example.com', role: 'agent' }) },
  { method: 'DELETE', pattern: '/api/v1/team/invitations/:id', who: 'team', url: (i) => `/api/v1/team/invitations/${i.invitationId}` },
  { method: 'DELETE', pattern: '/api/v1/team/users/:id', who: 'team', url: (i) => `/api/v1/team/users/${i.userId}` },

  { method: 'GET', pattern: '/api/v1/api-keys/', who: 'tenant', url: () => '/api/v1/api-keys' },
  { method: 'POST', pattern: '/api/v1/api-keys/', who: 'tenant', url: () => '/api/v1/api-keys', body: () => ({ name: 'k' }) },
  { method: 'POST', pattern: '/api/v1/api-keys/:id/rotate', who: 'tenant', url: (i) => `/api/v1/api-keys/${i.apiKeyId}/rotate`, body: () => ({ graceSeconds: 60 }) },
  { method: 'DELETE', pattern: '/api/v1/api-keys/:id', who: 'tenant', url: (i) => `/api/v1/api-keys/${i.apiKeyId}` },

  { method: 'GET', pattern: '/api/v1/channels/', who: 'tenant', url: () => '/api/v1/channels' },
  { method: 'POST', pattern: '/api/v1/channels/', who: 'tenant', url: () => '/api/v1/channels', body: () => ({ type: 'webchat', name: 'w', allowedOrigins: [] }) },
  { method: 'GET', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}` },
  { method: 'PATCH', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}`, body: () => ({ name: 'renamed' }) },
  // The seeded number is no token's in the fake Graph API: the test answers 200 with problem wrong_id.
  { method: 'POST', pattern: '/api/v1/channels/:id/test', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}/test` },
  { method: 'DELETE', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}` },

  { method: 'GET', pattern: '/api/v1/conversations/', who: 'agent', url: () => '/api/v1/conversations' },
  { method: 'GET', pattern: '/api/v1/conversations/events', who: 'agent', url: () => '/api/v1/conversations/events', stream: true },
  { method: 'GET', pattern: '/api/v1/conversations/:id', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}` },
  { method: 'GET', pattern: '/api/v1/conversations/:id/messages', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/messages` },
  // The seeded conversation names no workflow: these answer 409 conversation_closed without asking Temporal.
  { method: 'POST', pattern: '/api/v1/conversations/:id/handoff', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/handoff`, body: () => ({ reason: 'asked for a person' }) },
  { method: 'POST', pattern: '/api/v1/conversations/:id/take', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/take`, body: () => ({ agentId: 'agent-1' }), headers: { 'idempotency-key': 'take-1' } },
  { method: 'POST', pattern: '/api/v1/conversations/:id/release', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/release`, body: () => ({ agentId: 'agent-1' }) },
  { method: 'POST', pattern: '/api/v1/conversations/:id/messages', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/messages`, body: () => ({ agentId: 'agent-1', text: 'Hello from a person' }), headers: { 'idempotency-key': 'message-1' } },

  { method: 'GET', pattern: '/api/v1/documents/', who: 'tenant', url: () => '/api/v1/documents' },
  { method: 'POST', pattern: '/api/v1/documents/', who: 'tenant', url: () => '/api/v1/documents', body: () => ({ title: 'FAQ', content: 'Opening hours: 9 to 5.', format: 'text' }) },
  { method: 'GET', pattern: '/api/v1/documents/:id', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}` },
  { method: 'POST', pattern: '/api/v1/documents/:id/versions', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}/versions`, body: () => ({ content: 'Opening hours: 9 to 6.', format: 'text' }) },
  { method: 'POST', pattern: '/api/v1/documents/:id/retry', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}/retry`, body: () => ({}) },
  { method: 'GET', pattern: '/api/v1/documents/:id/versions', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}/versions` },
  { method: 'GET', pattern: '/api/v1/documents/:id/chunks', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}/chunks` },
  // The seeded document failed: 409, it never became ready.
  { method: 'POST', pattern: '/api/v1/documents/:id/restore', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}/restore` },
  // The seeded tenant has nothing ready: no passages, without asking a worker.
  { method: 'POST', pattern: '/api/v1/documents/search', who: 'tenant', url: () => '/api/v1/documents/search', body: () => ({ question: 'Opening hours?' }) },
  { method: 'DELETE', pattern: '/api/v1/documents/:id', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}` },

  { method: 'GET', pattern: '/api/v1/settings/', who: 'tenant', url: () => '/api/v1/settings' },
  { method: 'PATCH', pattern: '/api/v1/settings/', who: 'tenant', url: () => '/api/v1/settings', body: () => ({ settings: { locale: 'en' } }), headers: { 'if-match': '"1"' } },
  { method: 'GET', pattern: '/api/v1/settings/versions', who: 'tenant', url: () => '/api/v1/settings/versions' },
  // Version 1 is recorded by the first write above (or absent: 404); a stale If-Match answers 409.
  { method: 'POST', pattern: '/api/v1/settings/versions/:version/restore', who: 'tenant', url: () => '/api/v1/settings/versions/1/restore', headers: { 'if-match': '"1"' } },

  // An empty earlier turn: refused (400) before any run starts, since these suites run no worker
  // (test/playground-api.test.ts answers real questions).
  { method: 'POST', pattern: '/api/v1/playground/messages', who: 'tenant', url: () => '/api/v1/playground/messages', body: () => ({ message: 'What are your opening hours?', previous: [{ role: 'user', text: '' }] }) },

  // A run started here is asked of no worker (test/evaluations.test.ts runs them): 202, or 409 while it is "running".
  { method: 'GET', pattern: '/api/v1/evaluations/cases', who: 'tenant', url: () => '/api/v1/evaluations/cases' },
  { method: 'POST', pattern: '/api/v1/evaluations/cases', who: 'tenant', url: () => '/api/v1/evaluations/cases', body: () => ({ question: 'Do you deliver on Sundays?', expectRefusal: true }) },
  { method: 'GET', pattern: '/api/v1/evaluations/cases/:id', who: 'tenant', url: (i) => `/api/v1/evaluations/cases/${i.evaluationCaseId}` },
  { method: 'PATCH', pattern: '/api/v1/evaluations/cases/:id', who: 'tenant', url: (i) => `/api/v1/evaluations/cases/${i.evaluationCaseId}`, body: () => ({ expectedFacts: ['30 days', 'receipt'] }) },
  { method: 'DELETE', pattern: '/api/v1/evaluations/cases/:id', who: 'tenant', url: (i) => `/api/v1/evaluations/cases/${i.evaluationCaseId}` },
  { method: 'POST', pattern: '/api/v1/evaluations/runs', who: 'tenant', url: () => '/api/v1/evaluations/runs' },
  { method: 'GET', pattern: '/api/v1/evaluations/runs', who: 'tenant', url: () => '/api/v1/evaluations/runs' },
  { method: 'GET', pattern: '/api/v1/evaluations/runs/:id', who: 'tenant', url: (i) => `/api/v1/evaluations/runs/${i.evaluationRunId}` },

  // Billing is off in these suites: checkout, portal and invoices answer 404 billing_disabled (test/billing.test.ts runs them on).
  { method: 'GET', pattern: '/api/v1/billing/', who: 'tenant', url: () => '/api/v1/billing' },
  { method: 'GET', pattern: '/api/v1/billing/plans', who: 'tenant', url: () => '/api/v1/billing/plans' },
  { method: 'POST', pattern: '/api/v1/billing/checkout', who: 'tenant', url: () => '/api/v1/billing/checkout', body: () => ({ plan: 'pro' }) },
  { method: 'POST', pattern: '/api/v1/billing/portal', who: 'tenant', url: () => '/api/v1/billing/portal' },
  { method: 'GET', pattern: '/api/v1/billing/invoices', who: 'tenant', url: () => '/api/v1/billing/invoices?limit=5' },
  { method: 'GET', pattern: '/api/v1/usage/', who: 'tenant', url: () => '/api/v1/usage?from=2025-01-01&to=2025-02-01' },
  { method: 'GET', pattern: '/api/v1/analytics/', who: 'tenant', url: () => '/api/v1/analytics?from=2025-01-01&to=2025-02-01' },

  { method: 'GET', pattern: '/api/v1/functions/', who: 'tenant', url: () => '/api/v1/functions' },
  { method: 'POST', pattern: '/api/v1/functions/', who: 'tenant', url: () => '/api/v1/functions', body: () => ({ name: `fn_${Math.random().toString(36).slice(2, 10)}`, description: 'Order status', parameters: { type: 'object', properties: { orderId: { type: 'string' } } }, endpoint: 'https://example.com/fn', secret: 'a-signing-secret-of-some-length' }) },
  { method: 'GET', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}` },
  { method: 'PATCH', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}`, body: () => ({ description: 'Order status, again' }) },
  { method: 'DELETE', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}` },
  { method: 'GET', pattern: '/api/v1/mcp-servers/', who: 'tenant', url: () => '/api/v1/mcp-servers' },
  { method: 'POST', pattern: '/api/v1/mcp-servers/', who: 'tenant', url: () => '/api/v1/mcp-servers', body: () => ({ name: `m${Math.random().toString(36).slice(2, 10)}`, url: 'https://mcp.example.com/mcp', timeoutMs: 500 }) },
  { method: 'GET', pattern: '/api/v1/mcp-servers/:id', who: 'tenant', url: (i) => `/api/v1/mcp-servers/${i.mcpServerId}` },
  { method: 'POST', pattern: '/api/v1/mcp-servers/:id/refresh', who: 'tenant', url: (i) => `/api/v1/mcp-servers/${i.mcpServerId}/refresh` },
  { method: 'PATCH', pattern: '/api/v1/mcp-servers/:id', who: 'tenant', url: (i) => `/api/v1/mcp-servers/${i.mcpServerId}`, body: () => ({ timeoutMs: 2000 }) },
  { method: 'DELETE', pattern: '/api/v1/mcp-servers/:id', who: 'tenant', url: (i) => `/api/v1/mcp-servers/${i.mcpServerId}` },

  { method: 'GET', pattern: '/api/v1/llm-credentials/', who: 'tenant', url: () => '/api/v1/llm-credentials' },
  { method: 'PUT', pattern: '/api/v1/llm-credentials/:provider', who: 'tenant', url: () => '/api/v1/llm-credentials/openai', body: () => ({ apiKey: 'sk-tenant-own-key-1234' }) },
  { method: 'DELETE', pattern: '/api/v1/llm-credentials/:provider', who: 'tenant', url: () => '/api/v1/llm-credentials/anthropic' },

  { method: 'GET', pattern: '/api/v1/webhook-endpoints/', who: 'tenant', url: () => '/api/v1/webhook-endpoints' },
  { method: 'POST', pattern: '/api/v1/webhook-endpoints/', who: 'tenant', url: () => '/api/v1/webhook-endpoints', body: () => ({ url: 'https://example.com/hooks', events: ['message.received'] }) },
  { method: 'GET', pattern: '/api/v1/webhook-endpoints/:id', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}` },
  { method: 'PATCH', pattern: '/api/v1/webhook-endpoints/:id', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}`, body: () => ({ description: 'CRM sync' }) },
  { method: 'POST', pattern: '/api/v1/webhook-endpoints/:id/rotate-secret', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}/rotate-secret` },
  { method: 'POST', pattern: '/api/v1/webhook-endpoints/:id/test', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}/test` },
  { method: 'GET', pattern: '/api/v1/webhook-endpoints/:id/deliveries', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}/deliveries?status=failed` },
  { method: 'GET', pattern: '/api/v1/webhook-deliveries/:id', who: 'tenant', url: (i) => `/api/v1/webhook-deliveries/${i.webhookDeliveryId}` },
  { method: 'POST', pattern: '/api/v1/webhook-deliveries/:id/redeliver', who: 'tenant', url: (i) => `/api/v1/webhook-deliveries/${i.webhookDeliveryId}/redeliver` },
  { method: 'DELETE', pattern: '/api/v1/webhook-endpoints/:id', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}` },

  { method: 'GET', pattern: '/api/v1/channels/:id/templates', who: 'agent', url: (i) => `/api/v1/channels/${i.channelId}/templates` },
  // The seeded business account is none of the fake Graph API's: 409 template_sync_refused.
  { method: 'POST', pattern: '/api/v1/channels/:id/templates/sync', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}/templates/sync` },
  // No template is synced in these suites: the sends answer 404 template_not_found without asking a worker.
  { method: 'POST', pattern: '/api/v1/conversations/:id/template-messages', who: 'agent', url: (i) => `/api/v1/conversations/${i.conversationId}/template-messages`, body: () => ({ agentId: 'agent-1', template: { name: 'order_update', language: 'en_US' } }), headers: { 'idempotency-key': 'template-1' } },
  { method: 'POST', pattern: '/api/v1/template-messages', who: 'tenant', url: () => '/api/v1/template-messages', body: (i) => ({ channelId: i.channelId, to: '+15550109999', template: { name: 'order_update', language: 'en_US' } }) },
  { method: 'GET', pattern: '/api/v1/opt-outs/:phone', who: 'tenant', url: (i) => `/api/v1/opt-outs/${i.externalUserId}` },
  { method: 'PUT', pattern: '/api/v1/opt-outs/:phone', who: 'tenant', url: (i) => `/api/v1/opt-outs/${i.externalUserId}`, body: () => ({ optedOut: true }) },
  { method: 'POST', pattern: '/api/v1/campaigns/', who: 'tenant', url: () => '/api/v1/campaigns', body: (i) => ({ name: 'Spring', channelId: i.channelId, template: { name: 'order_update', language: 'en_US' }, recipients: [{ to: '+15550109999' }] }) },
  { method: 'GET', pattern: '/api/v1/campaigns/', who: 'tenant', url: () => '/api/v1/campaigns' },
  { method: 'GET', pattern: '/api/v1/campaigns/:id', who: 'tenant', url: () => '/api/v1/campaigns/00000000-0000-4000-8000-000000000001' },
  { method: 'GET', pattern: '/api/v1/campaigns/:id/recipients', who: 'tenant', url: () => '/api/v1/campaigns/00000000-0000-4000-8000-000000000001/recipients' },
  { method: 'POST', pattern: '/api/v1/campaigns/:id/cancel', who: 'tenant', url: () => '/api/v1/campaigns/00000000-0000-4000-8000-000000000001/cancel' },

  { method: 'GET', pattern: '/api/v1/end-users/:channel/:externalUserId/export', who: 'tenant', url: (i) => `/api/v1/end-users/whatsapp/${i.externalUserId}/export` },
  { method: 'DELETE', pattern: '/api/v1/end-users/:channel/:externalUserId', who: 'tenant', url: (i) => `/api/v1/end-users/whatsapp/${i.externalUserId}` },

  // Last: it ends the session it is sent with.
  { method: 'DELETE', pattern: '/api/v1/me/session', who: 'self', url: () => '/api/v1/me/session' },
];

/** The signed-in users of a seeded tenant, one session each. */
export interface SeededSessions {
  owner: TestSession;
  admin: TestSession;
  agent: TestSession;
  /** Another owner's, for requests sent without the CSRF token. */
  secondOwner: TestSession;
  /** Past its absolute expiry. */
  ended: TestSession;
}

export interface SeededTenant {
  ids: Ids;
  key: string;
  agentKey: string;
  sessions: SeededSessions;
  /** Every plaintext secret created for this tenant (keys, channel secrets, verify token). */
  secrets: string[];
}

let counter = 0;

/** A token of the right shape that no link carries. */
const UNKNOWN_TOKEN = 'A'.repeat(43);

/** What the table-driven suites read of an answer. */
export interface RouteAnswer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json(): any;
}

/**
 * A route's request, answered like inject's. An event stream (route.stream) never ends by
 * itself: its answer is its status, headers and first frame, and then the stream is closed.
 */
export async function injectRoute(app: App, route: Pick<RouteCase, 'stream'>, options: InjectOptions): Promise<RouteAnswer> {
  if (!route.stream) return app.inject(options);
  const res = await app.inject({ ...options, payloadAsStream: true });
  const stream = res.stream();
  let body = '';
  for await (const chunk of stream) {
    body += String(chunk);
    if (res.statusCode === 200 && body.includes('\n\n')) break;
  }
  stream.destroy();
  return { statusCode: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body) };
}

/** Every seeded user's password is TEST_PASSWORD: hashed once per process. */
let seedPasswordHash: Promise<string> | undefined;

/** The tenant's team: two owners, an admin, an agent (each signed in), a member to manage with a session of its own, a pending invitation. */
async function seedTeam(db: Db, tenantId: string, label: string) {
  seedPasswordHash ??= hashPassword(TEST_PASSWORD);
  const passwordHash = await seedPasswordHash;
  const tdb = forTenant(db, tenantId);
  const user = (role: 'owner' | 'admin' | 'agent', name: string) =>
    tdb.user.create({ data: tenantData<Prisma.UserUncheckedCreateInput>({ email: `${name}@${label.toLowerCase()}.example.com`, role, name, passwordHash }) });
  const policy = sessionPolicy(testConfigShape);
  const signedIn = async (u: { id: string; tenantId: string }): Promise<TestSession> => {
    const { token, session } = await createSession(db, u, { userAgent: 'seed' }, policy);
    return { cookie: `${SESSION_COOKIE}=${token}`, csrfToken: csrfTokenOf(token), sessionId: session.id, token };
  };
  const [owner, secondOwner, admin, agent, member] = [await user('owner', 'owner'), await user('owner', 'owner2'), await user('admin', 'admin'), await user('agent', 'agent'), await user('agent', 'member')];
  const ended = await signedIn(admin);
  await tdb.userSession.update({ where: { id: ended.sessionId }, data: { expiresAt: new Date(Date.now() - 1000) } });
  const memberSession = await signedIn(member);
  const { invitation } = await createInvitation(tdb, tenantId, { email: `invited@${label.toLowerCase()}.example.com`, role: 'agent', invitedBy: owner.id, ttlMs: 86_400_000 });
  const sessions: SeededSessions = { owner: await signedIn(owner), secondOwner: await signedIn(secondOwner), admin: await signedIn(admin), agent: await signedIn(agent), ended };
  return { sessions, agentEmail: agent.email, userId: member.id, invitationId: invitation.id, sessionId: memberSession.sessionId, tokens: [...Object.values(sessions).map((s) => s.token), memberSession.token] };
}

/** A tenant with a key, an agent key, an extra key, a team, a WhatsApp channel, a conversation with messages, usage and events. */
export async function seedTenant(db: Db, keyring: Keyring, label: string): Promise<SeededTenant> {
  const n = ++counter;
  const slug = `${label.toLowerCase()}-${n}-${Math.random().toString(36).slice(2, 8)}`;
  const { tenant, apiKey } = await createTenant(db, { name: label, slug });
  const tdb = forTenant(db, tenant.id);
  const team = await seedTeam(db, tenant.id, label);
  // Bound to the agent the ROUTES table's bodies name.
  const agent = await createApiKey(tdb, { name: 'agent', scope: 'agent', agentId: 'agent-1' });
  const extra = await createApiKey(tdb, { name: 'extra', scope: 'tenant' });
  const suffix = `${Date.now() % 1e9}${n}${Math.floor(Math.random() * 1e4)}`;
  const channelSecrets = { accessToken: `EAAG${label}${suffix}access`, appSecret: `appsecret${label}${suffix}`, verifyToken: `verify${label}${suffix}` };
  const channel = await createChannel(tdb, keyring, { type: 'whatsapp', name: `${label} wa`, phoneNumberId: `1${suffix}`, wabaId: `2${suffix}`, ...channelSecrets });
  const externalUserId = `49${suffix}`;
  const conversation = await tdb.conversation.create({
    data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: channel.id, externalUserId, lastMessageAt: new Date('2025-01-10T10:00:00Z') }),
  });
  for (let m = 0; m < 3; m++) {
    await tdb.message.create({
      data: tenantData<Prisma.MessageUncheckedCreateInput>({
        conversationId: conversation.id,
        channel: 'whatsapp',
        direction: m % 2 ? 'outbound' : 'inbound',
        type: 'text',
        content: { text: `${label} says ${m}` },
        status: 'sent',
        createdAt: new Date(Date.parse('2025-01-10T10:00:00Z') + m * 1000),
      }),
    });
  }
  await tdb.usage.create({ data: tenantData<Prisma.UsageUncheckedCreateInput>({ day: new Date('2025-01-10'), provider: 'local', model: label, requests: 1 }) });
  await tdb.event.create({ data: tenantData<Prisma.EventUncheckedCreateInput>({ type: HANDOFF_REQUESTED_EVENT, subjectType: 'conversation', subjectId: conversation.id, createdAt: new Date('2025-01-10T10:00:05Z') }) });
  const document = await tdb.document.create({
    data: tenantData<Prisma.DocumentUncheckedCreateInput>({ documentKey: `doc-${suffix}`, title: `${label} handbook`, mimeType: 'text/plain', contentHash: `h${suffix}`, sizeBytes: 10, status: 'failed', error: 'seeded' }),
  });
  const llmKey = `sk-ant-${label}${suffix}`;
  await setLlmCredential(tdb, keyring, tenant.id, 'anthropic', { apiKey: llmKey });
  const functionSecret = `fnsecret${label}${suffix}`;
  const mcpServer = await createMcpServer(tdb, keyring, { name: 'seeded', url: 'http://127.0.0.1:9/mcp' }, { allowHttp: true });
  const fn = await createTenantFunction(tdb, keyring, {
    name: `order_status_${n}`, description: `${label} order status`, parameters: { type: 'object', properties: { orderId: { type: 'string' } } },
    endpoint: 'https://example.com/order-status', secret: functionSecret,
  });
  const { endpoint: hook, secret: webhookSecret } = await createWebhookEndpoint(tdb, keyring, { url: `https://hooks.example.com/${label.toLowerCase()}`, description: `${label} CRM` });
  const hookEvent = await tdb.event.create({
    data: tenantData<Prisma.EventUncheckedCreateInput>({ type: 'message.received', subjectType: 'message', subjectId: conversation.id, payload: { conversationId: conversation.id }, dispatchedAt: new Date() }),
  });
  const delivery = await tdb.webhookDelivery.create({
    data: tenantData<Prisma.WebhookDeliveryUncheckedCreateInput>({ endpointId: hook.id, eventId: hookEvent.id, eventType: hookEvent.type, status: 'failed', attempts: 3, lastStatusCode: 500, lastError: 'HTTP 500' }),
  });
  const evaluationCase = await tdb.evaluationCase.create({ data: tenantData<Prisma.EvaluationCaseUncheckedCreateInput>({ question: `${label}: how long do returns take?`, expectedFacts: ['30 days'] }) });
  const evaluationRun = await tdb.evaluationRun.create({
    data: tenantData<Prisma.EvaluationRunUncheckedCreateInput>({ id: randomUUID(), trigger: 'manual', settingsVersion: 1, status: 'finished', casesTotal: 1, casesPassed: 1, finishedAt: new Date() }),
  });
  await tdb.evaluationResult.create({
    data: tenantData<Prisma.EvaluationResultUncheckedCreateInput>({
      runId: evaluationRun.id, caseId: evaluationCase.id, question: evaluationCase.question, expectedFacts: evaluationCase.expectedFacts, expectRefusal: false,
      outcome: 'reply', answer: `${label}: within 30 days`, citedPassages: [], declined: false, passed: true, groundedness: 1, citationCorrectness: 1, refusalCorrect: true, latencyMs: 5,
    }),
  });
  return {
    ids: {
      tenantId: tenant.id, tenantSlug: slug, agentEmail: team.agentEmail, userId: team.userId, invitationId: team.invitationId, sessionId: team.sessionId, channelId: channel.id, conversationId: conversation.id, apiKeyId: extra.id, externalUserId, documentId: document.id, functionId: fn.id, mcpServerId: mcpServer.id,
      webhookEndpointId: hook.id, webhookDeliveryId: delivery.id, evaluationCaseId: evaluationCase.id, evaluationRunId: evaluationRun.id,
    },
    key: apiKey.key,
    agentKey: agent.key,
    sessions: team.sessions,
    secrets: [apiKey.key, agent.key, extra.key, ...Object.values(channelSecrets), functionSecret, llmKey, webhookSecret, ...team.tokens, TEST_PASSWORD],
  };
}
