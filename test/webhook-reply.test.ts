// The platform as Meta sees it: a signed webhook over HTTP, one reply on the same channel at the
// (fake) Graph API, and the delivery status webhook recorded on the reply.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import { createPartitionsAhead, drainDefaultPartitions, MONTHS_BACK } from '../activities/maintenance.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createConversationRig, eventually, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('webhook to reply', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const post = (channel: 'whatsapp' | 'messenger', body: unknown, secret: string) => {
    const payload = JSON.stringify(body);
    return app.inject({
      method: 'POST',
      url: `/webhooks/${channel}`,
      payload,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) },
    });
  };
  const whatsapp = (value: Record<string, unknown>) => ({
    object: 'whatsapp_business_account',
    entry: [{ id: '555000111', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: rig.phoneNumberId }, ...value } }] }],
  });

  it('answers a signed WhatsApp message once, and records its delivery status', async () => {
    const from = '15551230001';
    const message = { from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'Hello!' } };
    const body = whatsapp({ contacts: [{ profile: { name: 'Ana' }, wa_id: from }], messages: [message] });
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
    expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200); // Meta redelivers
    const [reply] = await eventually(() => rig.graph.delivered.filter((d) => d.to === from).length > 0 && rig.graph.delivered.filter((d) => d.to === from), 20_000, 'a reply');
    expect(reply).toMatchObject({ channel: 'whatsapp', from: rig.phoneNumberId, text: 'Hello! How can I help you today?' });

    const tdb = forTenant(rig.db, rig.tenantId);
    await eventually(async () => (await tdb.message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status === 'sent', 10_000, 'reply stored as sent');
    const status = whatsapp({ statuses: [{ id: reply!.messageId, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: from }] });
    expect((await post('whatsapp', status, 'wa-app-secret')).statusCode).toBe(200);
    expect((await tdb.message.findFirst({ where: { externalMessageId: reply!.messageId } }))?.status).toBe('delivered');

    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.graph.delivered.filter((d) => d.to === from)).toHaveLength(1);
  });

  it('answers a signed Messenger message once, on Messenger', async () => {
    const psid = `7${Date.now()}`;
    const body = {
      object: 'page',
      entry: [{ id: rig.pageId, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: rig.pageId }, timestamp: Date.now(), message: { mid: `m_${randomBytes(8).toString('hex')}`, text: 'hi there' } }] }],
    };
    const res = await post('messenger', body, 'page-app-secret');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('EVENT_RECEIVED');
    const replies = await eventually(() => rig.graph.delivered.filter((d) => d.to === psid).length > 0 && rig.graph.delivered.filter((d) => d.to === psid), 20_000, 'a reply');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ channel: 'messenger', text: 'Hello! How can I help you today?' });
  });

  it('stores and answers messages a tenant dated 2090 and 1990 once each, and maintenance makes no partition for those years', async () => {
    const forged = [
      { from: '15551230010', id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '3786912000' }, // 2090-01-01
      { from: '15551230011', id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '631152000' }, // 1990-01-01
    ];
    const before = Date.now();
    for (const m of forged) {
      const body = whatsapp({ contacts: [{ profile: { name: 'Eve' }, wa_id: m.from }], messages: [{ ...m, type: 'text', text: { body: 'Hello!' } }] });
      expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200);
      expect((await post('whatsapp', body, 'wa-app-secret')).statusCode).toBe(200); // redelivered
    }
    for (const { from } of forged) await eventually(() => rig.graph.delivered.some((d) => d.to === from), 20_000, `a reply to ${from}`);
    const after = Date.now();

    const rows = await rig.db.$queryRaw<{ external_message_id: string; created_at: Date; sent_at: Date; partition: string; content: { providerSentAt?: number } }[]>`
      SELECT external_message_id, created_at, sent_at, tableoid::regclass::text AS partition, content FROM messages
      WHERE tenant_id = ${rig.tenantId}::uuid AND external_message_id = ANY(${forged.map((m) => m.id)}::text[]) ORDER BY created_at`;
    expect(rows.map((r) => r.external_message_id)).toEqual(forged.map((m) => m.id));
    const monthPartition = (d: Date) => `messages_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    for (const [i, row] of rows.entries()) {
      expect(row.created_at.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.created_at.getTime()).toBeLessThanOrEqual(after);
      expect(row.sent_at.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.content.providerSentAt).toBe(Number(forged[i]!.timestamp) * 1000);
      expect(row.partition).toBe(monthPartition(row.created_at)); // the receive month's, not the default partition
    }

    const now = new Date();
    const logger = createLogger({ level: 'silent', name: 'test' });
    await drainDefaultPartitions(rig.db, logger, now);
    await createPartitionsAhead(rig.db, logger, 3, now);
    const partitions = (await rig.db.$queryRaw<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages'::regclass`).map((r) => r.name);
    const allowed = new Set(['messages_default', ...Array.from({ length: MONTHS_BACK + 4 }, (_, k) => monthPartition(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - MONTHS_BACK + k, 1))))]);
    expect(partitions.filter((p) => !allowed.has(p))).toEqual([]);
    expect(partitions.some((p) => /_(2090|1990)_/.test(p))).toBe(false);
  });

  it('refuses a forged delivery and stores nothing', async () => {
    const from = '15551230002';
    const body = whatsapp({ messages: [{ from, id: `wamid.${randomBytes(8).toString('hex')}`, timestamp: '1749416383', type: 'text', text: { body: 'hi' } }] });
    expect((await post('whatsapp', body, 'not-the-app-secret')).statusCode).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await forTenant(rig.db, rig.tenantId).conversation.count({ where: { externalUserId: from } })).toBe(0);
    expect(rig.graph.delivered.filter((d) => d.to === from)).toHaveLength(0);
  });
});
