// The gauges read from Postgres at scrape time, on a real migrated database: open conversations
// by channel and status (a zero for every open status of every channel), the latest finished
// integrity run's findings per check, and at most one read per max age however often scraped.
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../test/support/config.ts';
import { createMigratedDatabase } from '../../test/support/database.ts';
import { parsePrometheusText, valueOf } from '../../test/support/prometheus-text.ts';
import { createChannel } from '../channels.ts';
import { createDb, type Db } from '../db.ts';
import { createLogger } from '../logger.ts';
import { forTenant } from '../tenant-db.ts';
import { createTenant } from '../tenants.ts';
import { observeDatabase } from './database-gauges.ts';

const logger = createLogger({ level: 'silent', name: 'test' });

describe('gauges read from Postgres', () => {
  let db: Db;
  let channelId: string;
  let tenantId: string;

  beforeAll(async () => {
    const config = testConfig({ DATABASE_URL: await createMigratedDatabase('db-gauges') });
    db = createDb(config, 'db-gauges-test');
    ({ tenant: { id: tenantId } } = await createTenant(db, { name: 'Gauges', slug: `gauges-${randomBytes(4).toString('hex')}` }));
    ({ id: channelId } = await createChannel(forTenant(db, tenantId), config.SECRETS_KEYS, { type: 'webchat', name: 'Site chat', allowedOrigins: [] }));
  });
  afterAll(async () => {
    await db?.$disconnect();
  });

  const conversation = (status: 'active' | 'handoff_requested' | 'closed') =>
    forTenant(db, tenantId).conversation.create({ data: { tenantId, channelId, externalUserId: randomBytes(6).toString('hex'), status } });
  const scrape = async (registry: Registry) => parsePrometheusText(await registry.metrics());

  it('counts open conversations by channel and status, and caches them for the max age', async () => {
    const cached = new Registry();
    observeDatabase(cached, { db, logger, integrityChecks: [], maxAgeMs: 60_000 });
    const fresh = new Registry();
    observeDatabase(fresh, { db, logger, integrityChecks: [], maxAgeMs: 0 });

    await Promise.all([conversation('active'), conversation('active'), conversation('handoff_requested'), conversation('closed')]);
    const first = await scrape(cached);
    expect(valueOf(first, 'metachat_active_conversations', { channel: 'webchat', status: 'active' })).toBe(2);
    expect(valueOf(first, 'metachat_active_conversations', { channel: 'webchat', status: 'handoff_requested' })).toBe(1);
    expect(valueOf(first, 'metachat_active_conversations', { channel: 'whatsapp', status: 'assigned_human' })).toBe(0);
    expect(first.filter((s) => s.name === 'metachat_active_conversations')).toHaveLength(12); // 4 channel types × 3 open statuses
    expect(first.some((s) => s.labels.status === 'closed')).toBe(false);

    await conversation('active');
    expect(valueOf(await scrape(cached), 'metachat_active_conversations', { channel: 'webchat', status: 'active' })).toBe(2);
    expect(valueOf(await scrape(fresh), 'metachat_active_conversations', { channel: 'webchat', status: 'active' })).toBe(3);
  });

  it("reports the latest finished integrity run's findings per check, what is left after fixes for an applied run", async () => {
    const registry = new Registry();
    observeDatabase(registry, { db, logger, integrityChecks: ['orphans', 'duplicates', 'partitions'], maxAgeMs: 0 });
    expect((await scrape(registry)).some((s) => s.name === 'metachat_integrity_findings')).toBe(false); // no run yet

    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
    await db.integrityReport.create({ data: { startedAt: minutesAgo(30), finishedAt: minutesAgo(29), summary: { orphans: 7 } } });
    await db.integrityReport.create({ data: { startedAt: minutesAgo(10), finishedAt: minutesAgo(9), dryRun: false, summary: { orphans: 4, duplicates: 2, remaining: { orphans: 1, duplicates: 0 } } } });
    await db.integrityReport.create({ data: { startedAt: minutesAgo(1), summary: {} } }); // still running
    const samples = await scrape(registry);
    expect(valueOf(samples, 'metachat_integrity_findings', { check: 'orphans' })).toBe(1);
    expect(valueOf(samples, 'metachat_integrity_findings', { check: 'duplicates' })).toBe(0);
    expect(valueOf(samples, 'metachat_integrity_findings', { check: 'partitions' })).toBe(0);
  });
});
