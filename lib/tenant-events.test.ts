import { describe, expect, it } from 'vitest';
import { isTenantEventType, LISTENING_CACHE_MS, tenantEventId, tenantHasWebhooks, TENANT_EVENT_TYPES } from './tenant-events.ts';

describe('tenant events', () => {
  it('derives the same well-formed UUID from the same parts, and different ones otherwise', () => {
    const id = tenantEventId('message.sent', '0b9e6c52-4b1f-4d59-9a55-1f0f7a3c2d10');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tenantEventId('message.sent', '0b9e6c52-4b1f-4d59-9a55-1f0f7a3c2d10')).toBe(id);
    expect(tenantEventId('message.received', '0b9e6c52-4b1f-4d59-9a55-1f0f7a3c2d10')).not.toBe(id);
    // Parts are separated, so shifting text between them changes the id.
    expect(tenantEventId('ab', 'c')).not.toBe(tenantEventId('a', 'bc'));
  });

  it('knows its vocabulary', () => {
    expect(TENANT_EVENT_TYPES).toHaveLength(8);
    expect(isTenantEventType('handoff.assigned')).toBe(true);
    expect(isTenantEventType('conversation.closed')).toBe(false);
    expect(isTenantEventType('ping')).toBe(false);
  });
});

describe('tenantHasWebhooks', () => {
  it('asks the database once per tenant within the cache time, then again', async () => {
    let asked = 0;
    let active = false;
    const db = { webhookEndpoint: { findFirst: async () => (asked++, active ? { id: 'e' } : null) } } as unknown as Parameters<typeof tenantHasWebhooks>[0];
    const tenant = `t-${Math.random()}`;
    expect(await tenantHasWebhooks(db, tenant, 1_000)).toBe(false);
    active = true;
    expect(await tenantHasWebhooks(db, tenant, 1_000 + LISTENING_CACHE_MS - 1)).toBe(false);
    expect(asked).toBe(1);
    expect(await tenantHasWebhooks(db, tenant, 1_000 + LISTENING_CACHE_MS)).toBe(true);
    expect(asked).toBe(2);
    expect(await tenantHasWebhooks(db, `${tenant}-other`, 1_000)).toBe(true);
    expect(asked).toBe(3);
  });
});
