// A tenant with WhatsApp, Messenger and Instagram channels (more WhatsApp numbers on request), a real worker
// on isolated task queues, the fake Graph API, and a way to deliver end-user messages through the
// very function the webhooks call (api/conversation-signal.ts).
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { llmEndpoints } from '../../activities/llm/index.ts';
import { mediaOptionsFrom } from '../../activities/media/options.ts';
import { createDocumentStorage } from '../../lib/storage.ts';
import type { BreakerOptions } from '../../activities/llm/breaker.ts';
import { createChannel } from '../../lib/channels.ts';
import type { Config } from '../../lib/config.ts';
import { createDb, type Db } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import type { WorkerMetrics } from '../../lib/metrics/worker-metrics.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import type { TenantSettingsInput } from '../../lib/tenant-settings.ts';
import { taskQueueName } from '../../lib/temporal.ts';
import { signalInbound } from '../../api/conversation-signal.ts';
import type { WorkerTuning } from '../../workers/create-workers.ts';
import { createTestWorkers } from './workers.ts';
import { conversationWorkflowId } from '../../workflows/ids.ts';
import type { ChannelKind, InboundMessage } from '../../workflows/types.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/graph-api.ts';
import { testConfig } from './config.ts';
import { createMigratedDatabase } from './database.ts';

export const WHATSAPP_TOKEN = 'EAAG-test-whatsapp-token';
export const PAGE_TOKEN = 'EAAG-test-page-token';
/** The token of the Facebook Page the rig's Instagram account is linked to. */
export const INSTAGRAM_PAGE_TOKEN = 'EAAG-test-instagram-page-token';
/** The access tokens of the WhatsApp numbers added by addWhatsAppChannel, in order. */
export const EXTRA_WHATSAPP_TOKENS = ['EAAG-test-whatsapp-token-2', 'EAAG-test-whatsapp-token-3'];
/** The app secret of every WhatsApp channel of the rig (one Meta app serves all the numbers). */
export const WA_APP_SECRET = 'wa-app-secret';

/** One of the rig's channels; a bare type means the rig's first channel of that type. */
export type RigChannel = ChannelKind | { id: string; type: ChannelKind };

export interface RigWhatsAppChannel {
  id: string;
  type: 'whatsapp';
  phoneNumberId: string;
  accessToken: string;
}

export interface ConversationRig {
  config: Config;
  db: Db;
  graph: FakeGraphApi;
  tenantId: string;
  whatsappChannelId: string;
  messengerChannelId: string;
  instagramChannelId: string;
  phoneNumberId: string;
  pageId: string;
  /** The Instagram channel's account id (webhooks' entry[].id) and the page it is linked to. */
  instagramAccountId: string;
  instagramPageId: string;
  /** Delivers messages of one user as a webhook would (signalInbound: signalWithStart). */
  deliver(channel: RigChannel, userId: string, messages: InboundMessage[]): Promise<void>;
  /** The conversation workflow id of one user of one channel. */
  workflowId(channel: RigChannel, userId: string): string;
  /** Adds another WhatsApp number to the tenant, with its own access token (EXTRA_WHATSAPP_TOKENS). */
  addWhatsAppChannel(): Promise<RigWhatsAppChannel>;
  /** A real worker; `workflowBundle` runs other workflow code (e.g. an earlier build's); `metrics` is what it counts into. */
  startWorkers(connection: NativeConnection, options?: { workflowBundle?: WorkflowBundleWithSourceMap; metrics?: WorkerMetrics }): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

let seq = 0;
/** A text message as the webhook would normalise it. */
export function text(body: string, id = `wamid.${randomBytes(6).toString('hex')}`, sentAt = Date.now() + seq++): InboundMessage {
  return { externalMessageId: id, sentAt, kind: 'text', text: body, content: {} };
}

export async function createConversationRig(
  client: Client,
  options: {
    settings?: TenantSettingsInput;
    tuning?: Partial<WorkerTuning>;
    /** The time-skipping test server cannot register custom search attributes. */
    searchAttributes?: boolean;
    /** Model providers (e.g. the fake OpenAI/Anthropic servers): into the config, as the worker reads them. */
    llm?: {
      openai?: { baseURL: string; apiKey: string };
      anthropic?: { baseURL: string; apiKey: string };
      breaker?: BreakerOptions;
      /** Lets tenant functions live on a local http:// test server. */
      allowInsecureFunctionEndpoints?: boolean;
    };
    /** More configuration (e.g. MEDIA_MAX_BYTES, TRANSCRIPTION_MODEL), as the worker reads it. */
    env?: Record<string, string>;
  } = {},
): Promise<ConversationRig> {
  const graph = await startFakeGraphApi({ accessTokens: [WHATSAPP_TOKEN, PAGE_TOKEN, INSTAGRAM_PAGE_TOKEN, ...EXTRA_WHATSAPP_TOKENS] });
  const prefix = `t${randomBytes(4).toString('hex')}-`;
  const config = testConfig({
    DATABASE_URL: await createMigratedDatabase('conversation'),
    META_GRAPH_API_URL: graph.url,
    TEMPORAL_TASK_QUEUE_PREFIX: prefix,
    ...(options.llm?.openai && { OPENAI_BASE_URL: options.llm.openai.baseURL, OPENAI_API_KEY: options.llm.openai.apiKey }),
    ...(options.llm?.anthropic && { ANTHROPIC_BASE_URL: options.llm.anthropic.baseURL, ANTHROPIC_API_KEY: options.llm.anthropic.apiKey }),
    ...options.env,
  });
  const db = createDb(config, 'conversation-test');
  const { tenant } = await createTenant(db, {
    name: 'Acme Bikes',
    slug: `acme-${randomBytes(4).toString('hex')}`,
    settings: { conversation: { quietWindowMs: 300 }, ...options.settings },
  });
  const tdb = forTenant(db, tenant.id);
  const phoneNumberId = String(100000 + Math.floor(Math.random() * 899999));
  const pageId = String(200000 + Math.floor(Math.random() * 899999));
  const whatsapp = await createChannel(tdb, config.SECRETS_KEYS, {
    type: 'whatsapp', name: 'WhatsApp', phoneNumberId, wabaId: '555000111', accessToken: WHATSAPP_TOKEN, appSecret: WA_APP_SECRET, verifyToken: `verify-${prefix}wa`,
  });
  const messenger = await createChannel(tdb, config.SECRETS_KEYS, {
    type: 'messenger', name: 'Messenger', pageId, pageAccessToken: PAGE_TOKEN, appSecret: 'page-app-secret', verifyToken: `verify-${prefix}fb`,
  });
  const instagramAccountId = `1784${String(Math.floor(Math.random() * 1e11)).padStart(11, '0')}`;
  const instagramPageId = String(Number(pageId) + 1_000_000);
  graph.own(INSTAGRAM_PAGE_TOKEN, { pageId: instagramPageId, instagramAccountId });
  const instagram = await createChannel(tdb, config.SECRETS_KEYS, {
    type: 'instagram', name: 'Instagram', instagramAccountId, pageId: instagramPageId, pageAccessToken: INSTAGRAM_PAGE_TOKEN, appSecret: 'ig-app-secret', verifyToken: `verify-${prefix}ig`,
  });
  let workers: Worker[] = [];
  let running: Promise<unknown> | undefined;
  const firstOfType: Record<ChannelKind, string> = { whatsapp: whatsapp.id, messenger: messenger.id, instagram: instagram.id, webchat: '' };
  const resolve = (channel: RigChannel) => (typeof channel === 'string' ? { id: firstOfType[channel], type: channel } : channel);
  let extraNumbers = 0;

  const rig: ConversationRig = {
    config, db, graph, tenantId: tenant.id, whatsappChannelId: whatsapp.id, messengerChannelId: messenger.id, instagramChannelId: instagram.id, phoneNumberId, pageId, instagramAccountId, instagramPageId,
    workflowId: (channel, userId) => conversationWorkflowId(tenant.id, resolve(channel).id, userId),
    async deliver(channel, userId, messages) {
      const { id, type } = resolve(channel);
      await signalInbound(
        { temporal: client, config, searchAttributes: options.searchAttributes },
        { tenantId: tenant.id, channel: type, channelId: id, externalUserId: userId, messages },
      );
    },
    async addWhatsAppChannel() {
      const accessToken = EXTRA_WHATSAPP_TOKENS[extraNumbers++];
      if (!accessToken) throw new Error(`the rig has tokens for ${EXTRA_WHATSAPP_TOKENS.length} extra WhatsApp numbers`);
      const number = String(Number(phoneNumberId) + 1_000_000 * extraNumbers);
      const added = await createChannel(tdb, config.SECRETS_KEYS, {
        type: 'whatsapp', name: `WhatsApp ${extraNumbers + 1}`, phoneNumberId: number, wabaId: '555000111', accessToken, appSecret: WA_APP_SECRET, verifyToken: `verify-${prefix}wa${extraNumbers + 1}`,
      });
      return { id: added.id, type: 'whatsapp', phoneNumberId: number, accessToken };
    },
    async startWorkers(connection, start = {}) {
      workers = await createTestWorkers({
        connection,
        ...(start.workflowBundle && { workflowBundle: start.workflowBundle }),
        namespace: 'default',
        taskQueues: ['conversations'],
        tuning: { ...config, ...options.tuning },
        deps: {
          db, logger: createLogger({ level: 'silent', name: 'test' }), keyring: config.SECRETS_KEYS, temporal: client, graphApiUrl: graph.url,
          llm: { ...llmEndpoints(config), breaker: options.llm?.breaker, allowInsecureFunctionEndpoints: options.llm?.allowInsecureFunctionEndpoints },
          documentStorage: createDocumentStorage(config),
          media: mediaOptionsFrom(config),
          ...(start.metrics && { metrics: start.metrics }),
        },
        queueName: (queue) => taskQueueName(config, queue),
      });
      running = Promise.all(workers.map((w) => w.run()));
    },
    async stopWorkers() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      workers = [];
    },
    async close() {
      await rig.stopWorkers();
      await graph.close();
      await db.$disconnect();
    },
  };
  return rig;
}

/** Polls until `probe` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
