// Every /api/v1 route with a valid request for it, for the table-driven suites (auth matrix,
// isolation, fuzzing). `ids` fills in the path; the suites check that this table covers every
// route the app registered.
import { HANDOFF_REQUESTED_EVENT } from '../../lib/analytics.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../../lib/db.ts';
import { createChannel } from '../../lib/channels.ts';
import type { Keyring } from '../../lib/crypto.ts';
import { forTenant, tenantData } from '../../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../../lib/tenants.ts';
import { createTenantFunction } from '../../lib/tenant-functions.ts';
import { setLlmCredential } from '../../lib/llm-credentials.ts';
import { createWebhookEndpoint } from '../../lib/tenant-webhooks.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Ids {
  tenantId: string;
  channelId: string;
  conversationId: string;
  apiKeyId: string;
  externalUserId: string;
  documentId: string;
  functionId: string;
  webhookEndpointId: string;
  webhookDeliveryId: string;
}

export interface RouteCase {
  method: Method;
  /** The route pattern as Fastify registered it. */
  pattern: string;
  who: 'admin' | 'tenant' | 'agent';
  url: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
  headers?: Record<string, string>;
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

  { method: 'GET', pattern: '/api/v1/api-keys/', who: 'tenant', url: () => '/api/v1/api-keys' },
  { method: 'POST', pattern: '/api/v1/api-keys/', who: 'tenant', url: () => '/api/v1/api-keys', body: () => ({ name: 'k' }) },
  { method: 'POST', pattern: '/api/v1/api-keys/:id/rotate', who: 'tenant', url: (i) => `/api/v1/api-keys/${i.apiKeyId}/rotate`, body: () => ({ graceSeconds: 60 }) },
  { method: 'DELETE', pattern: '/api/v1/api-keys/:id', who: 'tenant', url: (i) => `/api/v1/api-keys/${i.apiKeyId}` },

  { method: 'GET', pattern: '/api/v1/channels/', who: 'tenant', url: () => '/api/v1/channels' },
  { method: 'POST', pattern: '/api/v1/channels/', who: 'tenant', url: () => '/api/v1/channels', body: () => ({ type: 'webchat', name: 'w', allowedOrigins: [] }) },
  { method: 'GET', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}` },
  { method: 'PATCH', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}`, body: () => ({ name: 'renamed' }) },
  { method: 'DELETE', pattern: '/api/v1/channels/:id', who: 'tenant', url: (i) => `/api/v1/channels/${i.channelId}` },

  { method: 'GET', pattern: '/api/v1/conversations/', who: 'agent', url: () => '/api/v1/conversations' },
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
  { method: 'DELETE', pattern: '/api/v1/documents/:id', who: 'tenant', url: (i) => `/api/v1/documents/${i.documentId}` },

  { method: 'GET', pattern: '/api/v1/settings/', who: 'tenant', url: () => '/api/v1/settings' },
  { method: 'PATCH', pattern: '/api/v1/settings/', who: 'tenant', url: () => '/api/v1/settings', body: () => ({ settings: { locale: 'en' } }), headers: { 'if-match': '"1"' } },

  { method: 'GET', pattern: '/api/v1/usage/', who: 'tenant', url: () => '/api/v1/usage?from=2025-01-01&to=2025-02-01' },
  { method: 'GET', pattern: '/api/v1/analytics/', who: 'tenant', url: () => '/api/v1/analytics?from=2025-01-01&to=2025-02-01' },

  { method: 'GET', pattern: '/api/v1/functions/', who: 'tenant', url: () => '/api/v1/functions' },
  { method: 'POST', pattern: '/api/v1/functions/', who: 'tenant', url: () => '/api/v1/functions', body: () => ({ name: `fn_${Math.random().toString(36).slice(2, 10)}`, description: 'Order status', parameters: { type: 'object', properties: { orderId: { type: 'string' } } }, endpoint: 'https://example.com/fn', secret: 'a-signing-secret-of-some-length' }) },
  { method: 'GET', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}` },
  { method: 'PATCH', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}`, body: () => ({ description: 'Order status, again' }) },
  { method: 'DELETE', pattern: '/api/v1/functions/:id', who: 'tenant', url: (i) => `/api/v1/functions/${i.functionId}` },

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
  { method: 'POST', pattern: '/api/v1/webhook-deliveries/:id/redeliver', who: 'tenant', url: (i) => `/api/v1/webhook-deliveries/${i.webhookDeliveryId}/redeliver` },
  { method: 'DELETE', pattern: '/api/v1/webhook-endpoints/:id', who: 'tenant', url: (i) => `/api/v1/webhook-endpoints/${i.webhookEndpointId}` },

  { method: 'GET', pattern: '/api/v1/end-users/:channel/:externalUserId/export', who: 'tenant', url: (i) => `/api/v1/end-users/whatsapp/${i.externalUserId}/export` },
  { method: 'DELETE', pattern: '/api/v1/end-users/:channel/:externalUserId', who: 'tenant', url: (i) => `/api/v1/end-users/whatsapp/${i.externalUserId}` },
];

export interface SeededTenant {
  ids: Ids;
  key: string;
  agentKey: string;
  /** Every plaintext secret created for this tenant (keys, channel secrets, verify token). */
  secrets: string[];
}

let counter = 0;

/** A tenant with a key, an agent key, an extra key, a WhatsApp channel, a conversation with messages, usage and events. */
export async function seedTenant(db: Db, keyring: Keyring, label: string): Promise<SeededTenant> {
  const n = ++counter;
  const { tenant, apiKey } = await createTenant(db, { name: label, slug: `${label.toLowerCase()}-${n}-${Math.random().toString(36).slice(2, 8)}` });
  const tdb = forTenant(db, tenant.id);
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
  return {
    ids: {
      tenantId: tenant.id, channelId: channel.id, conversationId: conversation.id, apiKeyId: extra.id, externalUserId, documentId: document.id, functionId: fn.id,
      webhookEndpointId: hook.id, webhookDeliveryId: delivery.id,
    },
    key: apiKey.key,
    agentKey: agent.key,
    secrets: [apiKey.key, agent.key, extra.key, ...Object.values(channelSecrets), functionSecret, llmKey, webhookSecret],
  };
}
