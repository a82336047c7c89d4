// Tenants' webhook endpoints: what a tenant registers (validated like tenant function endpoints:
// https, no internal address written in the URL), the signing secret (AES-256-GCM bound to the
// row with AAD `webhook:{id}`, shown once at creation and rotation, never again), the signature,
// and the dispatcher that turns a committed event into one delivery workflow per subscribed
// endpoint (workflows/webhook-delivery.ts).
//
// Signature (Stripe-like): `x-metachat-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<raw body>")>`. A receiver recomputes v1 over the raw bytes it got, compares in constant
// time, and refuses a `t` outside its replay window (verifyWebhookSignature does exactly that).
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { Prisma, WebhookEndpoint } from '../generated/prisma/client.ts';
import { tenantWebhookDelivery, webhookDeliveryWorkflowId, type DeliveryPolicy } from '../workflows/webhook-delivery.ts';
import type { Config } from './config.ts';
import { openSecretColumns, reencryptRows, sealSecretColumns, type Keyring, type RotationResult } from './crypto.ts';
import type { Db } from './db.ts';
import type { Logger } from './logger.ts';
import { tenantData, type TenantDb } from './tenant-db.ts';
import { isTenantEventType, subscribedEndpoints, TENANT_EVENT_TYPES, type TenantEventSink } from './tenant-events.ts';
import { tenantUrl } from './tenant-functions.ts';
import { taskQueueName } from './temporal.ts';

/** Endpoints per tenant: every event is delivered to each subscribed one. */
export const MAX_WEBHOOK_ENDPOINTS_PER_TENANT = 20;

// ---- What a tenant registers ----

const eventList = z
  .array(z.enum(TENANT_EVENT_TYPES))
  .max(TENANT_EVENT_TYPES.length)
  .transform((events) => [...new Set(events)])
  .describe('Event types to deliver; empty or absent: all of them');

export function webhookEndpointSchemas(allowInsecure: boolean) {
  const input = z
    .object({
      url: tenantUrl(allowInsecure),
      events: eventList.default([]),
      description: z.string().trim().max(500).optional(),
    })
    .strict();
  const patch = z
    .object({
      url: tenantUrl(allowInsecure),
      events: eventList,
      description: z.string().trim().max(500).nullable(),
      status: z.enum(['active', 'disabled']).describe('"active" re-enables a disabled endpoint and resets its failure count'),
    })
    .partial()
    .strict();
  return { input, patch };
}

export const { input: webhookEndpointInputSchema, patch: webhookEndpointPatchSchema } = webhookEndpointSchemas(false);

export type WebhookEndpointInput = z.input<typeof webhookEndpointInputSchema>;

/** What the API shows of an endpoint (never the secret). */
export function webhookEndpointView(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    status: e.status,
    consecutiveFailures: e.consecutiveFailures,
    disabledAt: e.disabledAt?.toISOString() ?? null,
    disabledReason: e.disabledReason,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

// ---- The signing secret ----

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

function sealed(keyring: Keyring, id: string, secret: string) {
  return sealSecretColumns(keyring, secret, `webhook:${id}`);
}

export function webhookSecret(keyring: Keyring, e: WebhookEndpoint): string {
  return openSecretColumns(keyring, e, `webhook:${e.id}`);
}

/** Registers an endpoint and returns it with its signing secret, which is shown this once; `allowHttp`: see tenantUrl. */
export async function createWebhookEndpoint(
  tdb: TenantDb,
  keyring: Keyring,
  input: WebhookEndpointInput,
  options: { allowHttp?: boolean } = {},
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const e = webhookEndpointSchemas(options.allowHttp ?? false).input.parse(input);
  const id = randomUUID();
  const secret = newSecret();
  const endpoint = await tdb.webhookEndpoint.create({
    data: tenantData<Prisma.WebhookEndpointUncheckedCreateInput>({ id, url: e.url, events: e.events, description: e.description ?? null, ...sealed(keyring, id, secret) }),
  });
  return { endpoint, secret };
}

/** A new signing secret for the endpoint (the old one stops at once); shown this once. */
export async function rotateWebhookSecret(tdb: TenantDb, keyring: Keyring, id: string): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = newSecret();
  const endpoint = await tdb.webhookEndpoint.update({ where: { id }, data: sealed(keyring, id, secret) });
  return { endpoint, secret };
}

/** Re-encrypts every endpoint signing secret not under the current key (`npm run secrets:rotate`). */
export function rotateWebhookEndpointSecrets(db: Db, keyring: Keyring): Promise<RotationResult> {
  return reencryptRows(keyring, {
    count: async (current) => ({ total: await db.webhookEndpoint.count(), alreadyCurrent: await db.webhookEndpoint.count({ where: { secretKeyId: current } }) }),
    page: (current, after, take) =>
      db.webhookEndpoint.findMany({ where: { secretKeyId: { not: current }, ...(after ? { id: { gt: after } } : {}) }, orderBy: { id: 'asc' }, take }),
    reseal: async (e) => {
      const secret = webhookSecret(keyring, e);
      const { count } = await db.webhookEndpoint.updateMany({ where: { id: e.id, secretKeyId: e.secretKeyId, secretIv: e.secretIv }, data: sealed(keyring, e.id, secret) });
      return count > 0;
    },
  });
}

// ---- Signing and verifying ----

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: true when some v1 in the header is the HMAC of "<t>.<body>" and t is
 * within `toleranceSeconds` of now (replay window). Compares in constant time.
 */
export function verifyWebhookSignature(secret: string, header: string, body: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}

// ---- Delivery settings ----

export interface WebhookOptions {
  /** Real name of the queue the delivery workflows run on. */
  taskQueue: string;
  policy: DeliveryPolicy;
  /** Tests with a local http:// receiver only: the platform never sets it. */
  allowInsecureEndpoints?: boolean;
}

export function webhookOptionsFrom(
  config: Pick<
    Config,
    | 'TEMPORAL_TASK_QUEUE_PREFIX'
    | 'WEBHOOK_TIMEOUT_MS'
    | 'WEBHOOK_RETRY_INITIAL_MS'
    | 'WEBHOOK_RETRY_MAX_INTERVAL_MS'
    | 'WEBHOOK_RETRY_MAX_ATTEMPTS'
    | 'WEBHOOK_DISABLE_AFTER_FAILURES'
    | 'ALLOW_INSECURE_TENANT_URLS'
  >,
): WebhookOptions {
  return {
    // Deliveries share the conversations queue (its workers are sized for many short activities;
    // an attempt is bounded by WEBHOOK_TIMEOUT_MS).
    taskQueue: taskQueueName(config, 'conversations'),
    policy: {
      attemptTimeoutMs: config.WEBHOOK_TIMEOUT_MS,
      initialIntervalMs: config.WEBHOOK_RETRY_INITIAL_MS,
      maximumIntervalMs: config.WEBHOOK_RETRY_MAX_INTERVAL_MS,
      maximumAttempts: config.WEBHOOK_RETRY_MAX_ATTEMPTS,
      disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
    },
    allowInsecureEndpoints: config.ALLOW_INSECURE_TENANT_URLS,
  };
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  taskQueue: 'conversations',
  policy: { attemptTimeoutMs: 10_000, initialIntervalMs: 30_000, maximumIntervalMs: 3_600_000, maximumAttempts: 30, disableAfterFailures: 5 },
};

// ---- Dispatch ----

export interface WebhookDispatcher extends TenantEventSink {
  /**
   * Starts the delivery of one event to one endpoint (the delivery row made if missing).
   * `again`: a finished delivery is started anew (redelivery); otherwise a repeat is a no-op.
   * Returns false when a delivery of it is still running.
   */
  deliver(event: { id: string; tenantId: string; type: string }, endpointId: string, options?: { again?: boolean }): Promise<{ deliveryId: string; started: boolean }>;
  /** Dispatches events left undispatched for longer than `olderThanMs` (a crash between commit and dispatch). */
  sweep(options: { olderThanMs: number; limit?: number }): Promise<{ events: number }>;
}

export function createWebhookDispatcher(deps: { db: Db; temporal: Client; logger: Pick<Logger, 'debug' | 'warn'>; options: WebhookOptions }): WebhookDispatcher {
  const { db, temporal, logger, options } = deps;

  async function deliver(event: { id: string; tenantId: string; type: string }, endpointId: string, opts: { again?: boolean } = {}) {
    await db.webhookDelivery.createMany({
      data: [{ tenantId: event.tenantId, endpointId, eventId: event.id, eventType: event.type }],
      skipDuplicates: true,
    });
    const row = await db.webhookDelivery.findUniqueOrThrow({ where: { endpointId_eventId: { endpointId, eventId: event.id } }, select: { id: true } });
    try {
      await temporal.workflow.start(tenantWebhookDelivery, {
        workflowId: webhookDeliveryWorkflowId(endpointId, event.id),
        taskQueue: options.taskQueue,
        args: [{ deliveryId: row.id, tenantId: event.tenantId, policy: options.policy }],
        // A repeated dispatch of the same event to the same endpoint is a no-op, even after the
        // first delivery finished; a redelivery asks for a new run explicitly.
        workflowIdReusePolicy: opts.again ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      return { deliveryId: row.id, started: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { deliveryId: row.id, started: false };
      throw err;
    }
  }

  async function dispatch(...ids: (string | null | undefined)[]): Promise<void> {
    const wanted = ids.filter((id): id is string => typeof id === 'string');
    if (wanted.length === 0) return;
    const events = await db.event.findMany({ where: { id: { in: wanted }, dispatchedAt: null }, select: { id: true, tenantId: true, type: true } });
    for (const event of events) {
      if (event.tenantId && isTenantEventType(event.type)) {
        const endpoints = await db.webhookEndpoint.findMany({ where: subscribedEndpoints(event.tenantId, event.type), select: { id: true } });
        for (const endpoint of endpoints) await deliver({ id: event.id, tenantId: event.tenantId, type: event.type }, endpoint.id);
        if (endpoints.length) logger.debug({ eventId: event.id, type: event.type, endpoints: endpoints.length }, 'event dispatched to webhooks');
      }
      await db.event.updateMany({ where: { id: event.id, dispatchedAt: null }, data: { dispatchedAt: new Date() } });
    }
  }

  return {
    deliver,
    /** Never throws: the event is committed, and the sweep dispatches what this could not. */
    async dispatch(...ids) {
      try {
        await dispatch(...ids);
      } catch (err) {
        logger.warn({ err, eventIds: ids.filter(Boolean) }, 'event dispatch failed; the outbox sweep will retry it');
      }
    },
    async sweep({ olderThanMs, limit = 500 }) {
      const rows = await db.event.findMany({
        where: { dispatchedAt: null, createdAt: { lt: new Date(Date.now() - olderThanMs) } },
        orderBy: { createdAt: 'asc' },
        take: limit,
        select: { id: true },
      });
      if (rows.length) await dispatch(...rows.map((r) => r.id));
      return { events: rows.length };
    },
  };
}
