// A tenant with a known conversation history for the analytics tests (API and web app): two
// channels, conversations on three past UTC days (yesterday, three and ten days ago), replies by
// the assistant and by an agent, an "I don't know" reply, a budget-exhausted reply, a handoff,
// and model cost on two days against a daily budget of $1. Rows are written to the tables the
// conversation path writes (messages, conversations, events, usage).
import { randomBytes } from 'node:crypto';
import type { Prisma } from '../../generated/prisma/client.ts';
import { HANDOFF_REQUESTED_EVENT } from '../../lib/analytics.ts';
import { createChannel } from '../../lib/channels.ts';
import type { Config } from '../../lib/config.ts';
import type { Db } from '../../lib/db.ts';
import { forTenant, tenantData } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { DEFAULT_TENANT_SETTINGS } from '../../lib/tenant-settings.ts';

const DAY_MS = 86_400_000;

/** The UTC day `n` days before today, as YYYY-MM-DD. */
export const daysAgo = (n: number) => new Date(Date.now() - n * DAY_MS).toISOString().slice(0, 10);

export const DONT_KNOW = 'I don\'t know the answer to that from what I have. Shall I get a person to help? Reply "human" and someone will take over.';

type Reply = { afterMs: number; text: string; author?: 'assistant' | 'agent' };
type Turn = { at: string; inbound: string[]; reply?: Reply };

export interface SeededAnalytics {
  tenant: { id: string; slug: string; name: string };
  whatsappChannelId: string;
  messengerChannelId: string;
  conversationIds: string[];
}

export async function seedAnalyticsTenant(db: Db, config: Config, name = 'Acme Analytics'): Promise<SeededAnalytics> {
  const slug = `analytics-${randomBytes(4).toString('hex')}`;
  const { tenant } = await createTenant(db, { name, slug, settings: { llm: { dailyBudgetUsd: 1 } } });
  const tdb = forTenant(db, tenant.id);
  const suffix = randomBytes(4).readUInt32BE() % 1e8;
  const whatsapp = await createChannel(tdb, config.SECRETS_KEYS, {
    type: 'whatsapp', name: 'Shop WhatsApp', phoneNumberId: `3${suffix}`, wabaId: `4${suffix}`, accessToken: `EAAG-a-${suffix}`, appSecret: `secret-a-${suffix}`, verifyToken: `verify-a-${suffix}`,
  });
  const messenger = await createChannel(tdb, config.SECRETS_KEYS, {
    type: 'messenger', name: 'Shop Messenger', pageId: `5${suffix}`, pageAccessToken: `EAAG-b-${suffix}`, appSecret: `secret-b-${suffix}`, verifyToken: `verify-b-${suffix}`,
  });
  const budgetExhausted = DEFAULT_TENANT_SETTINGS.llm.budgetExhaustedMessage;

  const conversations: { channel: { id: string; type: 'whatsapp' | 'messenger' }; handoffAt?: string; turns: Turn[] }[] = [
    // Yesterday on WhatsApp: an answer in 2 s, an "I don't know" in 4 s, then a handoff.
    { channel: { id: whatsapp.id, type: 'whatsapp' }, handoffAt: `${daysAgo(1)}T10:06:00Z`, turns: [
      { at: `${daysAgo(1)}T10:00:00Z`, inbound: ['When do you open?'], reply: { afterMs: 2000, text: 'At nine.' } },
      { at: `${daysAgo(1)}T10:05:00Z`, inbound: ['Do you sell tandems?'], reply: { afterMs: 4000, text: DONT_KNOW } },
    ] },
    // Yesterday on Messenger: an answer in 1 s, then an agent's reply in 8 s.
    { channel: { id: messenger.id, type: 'messenger' }, turns: [
      { at: `${daysAgo(1)}T11:00:00Z`, inbound: ['Hello'], reply: { afterMs: 1000, text: 'Hello! How can I help you today?' } },
      { at: `${daysAgo(1)}T11:10:00Z`, inbound: ['Is my order shipped?'], reply: { afterMs: 8000, text: 'It left this morning.', author: 'agent' } },
    ] },
    // Three days ago on WhatsApp: the budget-exhausted message in 3 s; two messages answered in 6 s.
    { channel: { id: whatsapp.id, type: 'whatsapp' }, turns: [
      { at: `${daysAgo(3)}T09:00:00Z`, inbound: ['What does shipping cost?'], reply: { afterMs: 3000, text: budgetExhausted } },
      { at: `${daysAgo(3)}T09:10:00Z`, inbound: ['Hi again', 'Any news?'], reply: { afterMs: 6000, text: 'Shipping is free.' } },
    ] },
    // Ten days ago on Messenger: an answer in 5 s.
    { channel: { id: messenger.id, type: 'messenger' }, turns: [
      { at: `${daysAgo(10)}T15:00:00Z`, inbound: ['Thanks'], reply: { afterMs: 5000, text: "You're welcome! Anything else I can help with?" } },
    ] },
  ];

  const conversationIds: string[] = [];
  for (const [i, c] of conversations.entries()) {
    const conversation = await tdb.conversation.create({
      data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: c.channel.id, externalUserId: `4917000${suffix}${i}` }),
    });
    conversationIds.push(conversation.id);
    const message = (direction: 'inbound' | 'outbound', createdAt: Date, content: Record<string, string>) =>
      tdb.message.create({
        data: tenantData<Prisma.MessageUncheckedCreateInput>({ conversationId: conversation.id, channel: c.channel.type, direction, type: 'text', content, status: 'sent', createdAt }),
      });
    for (const turn of c.turns) {
      const start = Date.parse(turn.at);
      for (const [k, text] of turn.inbound.entries()) await message('inbound', new Date(start + k * 1000), { text });
      const last = start + (turn.inbound.length - 1) * 1000;
      if (turn.reply) await message('outbound', new Date(last + turn.reply.afterMs), { text: turn.reply.text, author: turn.reply.author ?? 'assistant' });
    }
    if (c.handoffAt) {
      await tdb.event.create({ data: tenantData<Prisma.EventUncheckedCreateInput>({ type: HANDOFF_REQUESTED_EVENT, subjectType: 'conversation', subjectId: conversation.id, createdAt: new Date(c.handoffAt) }) });
    }
  }
  for (const [day, costUsd, promptTokens] of [[daysAgo(1), '0.42', 1200], [daysAgo(3), '1.25', 3000]] as const) {
    await tdb.usage.create({
      data: tenantData<Prisma.UsageUncheckedCreateInput>({ day: new Date(day), provider: 'openai', model: 'gpt-4o-mini', requests: 4, promptTokens, completionTokens: 300, costUsd }),
    });
  }
  return { tenant: { id: tenant.id, slug, name }, whatsappChannelId: whatsapp.id, messengerChannelId: messenger.id, conversationIds };
}
