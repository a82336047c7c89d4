import { describe, expect, it } from 'vitest';
import { isTenantEventType, tenantEventId, TENANT_EVENT_TYPES } from './tenant-events.ts';

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
