// Meta webhooks end to end: the API on a fresh migrated Postgres and the real Temporal server.
// No worker polls this file's task queue prefix, so the workflows a delivery starts just wait,
// and the test reads what they were started and signalled with from their history.
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { signatureHeader } from '../api/webhooks/signature.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { createChannel } from '../lib/channels.ts';
import { createLogger } from '../lib/logger.ts';
import { EncryptionCodec } from '../lib/payload-codec.ts';
import { createTemporalClient } from '../lib/temporal.ts';
import { forTenant, tenantData, type TenantDb } from '../lib/tenant-db.ts';
import { createTenant } from '../lib/tenants.ts';
import { conversationWorkflowId } from '../workflows/ids.ts';
import { Channel, ConversationStatus, HandoffState, TenantId } from '../workflows/search-attributes.ts';
import type { InboundMessage } from '../workflows/types.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { testConfig } from './support/config.ts';
import { uniqueQueuePrefix } from './support/temporal.ts';

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

interface TestChannel {
  tenantId: string;
  tdb: TenantDb;
  channelId: string;
  publicId: string;
  appSecret: string;
  verifyToken: string;
}

describe('Meta webhooks', () => {
  let api: TestApi;
  const queuePrefix = uniqueQueuePrefix('webhooks');
  let wa: TestChannel;
  let ms: TestChannel;
  let wa2: TestChannel;
  const started = new Set<string>();

  async function tenantWith(type: 'whatsapp' | 'messenger'): Promise<TestChannel> {
    const slug = `t-${randomBytes(4).toString('hex')}`;
    const { tenant } = await createTenant(api.db, { name: slug, slug });
    const tdb = forTenant(api.db, tenant.id);
    const publicId = digits(15);
    const appSecret = randomBytes(16).toString('hex');
    const verifyToken = `verify-${randomBytes(8).toString('hex')}`;
    const common = { name: `${type} channel`, appSecret, verifyToken };
    const channel =
      type === 'whatsapp'
        ? await createChannel(tdb, api.config.SECRETS_KEYS, { type, ...common, phoneNumberId: publicId, wabaId: digits(15), accessToken: 'EAAG-test-token' })
        : await createChannel(tdb, api.config.SECRETS_KEYS, { type, ...common, pageId: publicId, pageAccessToken: 'EAAG-page-token' });
    return { tenantId: tenant.id, tdb, channelId: channel.id, publicId, appSecret, verifyToken };
  }

  function post(path: string, body: unknown, secret: string | null, headers: Record<string, string> = {}) {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    return api.app.inject({
      method: 'POST',
      url: path,
      payload,
      headers: { 'content-type': 'application/json', ...(secret === null ? {} : { 'x-hub-signature-256': signatureHeader(payload, secret) }), ...headers },
    });
  }

  function waDelivery(channel: TestChannel, messages: unknown[], extra: Record<string, unknown> = {}) {
    return {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: channel.publicId }, messages, ...extra } }],
        },
      ],
    };
  }

  const waText = (from: string, id: string, body: string, timestamp = '1749416383') => ({ from, id, timestamp, type: 'text', text: { body } });

  /** A payload as the history holds it: encrypted by the API's codec (lib/payload-codec.ts), then JSON. */
  async function readPayload<T>(payload: unknown): Promise<T> {
    expect(Buffer.from((payload as Payload).metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    const [plain] = await new EncryptionCodec(api.config.SECRETS_KEYS).decode([payload as Payload]);
    return defaultPayloadConverter.fromPayload<T>(plain!);
  }

  async function signalsOf(workflowId: string): Promise<InboundMessage[][]> {
    const history = await api.app.temporal.workflow.getHandle(workflowId).fetchHistory();
    return Promise.all(
      (history.events ?? [])
        .filter((e) => e.workflowExecutionSignaledEventAttributes)
        .map((e) => {
          const attrs = e.workflowExecutionSignaledEventAttributes!;
          expect(attrs.signalName).toBe('inbound');
          return readPayload<InboundMessage[]>(attrs.input!.payloads![0]!);
        }),
    );
  }

  async function startInput(workflowId: string): Promise<unknown> {
    const history = await api.app.temporal.workflow.getHandle(workflowId).fetchHistory();
    const startEvent = history.events?.find((e) => e.workflowExecutionStartedEventAttributes);
    return readPayload(startEvent!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!);
  }

  async function expectNoWorkflow(workflowId: string) {
    await expect(api.app.temporal.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  function wfId(channel: TestChannel, userId: string) {
    const id = conversationWorkflowId(channel.tenantId, channel.channelId, userId);
    started.add(id);
    return id;
  }

  beforeAll(async () => {
    api = await startTestApi('webhooks', { TEMPORAL_TASK_QUEUE_PREFIX: queuePrefix });
    [wa, ms, wa2] = await Promise.all([tenantWith('whatsapp'), tenantWith('messenger'), tenantWith('whatsapp')]);
  });

  afterAll(async () => {
    // The started workflows have no worker; end them so they do not linger on the shared server.
    await Promise.allSettled([...started].map((id) => api.app.temporal.workflow.getHandle(id).terminate('test over')));
    await api?.close();
  });

  describe('GET verification', () => {
    it('echoes hub.challenge as text/plain for a channel\'s verify token', async () => {
      for (const [type, channel] of [['whatsapp', wa], ['messenger', ms]] as const) {
        const res = await api.app.inject({
          url: `/webhooks/${type}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(channel.verifyToken)}&hub.challenge=1158201444`,
        });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(res.body).toBe('1158201444');
      }
    });

    it('answers 403 with the error envelope for a wrong, missing or other-type token, or a wrong mode', async () => {
      const cases = [
        `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong-token-123&hub.challenge=1`,
        `/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1`,
        `/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token=${wa.verifyToken}&hub.challenge=1`,
        `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${wa.verifyToken}`,
        `/webhooks/messenger?hub.mode=subscribe&hub.verify_token=${wa.verifyToken}&hub.challenge=1`,
        `/webhooks/whatsapp`,
      ];
      for (const url of cases) {
        const res = await api.app.inject({ url });
        expect(res.statusCode, url).toBe(403);
        expect(res.json()).toEqual({ error: { code: 'forbidden', message: expect.any(String), requestId: res.headers['x-request-id'] } });
      }
    });
  });

  describe('POST deliveries', () => {
    it('starts the user\'s conversation workflow with its id, input, search attributes and the messages', async () => {
      const user = digits(11);
      const firstId = `wamid.${digits(10)}`;
      const sent = Math.floor(Date.now() / 1000) - 60;
      const body = waDelivery(wa, [waText(user, firstId, 'Hi there', String(sent)), { ...waText(user, `wamid.${digits(10)}`, ''), type: 'image', image: { id: '1003', mime_type: 'image/jpeg', sha256: 'x', caption: 'my receipt' } }], {
        contacts: [{ profile: { name: 'Sheena' }, wa_id: user }],
      });
      const res = await post('/webhooks/whatsapp', body, wa.appSecret);
      expect(res.statusCode).toBe(200);
      // Meta delivers from few addresses: webhooks get 10× the per-IP budget of other routes.
      expect(res.headers['x-ratelimit-limit']).toBe(String(api.config.RATE_LIMIT_IP_PER_MINUTE * 10));

      const workflowId = wfId(wa, user);
      const description = await api.app.temporal.workflow.getHandle(workflowId).describe();
      expect(description.type).toBe('conversation');
      expect(description.taskQueue).toBe(`${queuePrefix}conversations`);
      expect(description.typedSearchAttributes.get(TenantId)).toBe(wa.tenantId);
      expect(description.typedSearchAttributes.get(Channel)).toBe('whatsapp');
      expect(description.typedSearchAttributes.get(ConversationStatus)).toBe('active');
      expect(description.typedSearchAttributes.get(HandoffState)).toBe('none');
      expect(await startInput(workflowId)).toEqual({ tenantId: wa.tenantId, channel: 'whatsapp', channelId: wa.channelId, externalUserId: user });

      const signals = await signalsOf(workflowId);
      expect(signals).toHaveLength(1);
      expect(signals[0]).toEqual([
        { externalMessageId: firstId, sentAt: sent * 1000, kind: 'text', text: 'Hi there', content: { type: 'text', profileName: 'Sheena' } },
        expect.objectContaining({ kind: 'image', text: 'my receipt', content: expect.objectContaining({ mediaId: '1003', mimeType: 'image/jpeg' }) }),
      ]);
    });

    it('answers Messenger with EVENT_RECEIVED and signals the sender\'s workflow; echoes of our own sends are not inbound', async () => {
      const psid = digits(16);
      const at = Date.now() - 60_000;
      const res = await post(
        '/webhooks/messenger',
        {
          object: 'page',
          entry: [
            {
              id: ms.publicId,
              time: at,
              messaging: [
                { sender: { id: ms.publicId }, recipient: { id: psid }, timestamp: at - 78, message: { mid: 'm_echo', is_echo: true, metadata: 'metachat', text: 'our reply' } },
                { sender: { id: psid }, recipient: { id: ms.publicId }, timestamp: at, message: { mid: 'm_hello', text: 'hello' } },
                { sender: { id: psid }, recipient: { id: ms.publicId }, timestamp: at + 1, postback: { title: 'Talk to sales', payload: 'SALES' } },
              ],
            },
          ],
        },
        ms.appSecret,
      );
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('EVENT_RECEIVED');
      const signals = await signalsOf(wfId(ms, psid));
      expect(signals).toEqual([
        [
          { externalMessageId: 'm_hello', sentAt: at, kind: 'text', text: 'hello', content: {} },
          { externalMessageId: `postback:${psid}:${at + 1}`, sentAt: at + 1, kind: 'interactive', text: 'Talk to sales', content: { interactiveType: 'postback', payload: 'SALES', title: 'Talk to sales' } },
        ],
      ]);
      await expectNoWorkflow(conversationWorkflowId(ms.tenantId, ms.channelId, ms.publicId));
    });

    it('keeps a message whose timestamp is far from the platform\'s clock, with the receive time as sentAt and the given one marked', async () => {
      const user = digits(11);
      const [future, past, recent] = [`wamid.${digits(10)}`, `wamid.${digits(10)}`, `wamid.${digits(10)}`];
      const recentSent = Math.floor(Date.now() / 1000) - 7 * 86_400; // Meta redelivering for a week
      const before = Date.now();
      const res = await post('/webhooks/whatsapp', waDelivery(wa, [
        waText(user, future, 'from 2090', '3786912000'),
        waText(user, past, 'from 1990', '631152000'),
        waText(user, recent, 'a week old', String(recentSent)),
      ]), wa.appSecret);
      const after = Date.now();
      expect(res.statusCode).toBe(200);
      const [signal] = await signalsOf(wfId(wa, user));
      expect(signal!.map((m) => m.externalMessageId)).toEqual([future, past, recent]);
      for (const [m, given] of [[signal![0]!, 3786912000000], [signal![1]!, 631152000000]] as const) {
        expect(m.sentAt).toBeGreaterThanOrEqual(before);
        expect(m.sentAt).toBeLessThanOrEqual(after);
        expect(m.content).toEqual({ type: 'text', providerSentAt: given });
      }
      expect(signal![2]).toMatchObject({ sentAt: recentSent * 1000, content: { type: 'text' } });

      // Messenger's milliseconds, even past what a Date holds.
      const psid = digits(16);
      const messenger = await post('/webhooks/messenger', {
        object: 'page',
        entry: [{ id: ms.publicId, time: 1, messaging: [{ sender: { id: psid }, recipient: { id: ms.publicId }, timestamp: 9_000_000_000_000_000, message: { mid: 'm_far', text: 'far' } }] }],
      }, ms.appSecret);
      expect(messenger.statusCode).toBe(200);
      const [[far]] = (await signalsOf(wfId(ms, psid))) as [[InboundMessage]];
      expect(far.sentAt).toBeGreaterThanOrEqual(before);
      expect(far.content).toEqual({ providerSentAt: 9_000_000_000_000_000 });
    });

    it('sends one signal per user of a batch, each with its messages in delivery order', async () => {
      const [a, b] = [digits(11), digits(11)];
      const ids = Array.from({ length: 5 }, () => `wamid.${digits(12)}`);
      const body = {
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '1',
            changes: [
              { field: 'messages', value: { metadata: { phone_number_id: wa.publicId }, messages: [waText(a, ids[0]!, 'a1'), waText(b, ids[1]!, 'b1'), waText(a, ids[2]!, 'a2')] } },
            ],
          },
          { id: '2', changes: [{ field: 'messages', value: { metadata: { phone_number_id: wa.publicId }, messages: [waText(b, ids[3]!, 'b2'), waText(a, ids[4]!, 'a3')] } }] },
        ],
      };
      expect((await post('/webhooks/whatsapp', body, wa.appSecret)).statusCode).toBe(200);
      const [sa, sb] = await Promise.all([signalsOf(wfId(wa, a)), signalsOf(wfId(wa, b))]);
      expect(sa.map((batch) => batch.map((m) => m.text))).toEqual([['a1', 'a2', 'a3']]);
      expect(sb.map((batch) => batch.map((m) => m.text))).toEqual([['b1', 'b2']]);
    });

    it('answers 401 to an unsigned or forged delivery and starts nothing', async () => {
      const user = digits(11);
      const body = waDelivery(wa, [waText(user, `wamid.${digits(10)}`, 'forged')]);
      const unsigned = await post('/webhooks/whatsapp', body, null);
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json().error).toMatchObject({ code: 'invalid_signature' });
      const forged = await post('/webhooks/whatsapp', body, 'not-the-app-secret');
      expect(forged.statusCode).toBe(401);
      expect(forged.json().error).toMatchObject({ code: 'invalid_signature', requestId: forged.headers['x-request-id'] });
      const malformedHeader = await post('/webhooks/whatsapp', body, null, { 'x-hub-signature-256': 'sha1=abc' });
      expect(malformedHeader.statusCode).toBe(401);
      // Signed over other bytes than were sent.
      const tampered = await api.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        payload: JSON.stringify(body).replace('forged', 'FORGED'),
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(JSON.stringify(body), wa.appSecret) },
      });
      expect(tampered.statusCode).toBe(401);
      // Missing signature is refused before the body is even looked at.
      expect((await post('/webhooks/whatsapp', '{not json', null)).statusCode).toBe(401);
      await expectNoWorkflow(conversationWorkflowId(wa.tenantId, wa.channelId, user));
    });

    it('requires every channel a batch names to verify', async () => {
      const [u1, u2] = [digits(11), digits(11)];
      const body = {
        object: 'whatsapp_business_account',
        entry: [
          { id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: wa.publicId }, messages: [waText(u1, `wamid.${digits(10)}`, 'x')] } }] },
          { id: '2', changes: [{ field: 'messages', value: { metadata: { phone_number_id: wa2.publicId }, messages: [waText(u2, `wamid.${digits(10)}`, 'y')] } }] },
        ],
      };
      expect((await post('/webhooks/whatsapp', body, wa.appSecret)).statusCode).toBe(401);
      await expectNoWorkflow(conversationWorkflowId(wa.tenantId, wa.channelId, u1));
      await expectNoWorkflow(conversationWorkflowId(wa2.tenantId, wa2.channelId, u2));
    });

    it('answers 400 with the envelope to bad JSON and malformed envelopes', async () => {
      const badJson = await post('/webhooks/whatsapp', '{"object": ', wa.appSecret);
      expect(badJson.statusCode).toBe(400);
      expect(badJson.json().error).toMatchObject({ code: 'invalid_json', requestId: badJson.headers['x-request-id'] });

      const noFrom = waDelivery(wa, [{ id: 'wamid.x', timestamp: '1', type: 'text', text: { body: 'x' } }]);
      const malformed = await post('/webhooks/whatsapp', noFrom, wa.appSecret);
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error).toMatchObject({ code: 'invalid_payload', message: expect.stringContaining('/entry/0/changes/0/value/messages/0/from') });

      const noEntry = await post('/webhooks/messenger', { object: 'page' }, ms.appSecret);
      expect(noEntry.statusCode).toBe(400);
      expect(noEntry.json().error.code).toBe('invalid_payload');
    });

    it('accepts and ignores unknown fields, change kinds and event kinds', async () => {
      const user = digits(11);
      const body = {
        object: 'whatsapp_business_account',
        brand_new: true,
        entry: [
          {
            id: '1',
            changes: [
              { field: 'account_update', value: { phone_number: '15550001111', event: 'VERIFIED_ACCOUNT' } },
              {
                field: 'messages',
                value: { metadata: { phone_number_id: wa.publicId, new_meta_field: 1 }, messages: [{ ...waText(user, `wamid.${digits(10)}`, 'hi'), new_field: { x: 1 } }] },
              },
            ],
          },
        ],
      };
      expect((await post('/webhooks/whatsapp', body, wa.appSecret)).statusCode).toBe(200);
      expect((await signalsOf(wfId(wa, user)))[0]!.map((m) => m.text)).toEqual(['hi']);

      // Only events of kinds we do not act on: acknowledged, nothing done.
      const messengerOnly = {
        object: 'page',
        entry: [{ id: ms.publicId, messaging: [{ sender: { id: '42' }, recipient: { id: ms.publicId }, timestamp: 1, pass_thread_control: { new_owner_app_id: '123', metadata: 'x' } }] }],
      };
      const res = await post('/webhooks/messenger', messengerOnly, ms.appSecret);
      expect(res.statusCode).toBe(200);
      await expectNoWorkflow(conversationWorkflowId(ms.tenantId, ms.channelId, '42'));
    });

    it('acknowledges a delivery for a channel it does not serve, processes nothing and warns', async () => {
      const unknownId = digits(15);
      const user = digits(11);
      const body = {
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: unknownId }, messages: [waText(user, `wamid.${digits(10)}`, 'hello?')] } }] }],
      };
      const res = await post('/webhooks/whatsapp', body, 'whatever-secret');
      expect(res.statusCode).toBe(200);
      const warning = api.logs.map((l) => JSON.parse(l)).find((l) => l.level === 40 && l.unknownChannelIds?.includes(unknownId));
      expect(warning).toBeDefined();
    });

    it('never logs message bodies above debug, secrets or signatures', async () => {
      const user = digits(11);
      const secretText = `private-${randomBytes(6).toString('hex')}`;
      const body = waDelivery(wa, [waText(user, `wamid.${digits(10)}`, secretText)]);
      const payload = JSON.stringify(body);
      const signature = signatureHeader(payload, wa.appSecret);
      expect((await post('/webhooks/whatsapp', body, wa.appSecret)).statusCode).toBe(200);
      wfId(wa, user);
      const lines = api.logs.map((l) => JSON.parse(l) as { level: number; msg?: string });
      for (const line of lines) {
        const text = JSON.stringify(line);
        if (line.level > 20) expect(text).not.toContain(secretText);
        expect(text).not.toContain(wa.appSecret);
        expect(text).not.toContain(signature.slice(7));
      }
      expect(lines.some((l) => l.level === 30 && l.msg === 'webhook delivery accepted' && JSON.stringify(l).includes(wa.tenantId))).toBe(true);
    });
  });

  describe('status webhooks', () => {
    async function outbound(channel: TestChannel, type: 'whatsapp' | 'messenger', userId: string, externalMessageId: string, status: 'pending' | 'sent', createdAt = new Date()) {
      let conversation = await channel.tdb.conversation.findFirst({ where: { channelId: channel.channelId, externalUserId: userId } });
      conversation ??= await channel.tdb.conversation.create({
        data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: channel.channelId, externalUserId: userId }),
      });
      await channel.tdb.message.create({
        data: tenantData<Prisma.MessageUncheckedCreateInput>({
          conversationId: conversation.id,
          channel: type,
          externalMessageId,
          direction: 'outbound',
          type: 'text',
          content: { text: 'our answer' },
          status,
          createdAt,
        }),
      });
    }

    const statusOf = async (channel: TestChannel, externalMessageId: string) => {
      const row = await channel.tdb.message.findFirst({ where: { externalMessageId } });
      return { status: row?.status, error: row?.error };
    };

    function waStatus(id: string, status: string, recipient: string, extra: Record<string, unknown> = {}) {
      return waDelivery(wa, [], { statuses: [{ id, status, timestamp: '1750263773', recipient_id: recipient, ...extra }] });
    }

    it('moves a stored WhatsApp message forward only, stores failures, and starts no conversation', async () => {
      const user = digits(11);
      const id = `wamid.out.${digits(10)}`;
      await outbound(wa, 'whatsapp', user, id, 'pending');

      expect((await post('/webhooks/whatsapp', waStatus(id, 'delivered', user), wa.appSecret)).statusCode).toBe(200);
      expect(await statusOf(wa, id)).toMatchObject({ status: 'delivered' });
      // A late "sent" (Meta does not order statuses) changes nothing.
      expect((await post('/webhooks/whatsapp', waStatus(id, 'sent', user), wa.appSecret)).statusCode).toBe(200);
      expect(await statusOf(wa, id)).toMatchObject({ status: 'delivered' });
      await post('/webhooks/whatsapp', waStatus(id, 'read', user), wa.appSecret);
      expect(await statusOf(wa, id)).toMatchObject({ status: 'read' });
      await post('/webhooks/whatsapp', waStatus(id, 'delivered', user), wa.appSecret);
      expect(await statusOf(wa, id)).toMatchObject({ status: 'read' });

      const failedId = `wamid.out.${digits(10)}`;
      await outbound(wa, 'whatsapp', user, failedId, 'sent');
      const errors = [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed since the recipient last replied' } }];
      await post('/webhooks/whatsapp', waStatus(failedId, 'failed', user, { errors }), wa.appSecret);
      expect(await statusOf(wa, failedId)).toEqual({ status: 'failed', error: errors });
      await post('/webhooks/whatsapp', waStatus(failedId, 'delivered', user), wa.appSecret);
      expect(await statusOf(wa, failedId)).toMatchObject({ status: 'failed' });

      await expectNoWorkflow(conversationWorkflowId(wa.tenantId, wa.channelId, user));
    });

    it('does not touch another tenant\'s message with the same id, nor inbound messages', async () => {
      const id = `wamid.shared.${digits(10)}`;
      await outbound(wa2, 'whatsapp', digits(11), id, 'sent');
      await post('/webhooks/whatsapp', waStatus(id, 'read', '1'), wa.appSecret);
      expect(await statusOf(wa2, id)).toMatchObject({ status: 'sent' });
    });

    it('applies Messenger delivery mids and read watermarks to that user\'s outbound messages', async () => {
      const psid = digits(16);
      const t0 = Date.now() - 60_000;
      const [m1, m2, m3] = [`m_${digits(8)}`, `m_${digits(8)}`, `m_${digits(8)}`];
      await outbound(ms, 'messenger', psid, m1, 'sent', new Date(t0));
      await outbound(ms, 'messenger', psid, m2, 'sent', new Date(t0 + 1000));
      await outbound(ms, 'messenger', psid, m3, 'sent', new Date(t0 + 5000));
      const event = (e: Record<string, unknown>) => ({ object: 'page', entry: [{ id: ms.publicId, messaging: [{ sender: { id: psid }, recipient: { id: ms.publicId }, timestamp: t0 + 6000, ...e }] }] });

      const delivered = await post('/webhooks/messenger', event({ delivery: { mids: [m1], watermark: t0 + 1 } }), ms.appSecret);
      expect(delivered.statusCode).toBe(200);
      expect(delivered.body).toBe('EVENT_RECEIVED');
      expect((await statusOf(ms, m1)).status).toBe('delivered');
      expect((await statusOf(ms, m2)).status).toBe('sent');

      await post('/webhooks/messenger', event({ read: { watermark: t0 + 2000 } }), ms.appSecret);
      expect([(await statusOf(ms, m1)).status, (await statusOf(ms, m2)).status, (await statusOf(ms, m3)).status]).toEqual(['read', 'read', 'sent']);
      await expectNoWorkflow(conversationWorkflowId(ms.tenantId, ms.channelId, psid));
    });
  });

  it('applies a new channel app secret to webhooks at once', async () => {
    const slug = `t-${randomBytes(4).toString('hex')}`;
    const { tenant, apiKey } = await createTenant(api.db, { name: slug, slug });
    const publicId = digits(15);
    const oldSecret = randomBytes(16).toString('hex');
    const channel = await createChannel(forTenant(api.db, tenant.id), api.config.SECRETS_KEYS, {
      type: 'whatsapp', name: 'wa', phoneNumberId: publicId, wabaId: digits(15), accessToken: 'EAAG-test-token', appSecret: oldSecret, verifyToken: `verify-${slug}`,
    });
    const target = { tenantId: tenant.id, tdb: forTenant(api.db, tenant.id), channelId: channel.id, publicId, appSecret: oldSecret, verifyToken: '' };
    const delivery = () => waDelivery(target, [waText(digits(11), `wamid.${randomBytes(8).toString('hex')}`, 'hi')]);
    expect((await post('/webhooks/whatsapp', delivery(), oldSecret)).statusCode).toBe(200); // now cached

    const newSecret = randomBytes(16).toString('hex');
    const patched = await api.app.inject({
      method: 'PATCH',
      url: `/api/v1/channels/${channel.id}`,
      headers: { authorization: `Bearer ${apiKey.key}` },
      payload: { appSecret: newSecret },
    });
    expect(patched.statusCode).toBe(200);
    expect((await post('/webhooks/whatsapp', delivery(), oldSecret)).statusCode).toBe(401);
    expect((await post('/webhooks/whatsapp', delivery(), newSecret)).statusCode).toBe(200);
  });

  it('answers 503 when Temporal is unreachable, so that Meta redelivers', async () => {
    const config = testConfig({ DATABASE_URL: api.config.DATABASE_URL, SECRETS_KEYS: `test:${api.config.SECRETS_KEYS[0]!.key.toString('base64')}`, TEMPORAL_ADDRESS: `127.0.0.1:${await getPort()}` });
    const temporal = createTemporalClient(config);
    const app = await buildApp({ config, db: api.db, temporal, logger: createLogger({ level: 'silent', name: 'test' }) });
    try {
      const started = Date.now();
      const payload = JSON.stringify(waDelivery(wa, [waText(digits(11), `wamid.${digits(10)}`, 'anyone?')]));
      const res = await app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        payload,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, wa.appSecret) },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: { code: 'temporal_unavailable', message: expect.any(String), requestId: res.headers['x-request-id'] } });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await app.close();
      await temporal.connection.close();
    }
  });
});
