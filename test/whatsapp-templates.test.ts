// WhatsApp templates end to end on one rig (real Postgres, Temporal and worker, the fake Graph
// API, the API over inject): sync from the Graph API across pages, template status webhooks
// (signed by the business account's channel, idempotent, out of order), template sends by an
// agent and by the API (validated first, Meta's wire format, stored with their text, joined by
// the conversation the customer answers in), opt-out by STOP, and campaigns (rate, per-recipient
// outcomes, opted-out customers skipped, at most once after a crash, cancel, continue-as-new).
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignActivities, OUTCOME_UNKNOWN } from '../activities/campaigns.ts';
import { createTemplateSender } from '../activities/templates.ts';
import { buildApp, type App } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { createLogger } from '../lib/logger.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createApiKey } from '../lib/tenants.ts';
import { TEMPLATE_PAGE_SIZE } from '../lib/template-sync.ts';
import { createWebhookEndpoint } from '../lib/tenant-webhooks.ts';
import { campaign, campaignProgressQuery } from '../workflows/campaign.ts';
import { templateSync } from '../workflows/template-sync.ts';
import type { FakeTemplate } from './fakes/graph-templates.ts';
import { createConversationRig, eventually, text, WA_APP_SECRET, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

const WABA = '555000111';

const ORDER_UPDATE: FakeTemplate = {
  name: 'order_update',
  language: 'en_US',
  category: 'UTILITY',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
    { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships today.' },
    { type: 'FOOTER', text: 'Acme Bikes' },
  ],
};
const PROMO: FakeTemplate = {
  name: 'spring_promo',
  language: 'en_US',
  category: 'MARKETING',
  parameter_format: 'NAMED',
  components: [{ type: 'BODY', text: 'Hi {{first_name}}, spring sale: 20% off!' }, { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Stop promotions' }] }],
};
/** Enough filler templates for the listing to take two pages. */
const FILLER: FakeTemplate[] = Array.from({ length: TEMPLATE_PAGE_SIZE }, (_, i) => ({ name: `filler_${i}`, language: 'en_US', components: [{ type: 'BODY', text: 'Thanks!' }] }));

describe('WhatsApp templates', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let key: string;
  let agentKey: string;
  let stored: ReturnType<ConversationRig['graph']['templates']['set']>;

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: { ...rig.config, CAMPAIGN_RATE_PER_SECOND: 20 }, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    const tdb = forTenant(rig.db, rig.tenantId);
    key = (await createApiKey(tdb, { name: 'tenant', scope: 'tenant' })).key;
    agentKey = (await createApiKey(tdb, { name: 'agent', scope: 'agent', agentId: 'agent-7' })).key;
    // An endpoint listening to message.sent, so that sends write it (its deliveries are not followed here).
    await createWebhookEndpoint(tdb, rig.config.SECRETS_KEYS, { url: 'https://hooks.example.com/metachat', events: ['message.sent'] });
    stored = rig.graph.templates.set(WABA, [ORDER_UPDATE, PROMO, { ...ORDER_UPDATE, name: 'old_notice', status: 'PAUSED' }, ...FILLER]);
    const sync = await api('POST', `/api/v1/channels/${rig.whatsappChannelId}/templates/sync`);
    expect(sync.json()).toEqual({ synced: stored.length, removed: 0, skipped: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, headers: Record<string, string> = {}, as = key) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${as}`, ...headers }, ...(payload !== undefined && { payload: payload as object }) });
  const webhook = (body: unknown, secret = WA_APP_SECRET) => {
    const payload = JSON.stringify(body);
    return app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, secret) } });
  };
  const templateStatus = (event: string, id: string, name: string, time: number) => ({
    object: 'whatsapp_business_account',
    entry: [{ id: WABA, time, changes: [{ field: 'message_template_status_update', value: { event, message_template_id: Number(id), message_template_name: name, message_template_language: 'en_US', reason: event === 'REJECTED' ? 'INVALID_FORMAT' : 'NONE' } }] }],
  });
  const newUser = () => `1555${Math.floor(1e6 + Math.random() * 8e6)}`;
  const templateOf = (name: string) => forTenant(rig.db, rig.tenantId).messageTemplate.findFirst({ where: { channelId: rig.whatsappChannelId, name } });

  it('syncs every page of the business account\'s templates, and removes the ones no longer listed', async () => {
    const listings = rig.graph.requests.filter((r) => r.kind === 'whatsapp.message_templates');
    expect(listings).toHaveLength(2);
    expect(listings[0]!.path).toBe(`/v21.0/${WABA}/message_templates`);
    expect(listings[0]!.query).toMatchObject({ limit: String(TEMPLATE_PAGE_SIZE), fields: expect.stringContaining('components') });
    expect(listings[1]!.query.after).toEqual(expect.any(String));
    expect(listings[0]!.headers.authorization).toMatch(/^Bearer /);

    const list = await api('GET', `/api/v1/channels/${rig.whatsappChannelId}/templates?status=approved`, undefined, {}, agentKey);
    expect(list.statusCode).toBe(200);
    const order = list.json().data.find((t: { name: string }) => t.name === 'order_update');
    expect(order).toMatchObject({ status: 'APPROVED', category: 'UTILITY', parameterFormat: 'POSITIONAL', placeholders: { header: ['1'], body: ['1', '2'] } });
    expect(list.json().data.map((t: { name: string }) => t.name)).not.toContain('old_notice');

    rig.graph.templates.set(WABA, stored.filter((t) => !t.name.startsWith('filler_')));
    expect((await api('POST', `/api/v1/channels/${rig.whatsappChannelId}/templates/sync`)).json()).toEqual({ synced: 3, removed: TEMPLATE_PAGE_SIZE, skipped: 0 });
    expect((await api('POST', `/api/v1/channels/${rig.messengerChannelId}/templates/sync`)).statusCode).toBe(409);
  });

  it('syncs every WhatsApp channel in the workflow the hourly schedule starts', async () => {
    const idPrefix = `t-${randomBytes(4).toString('hex')}-`;
    const before = rig.graph.requests.filter((r) => r.kind === 'whatsapp.message_templates').length;
    const result = await temporal.client.workflow.execute(templateSync, { workflowId: `template-sync-${idPrefix}`, taskQueue: taskQueueName(rig.config, 'conversations') });
    expect(result).toEqual({ channels: 1, failed: 0 });
    expect(rig.graph.requests.filter((r) => r.kind === 'whatsapp.message_templates').length).toBeGreaterThan(before);
  });

  it('applies signed template status webhooks once and in order, whatever order they arrive in', async () => {
    const promo = stored.find((t) => t.name === 'spring_promo')!;
    const now = Math.ceil(Date.now() / 1000);
    const paused = await webhook(templateStatus('PAUSED', promo.id, promo.name, now));
    expect(paused.statusCode).toBe(200);
    expect(paused.body).toBe('');
    expect(await templateOf('spring_promo')).toMatchObject({ status: 'PAUSED' });
    // An older APPROVED arriving late, and the PAUSED again: nothing changes.
    expect((await webhook(templateStatus('APPROVED', promo.id, promo.name, now - 60))).statusCode).toBe(200);
    expect((await webhook(templateStatus('PAUSED', promo.id, promo.name, now))).statusCode).toBe(200);
    expect(await templateOf('spring_promo')).toMatchObject({ status: 'PAUSED' });
    // Signed with another app's secret: refused, nothing applied.
    expect((await webhook(templateStatus('DISABLED', promo.id, promo.name, now + 1), 'someone-else')).statusCode).toBe(401);
    expect(await templateOf('spring_promo')).toMatchObject({ status: 'PAUSED' });
    // A template no sync has read yet is stored from the webhook.
    expect((await webhook(templateStatus('REJECTED', '987654321', 'brand_new', now))).statusCode).toBe(200);
    expect(await templateOf('brand_new')).toMatchObject({ status: 'REJECTED', reason: 'INVALID_FORMAT', syncedAt: null });
    // Reinstated: sendable again.
    expect((await webhook(templateStatus('REINSTATED', promo.id, promo.name, now + 2))).statusCode).toBe(200);
    expect(await templateOf('spring_promo')).toMatchObject({ status: 'APPROVED' });
    // A malformed status change is a 400.
    const malformed = templateStatus('APPROVED', promo.id, promo.name, now);
    delete (malformed.entry[0]!.changes[0]!.value as Record<string, unknown>).message_template_name;
    expect((await webhook(malformed)).statusCode).toBe(400);
  });

  it('lets an agent send a template when the service window is closed: checked first, in Meta\'s format, stored with its text, once per Idempotency-Key', async () => {
    const user = newUser();
    const tdb = forTenant(rig.db, rig.tenantId);
    const conversation = await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: rig.whatsappChannelId, externalUserId: user, workflowId: rig.workflowId('whatsapp', user), lastInboundAt: new Date(Date.now() - 3 * 86_400_000) }) });
    const url = `/api/v1/conversations/${conversation.id}/template-messages`;
    const template = { name: 'order_update', language: 'en_US' };

    const bad = await api('POST', url, { template, parameters: { body: ['Ana'] } }, {}, agentKey);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_template_parameters', details: [{ path: '/parameters/header', message: 'needs 1 value ({{1}})' }, { path: '/parameters/body', message: 'needs exactly 2 values, got 1' }] });
    expect((await api('POST', url, { template: { name: 'old_notice', language: 'en_US' }, parameters: { header: ['1'], body: ['a', 'b'] } }, {}, agentKey)).json().error.code).toBe('template_not_approved');
    expect((await api('POST', url, { template: { name: 'nope', language: 'en_US' } }, {}, agentKey)).statusCode).toBe(404);

    const good = { template, parameters: { header: ['#42'], body: ['Ana', '#42'] } };
    const sent = await api('POST', url, good, { 'idempotency-key': 'order-42' }, agentKey);
    expect(sent.statusCode).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'sent', conversationId: conversation.id, reason: null });
    const again = await api('POST', url, good, { 'idempotency-key': 'order-42' }, agentKey);
    expect(again.json()).toEqual(sent.json());

    const delivered = rig.graph.templates.delivered.filter((d) => d.to === user);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.text).toBe('Order #42\n\nHi Ana, your order #42 ships today.\n\nAcme Bikes');
    const request = rig.graph.requests.find((r) => r.kind === 'whatsapp.message' && (r.body as { to?: string }).to === user)!;
    expect(request.body).toEqual({
      messaging_product: 'whatsapp', recipient_type: 'individual', to: user, type: 'template',
      template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [{ type: 'text', text: '#42' }] }, { type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#42' }] }] },
    });
    const messages = (await api('GET', `/api/v1/conversations/${conversation.id}/messages`, undefined, {}, agentKey)).json().items;
    expect(messages).toEqual([expect.objectContaining({ id: sent.json().messageId, type: 'template', author: 'agent', agentId: 'agent-7', status: 'sent', text: delivered[0]!.text, externalMessageId: delivered[0]!.messageId })]);
    // message.sent, as for any other agent message: once, however often the request was repeated.
    const events = await rig.db.event.findMany({ where: { tenantId: rig.tenantId, type: 'message.sent', subjectId: conversation.id } });
    expect(events.map((e) => e.payload)).toEqual([{
      messageId: sent.json().messageId, conversationId: conversation.id, channel: 'whatsapp', externalUserId: user, text: delivered[0]!.text,
      author: 'agent', agentId: 'agent-7', providerMessageIds: [delivered[0]!.messageId], createdAt: expect.any(String),
    }]);
  });

  it('starts a conversation with a proactive template that the customer\'s answer joins; STOP opts the customer out', async () => {
    const user = newUser();
    const body = { channelId: rig.whatsappChannelId, to: `+${user.slice(0, 1)} ${user.slice(1, 4)} ${user.slice(4)}`, template: { name: 'order_update', language: 'en_US' }, parameters: { header: ['#7'], body: ['Bo', '#7'] } };
    const sent = await api('POST', '/api/v1/template-messages', body, { 'idempotency-key': 'proactive-7' });
    expect(sent.statusCode).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'sent' });
    const conversation = await forTenant(rig.db, rig.tenantId).conversation.findFirst({ where: { externalUserId: user } });
    expect(conversation).toMatchObject({ id: sent.json().conversationId, workflowId: rig.workflowId('whatsapp', user) });
    // What cannot be a phone number is refused, saying why, never reduced to its digits.
    for (const [to, why] of [['call me', 'only digits'], ['+1 555 010 9999 ext 12', 'only digits'], ['0049 151 2345678', 'country code, not 0'], ['+1 555', '7 to 15']]) {
      const refused = await api('POST', '/api/v1/template-messages', { ...body, to });
      expect(refused.statusCode, to).toBe(400);
      expect(refused.json().error.message, to).toContain(`/to not a phone number: it`);
      expect(refused.json().error.message, to).toContain(why);
    }

    // The customer answers: the conversation workflow replies in the same conversation.
    await rig.deliver('whatsapp', user, [text('Where is my order?')]);
    await eventually(() => rig.graph.delivered.some((d) => d.to === user), 20_000, 'the assistant\'s reply');
    const rows = await forTenant(rig.db, rig.tenantId).message.findMany({ where: { conversationId: conversation!.id }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.direction, r.type])).toEqual([['outbound', 'template'], ['inbound', 'text'], ['outbound', 'text']]);

    // STOP through the webhook: no more proactive messages until START.
    const stop = { object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: rig.phoneNumberId }, messages: [{ from: user, id: `wamid.${randomBytes(6).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'STOP' } }] } }] }] };
    expect((await webhook(stop)).statusCode).toBe(200);
    expect((await api('GET', `/api/v1/opt-outs/${user}`)).json()).toMatchObject({ optedOut: true, source: 'keyword' });
    const refused = await api('POST', '/api/v1/template-messages', body, { 'idempotency-key': 'proactive-8' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('opted_out');
    expect((await api('PUT', `/api/v1/opt-outs/%2B${user}`, { optedOut: false })).json()).toMatchObject({ optedOut: false, source: 'api' });
  });

  it('broadcasts a campaign at its rate: every recipient once, opted-out ones skipped, Meta\'s refusals recorded', async () => {
    const users = Array.from({ length: 8 }, newUser);
    const [optedOut, undeliverable] = users;
    await api('PUT', `/api/v1/opt-outs/${optedOut}`, { optedOut: true });
    const remove = rig.graph.failFor((r) => (r.body as { to?: string } | undefined)?.to === undeliverable, { code: 131026 });
    const body = { name: 'Spring', channelId: rig.whatsappChannelId, template: { name: 'spring_promo', language: 'en_US' }, ratePerSecond: 10, recipients: users.map((to, i) => ({ to, parameters: { body: { first_name: `C${i}` } } })) };

    const invalid = await api('POST', '/api/v1/campaigns', { ...body, recipients: [...body.recipients, { to: newUser(), parameters: { body: { name: 'x' } } }] });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.details).toEqual([{ path: '/recipients/8/parameters/body/first_name', message: 'is required' }, { path: '/recipients/8/parameters/body/name', message: 'is not a placeholder of this template' }]);

    const created = await api('POST', '/api/v1/campaigns', body, { 'idempotency-key': 'spring-1' });
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    expect((await api('POST', '/api/v1/campaigns', body, { 'idempotency-key': 'spring-1' })).json().id).toBe(id);
    expect((await api('POST', '/api/v1/campaigns', body)).json().error.code).toBe('campaign_running');

    const done = await eventually(async () => {
      const c = (await api('GET', `/api/v1/campaigns/${id}`)).json();
      return c.status === 'completed' && c;
    }, 20_000, 'the campaign completed');
    remove();
    expect(done.progress).toEqual({ total: 8, pending: 0, sending: 0, sent: 6, failed: 1, skipped: 1 });
    const outcomes = (await api('GET', `/api/v1/campaigns/${id}/recipients`)).json().items;
    expect(outcomes.find((r: { to: string }) => r.to === optedOut)).toMatchObject({ status: 'skipped', reason: 'opted_out' });
    expect(outcomes.find((r: { to: string }) => r.to === undeliverable)).toMatchObject({ status: 'failed', reason: 'GraphPermanentError' });

    const sends = rig.graph.requests.filter((r) => r.kind === 'whatsapp.message' && users.includes((r.body as { to: string }).to));
    expect(sends).toHaveLength(7);
    expect(new Set(rig.graph.templates.delivered.filter((d) => users.includes(d.to)).map((d) => d.to)).size).toBe(6);
    // 10 per second: the 8 sends started (claimed) over at least 700 ms.
    const claimed = (await forTenant(rig.db, rig.tenantId).campaignRecipient.findMany({ where: { campaignId: id } })).map((r) => r.messageCreatedAt!.getTime());
    expect(Math.max(...claimed) - Math.min(...claimed)).toBeGreaterThanOrEqual(690);
  });

  it('never sends a recipient twice after a crash, and cancels between sends', async () => {
    const tdb = forTenant(rig.db, rig.tenantId);
    const users = Array.from({ length: 6 }, newUser);
    const workflowId = `campaign-test-${randomBytes(4).toString('hex')}`;
    const c = await tdb.campaign.create({
      data: tenantData<Prisma.CampaignUncheckedCreateInput>({ name: 'Crash', channelId: rig.whatsappChannelId, templateName: 'spring_promo', templateLanguage: 'en_US', ratePerSecond: 50, recipientCount: users.length, workflowId }),
    });
    await tdb.campaignRecipient.createMany({ data: users.map((to, position) => tenantData<Prisma.CampaignRecipientUncheckedCreateInput>({ campaignId: c.id, position, to, parameters: { body: { first_name: 'X' } } })) });
    // A crashed attempt had handed recipient 1 to Meta.
    await tdb.campaignRecipient.updateMany({ where: { campaignId: c.id, position: 1 }, data: { status: 'sending', messageCreatedAt: new Date() } });
    const activities = createCampaignActivities({ db: rig.db, sendTemplateMessage: createTemplateSender({ db: rig.db, keyring: rig.config.SECRETS_KEYS, graphApiUrl: rig.graph.url }) });
    const batch = { tenantId: rig.tenantId, campaignId: c.id, afterPosition: -1, batchSize: 3, ratePerSecond: 50 };
    expect(await new MockActivityEnvironment().run(activities.sendCampaignBatch, batch)).toEqual({ lastPosition: 2, done: false, cancelled: false, sent: 2, failed: 1, skipped: 0 });
    // The batch again (a retry after the worker died before reporting): nobody is sent twice.
    expect(await new MockActivityEnvironment({ attempt: 2 }).run(activities.sendCampaignBatch, batch)).toMatchObject({ sent: 2, failed: 1 });
    expect((await tdb.campaignRecipient.findFirst({ where: { campaignId: c.id, position: 1 } }))?.reason).toBe(OUTCOME_UNKNOWN);
    const sentTo = () => rig.graph.templates.delivered.filter((d) => users.includes(d.to)).map((d) => d.to);
    expect(sentTo()).toEqual([users[0], users[2]]);

    // The workflow, batch by batch (continuing as new after each), cancelled: nothing after.
    const handle = await temporal.client.workflow.start(campaign, {
      workflowId,
      taskQueue: taskQueueName(rig.config, 'conversations'),
      args: [{ tenantId: rig.tenantId, campaignId: c.id, ratePerSecond: 2, batchSize: 1, batchesPerRun: 1, progress: { position: 2, sent: 2, failed: 1, skipped: 0, cancelled: false } }],
    });
    // Two more recipients, one per run: the second came from the run continued as new.
    await eventually(() => sentTo().length === 4, 10_000, 'two more recipients sent');
    expect((await temporal.client.workflow.getHandle(workflowId).query(campaignProgressQuery)).position).toBeGreaterThanOrEqual(2);
    const cancelled = await api('POST', `/api/v1/campaigns/${c.id}/cancel`);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
    expect((await api('POST', `/api/v1/campaigns/${c.id}/cancel`)).json().error.code).toBe('campaign_finished');
    const result = await handle.result();
    expect(result.cancelled).toBe(true);
    expect(result.position).toBeGreaterThanOrEqual(4);
    expect((await temporal.client.workflow.getHandle(workflowId).describe()).runId).not.toBe(handle.firstExecutionRunId); // continued as new
    const after = sentTo().length;
    expect(after).toBeLessThanOrEqual(5);
    expect(await tdb.campaignRecipient.count({ where: { campaignId: c.id, status: 'skipped', reason: 'cancelled' } })).toBe(users.length - after - 1);
  });
});
