// The tenant-scoped client against a real database: another tenant's rows are invisible and
// untouchable by id, creates are stamped, and what cannot be scoped is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '../generated/prisma/client.ts';
import { testConfig } from '../test/support/config.ts';
import { createMigratedDatabase } from '../test/support/database.ts';
import { createDb, type Db } from './db.ts';
import { forTenant, tenantData, tenantOwnedModels, TenantScopeError, type TenantDb } from './tenant-db.ts';

describe('forTenant', () => {
  let db: Db;
  let a: TenantDb;
  let b: TenantDb;
  let tenantA: string;
  let tenantB: string;
  let channelB: string;
  let conversationB: string;

  beforeAll(async () => {
    const config = testConfig({ DATABASE_URL: await createMigratedDatabase('tenant_db') });
    db = createDb(config, 'tenant-db-test');
    tenantA = (await db.tenant.create({ data: { name: 'A', slug: 'a' } })).id;
    tenantB = (await db.tenant.create({ data: { name: 'B', slug: 'b' } })).id;
    a = forTenant(db, tenantA);
    b = forTenant(db, tenantB);
    channelB = (await b.channel.create({ data: tenantData<Prisma.ChannelUncheckedCreateInput>({ type: 'whatsapp', name: 'B wa', phoneNumberId: '111' }) })).id;
    conversationB = (
      await b.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: channelB, externalUserId: '4915100000' }) })
    ).id;
  });

  afterAll(async () => {
    await db?.$disconnect();
  });

  it('derives the tenant-owned models from the data model', () => {
    expect([...tenantOwnedModels(db)].sort()).toEqual(
      ['ApiKey', 'BillingAccount', 'Campaign', 'CampaignRecipient', 'Channel', 'ChannelSecret', 'Chunk', 'Conversation', 'CustomerOptOut', 'Document', 'EvaluationCase', 'EvaluationResult', 'EvaluationRun', 'Event', 'InboundMessageKey', 'McpServer', 'McpToolCall', 'Message', 'MessageTemplate', 'MeterEvent', 'PasswordReset', 'PlanChange', 'SettingsVersion', 'TenantFunction', 'TenantLlmCredential', 'Usage', 'User', 'UserInvitation', 'UserSession', 'WebhookDelivery', 'WebhookEndpoint'].sort(),
    );
  });

  it('stamps tenantId on create, createMany and upsert', async () => {
    const channel = await b.channel.findUniqueOrThrow({ where: { id: channelB } });
    expect(channel.tenantId).toBe(tenantB);
    await a.event.createMany({ data: [{ type: 'x.one' }, { type: 'x.two' }] as Prisma.EventCreateManyInput[] });
    expect(await db.event.count({ where: { tenantId: tenantA, type: { startsWith: 'x.' } } })).toBe(2);
    const usage = await a.usage.upsert({
      where: { tenantId_day_provider_model: { tenantId: tenantA, day: new Date('2025-01-01'), provider: 'local', model: 'm' } },
      create: tenantData<Prisma.UsageUncheckedCreateInput>({ day: new Date('2025-01-01'), provider: 'local', model: 'm', requests: 1 }),
      update: { requests: { increment: 1 } },
    });
    expect(usage.tenantId).toBe(tenantA);
  });

  it("cannot read another tenant's rows, by id or in lists", async () => {
    expect(await a.channel.findUnique({ where: { id: channelB } })).toBeNull();
    await expect(a.channel.findUniqueOrThrow({ where: { id: channelB } })).rejects.toThrow();
    expect(await a.channel.findFirst({ where: { id: channelB } })).toBeNull();
    expect(await a.channel.findMany()).toEqual([]);
    expect(await a.conversation.count()).toBe(0);
    expect(await a.conversation.findUnique({ where: { tenantId_channelId_externalUserId: { tenantId: tenantA, channelId: channelB, externalUserId: '4915100000' } } })).toBeNull();
    expect(await b.conversation.count()).toBe(1);
    const agg = await a.conversation.aggregate({ _count: { _all: true } });
    expect(agg._count._all).toBe(0);
    expect(await a.conversation.groupBy({ by: ['status'], _count: { _all: true } })).toEqual([]);
  });

  it("cannot update or delete another tenant's rows by id", async () => {
    await expect(a.channel.update({ where: { id: channelB }, data: { name: 'hijacked' } })).rejects.toMatchObject({ code: 'P2025' });
    await expect(a.conversation.delete({ where: { id: conversationB } })).rejects.toMatchObject({ code: 'P2025' });
    expect((await a.channel.updateMany({ where: { id: channelB }, data: { name: 'hijacked' } })).count).toBe(0);
    expect((await a.conversation.deleteMany({})).count).toBe(0);
    expect((await db.channel.findUniqueOrThrow({ where: { id: channelB } })).name).toBe('B wa');
    expect(await db.conversation.count({ where: { id: conversationB } })).toBe(1);
  });

  it('upsert on another tenant\'s unique key creates in its own tenant instead of touching the other', async () => {
    await expect(
      a.channel.upsert({ where: { id: channelB }, create: tenantData<Prisma.ChannelUncheckedCreateInput>({ type: 'messenger', name: 'A ms' }), update: { name: 'hijacked' } }),
    ).resolves.toMatchObject({ tenantId: tenantA, name: 'A ms' });
    expect((await db.channel.findUniqueOrThrow({ where: { id: channelB } })).name).toBe('B wa');
  });

  it('refuses a where or data naming another tenant, and relation writes', async () => {
    await expect(a.channel.findMany({ where: { tenantId: tenantB } })).rejects.toThrow(TenantScopeError);
    await expect(a.channel.findMany({ where: { OR: [{ tenantId: tenantB }] } })).rejects.toThrow(TenantScopeError);
    await expect(a.channel.create({ data: { type: 'webchat', name: 'x', tenantId: tenantB } })).rejects.toThrow(TenantScopeError);
    await expect(a.channel.update({ where: { id: channelB }, data: { tenantId: tenantB } })).rejects.toThrow(TenantScopeError);
    await expect(
      a.channel.create({ data: { type: 'webchat', name: 'x', tenant: { connect: { id: tenantB } } } as unknown as Prisma.ChannelUncheckedCreateInput }),
    ).rejects.toThrow(TenantScopeError);
    await expect(
      a.conversation.update({ where: { id: conversationB }, data: { channel: { connect: { id: channelB } } } as Prisma.ConversationUpdateInput }),
    ).rejects.toThrow(TenantScopeError);
    // Its own id is fine.
    expect(await a.channel.findMany({ where: { tenantId: tenantA } })).toHaveLength(1);
  });

  it('refuses raw SQL, also inside transactions', async () => {
    const rawA = a as unknown as Db;
    await expect(rawA.$queryRaw`SELECT 1`).rejects.toThrow(TenantScopeError);
    await expect(rawA.$executeRawUnsafe('DELETE FROM channels')).rejects.toThrow(TenantScopeError);
    await expect(rawA.$queryRawUnsafe('SELECT * FROM channels')).rejects.toThrow(TenantScopeError);
    await expect(
      a.$transaction(async (tx) => {
        await (tx as unknown as Db).$executeRaw`DELETE FROM channels`;
      }),
    ).rejects.toThrow(TenantScopeError);
    expect(await db.channel.count()).toBe(2);
  });

  it('scopes interactive transactions too', async () => {
    const seen = await a.$transaction(async (tx) => {
      const created = await tx.event.create({ data: tenantData<Prisma.EventUncheckedCreateInput>({ type: 'tx.event' }) });
      return { created, other: await tx.channel.findUnique({ where: { id: channelB } }) };
    });
    expect(seen.created.tenantId).toBe(tenantA);
    expect(seen.other).toBeNull();
  });

  it('sees and updates only its own Tenant row, and no platform-wide model', async () => {
    expect((await a.tenant.findMany()).map((t) => t.id)).toEqual([tenantA]);
    await expect(a.tenant.findUnique({ where: { id: tenantB } })).rejects.toThrow(TenantScopeError);
    expect(await a.tenant.findFirst({ where: { slug: 'b' } })).toBeNull();
    await expect(a.tenant.update({ where: { id: tenantB }, data: { name: 'x' } })).rejects.toThrow(TenantScopeError);
    await expect(a.tenant.update({ where: { id: tenantA }, data: { name: 'A2' } })).resolves.toMatchObject({ name: 'A2' });
    await expect(a.tenant.delete({ where: { id: tenantA } })).rejects.toThrow(TenantScopeError);
    await expect(a.tenant.create({ data: { name: 'C', slug: 'c' } })).rejects.toThrow(TenantScopeError);
    await expect(a.integrityReport.findMany()).rejects.toThrow(TenantScopeError);
  });
});
