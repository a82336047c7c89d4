// Tenant-facing events: the vocabulary tenants' webhook endpoints subscribe to, the shape of each
// event's `data`, and how an event is written (the outbox). An event is written in the same
// transaction as the state change it describes, and only when that change happened (or under a
// deterministic id), so a retried activity never writes a second one. After the commit the writer
// hands the event id to the dispatcher (lib/tenant-webhooks.ts), which starts one delivery
// workflow per subscribed endpoint and sets `dispatched_at`; a swept Schedule catches what a crash
// between commit and dispatch left behind.
//
// Decision: message.*, conversation.created and document.* events are written only when the
// tenant has an active endpoint subscribed to the type (one indexed lookup in the same
// transaction). The per-message paths first ask a per-process cache (LISTENING_CACHE_MS) whether
// the tenant has any active endpoint at all, so that tenants without webhooks pay no transaction
// per message; a tenant's first endpoint hears messages within those seconds. The handoff.*
// events are the conversation's audit trail and are always written; with no subscriber they are
// stored as already dispatched.
import { createHash } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.ts';

export const TENANT_EVENT_TYPES = [
  'message.received',
  'message.sent',
  'conversation.created',
  'handoff.requested',
  'handoff.assigned',
  'handoff.released',
  'document.indexed',
  'document.failed',
] as const;

export type TenantEventType = (typeof TENANT_EVENT_TYPES)[number];

/** Sent by `POST /api/v1/webhook-endpoints/:id/test` to that endpoint only; never subscribed to. */
export const PING_EVENT = 'ping';

export function isTenantEventType(type: string): type is TenantEventType {
  return (TENANT_EVENT_TYPES as readonly string[]).includes(type);
}

// ---- What each event's `data` carries (message text is the tenant's own data: it goes to the
// tenant's endpoint, and is never logged above debug) ----

interface MessageData {
  messageId: string;
  conversationId: string;
  channel: string;
  externalUserId: string;
  text: string | null;
  createdAt: string;
}

export interface TenantEventData {
  'message.received': MessageData & { externalMessageId: string; type: string };
  'message.sent': MessageData & { author: 'assistant' | 'agent'; agentId: string | null; providerMessageIds: string[] };
  'conversation.created': { conversationId: string; channel: string; channelId: string; externalUserId: string; createdAt: string };
  'handoff.requested': HandoffData & { reason: string };
  'handoff.assigned': HandoffData & { agentId: string };
  'handoff.released': HandoffData & { reason: string; agentId?: string };
  'document.indexed': DocumentData & { chunkCount: number };
  'document.failed': DocumentData & { error: string };
}

interface HandoffData {
  conversationId: string;
  status: string;
  assignee: string | null;
}

interface DocumentData {
  documentId: string;
  documentKey: string;
  version: number;
  title: string;
}

/** The body POSTed to an endpoint: `{ id, type, createdAt, tenantId, data }`. */
export interface TenantEventEnvelope {
  id: string;
  type: string;
  createdAt: string;
  tenantId: string;
  data: unknown;
}

/** The body POSTed for an event row; the delivery log shows the same one (GET /api/v1/webhook-deliveries/:id). */
export function webhookEnvelope(event: { id: string; type: string; createdAt: Date; tenantId: string | null; payload: unknown }): TenantEventEnvelope {
  return { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), tenantId: event.tenantId ?? '', data: event.payload };
}

/**
 * A deterministic event id (a name-based UUID, RFC 9562 v8 layout over SHA-256) for events that
 * happen once per subject, so that writing one twice is a no-op.
 */
export function tenantEventId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Active endpoints of a tenant that want `type` (an empty subscription list means every type). */
export function subscribedEndpoints(tenantId: string, type: string): Prisma.WebhookEndpointWhereInput {
  return { tenantId, status: 'active', OR: [{ events: { isEmpty: true } }, { events: { has: type } }] };
}

/** How long a worker trusts what it learnt about a tenant having webhook endpoints. */
export const LISTENING_CACHE_MS = 5_000;
const listening = new Map<string, { at: number; value: boolean }>();

/**
 * Whether the tenant has any active webhook endpoint, cached briefly per process: a hint for hot
 * paths to skip the event transaction. When true, recordTenantEvent still checks for real.
 */
export async function tenantHasWebhooks(db: Pick<Prisma.TransactionClient, 'webhookEndpoint'>, tenantId: string, now = Date.now()): Promise<boolean> {
  const known = listening.get(tenantId);
  if (known && now - known.at < LISTENING_CACHE_MS) return known.value;
  const value = (await db.webhookEndpoint.findFirst({ where: { tenantId, status: 'active' }, select: { id: true } })) !== null;
  if (listening.size >= 10_000) listening.clear();
  listening.set(tenantId, { at: now, value });
  return value;
}

/** What a transaction (plain or tenant-scoped) needs to write an event. */
export type EventWriter = Pick<Prisma.TransactionClient, 'event' | 'webhookEndpoint'>;

export interface NewTenantEvent<T extends TenantEventType | string> {
  /** Deterministic when the write may be repeated (see tenantEventId). */
  id: string;
  tenantId: string;
  type: T;
  subjectType: string;
  subjectId: string;
  data: T extends TenantEventType ? TenantEventData[T] : Record<string, unknown>;
  createdAt?: Date;
}

/**
 * Writes the event inside the caller's transaction. Returns its id when it is to be dispatched,
 * null when nothing was written or nothing listens. `audit`: write it even without a subscriber
 * (as already dispatched). Types outside the vocabulary are written as already dispatched.
 */
export async function recordTenantEvent<T extends TenantEventType | string>(
  tx: EventWriter,
  event: NewTenantEvent<T>,
  options: { audit?: boolean } = {},
): Promise<string | null> {
  const listened = isTenantEventType(event.type)
    ? (await tx.webhookEndpoint.findFirst({ where: subscribedEndpoints(event.tenantId, event.type), select: { id: true } })) !== null
    : false;
  if (!listened && !options.audit) return null;
  await tx.event.createMany({
    data: [
      {
        id: event.id,
        tenantId: event.tenantId,
        type: event.type,
        subjectType: event.subjectType,
        subjectId: event.subjectId,
        payload: event.data as Prisma.InputJsonValue,
        ...(event.createdAt && { createdAt: event.createdAt }),
        ...(!listened && { dispatchedAt: new Date() }),
      },
    ],
    skipDuplicates: true,
  });
  return listened ? event.id : null;
}

/** The dispatcher as event writers see it: hand it ids after the commit (nulls are skipped). */
export interface TenantEventSink {
  dispatch(...eventIds: (string | null | undefined)[]): Promise<void>;
}
