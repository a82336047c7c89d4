// GET /api/v1/analytics and /usage over a seeded history (test/support/analytics.ts): messages per
// day and channel, reply latency per day, handoff share, unanswered replies, cost per day against
// the budget; the usage report's messages, documents and limits. The figures are worked out by
// hand from the seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '../generated/prisma/client.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { daysAgo, seedAnalyticsTenant, type SeededAnalytics } from './support/analytics.ts';
import { createUser, sessionFor, withSession } from './support/team.ts';

describe('analytics and usage of a seeded history', () => {
  let api: TestApi;
  let seeded: SeededAnalytics;
  let headers: Record<string, string>;

  beforeAll(async () => {
    api = await startTestApi('analytics');
    seeded = await seedAnalyticsTenant(api.db, api.config);
    const owner = await createUser(api.db, seeded.tenant.id, { email: 'owner@analytics.example.com', role: 'owner' });
    headers = withSession(await sessionFor(api.db, api.config, owner), false);
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = async (url: string) => {
    const res = await api.app.inject({ url, headers });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it('reports the last 7 days per day and per channel, with latency, handoffs, unanswered replies and cost against the budget', async () => {
    const [d1, d3] = [daysAgo(1), daysAgo(3)];
    const a = await get(`/api/v1/analytics?from=${daysAgo(6)}&to=${daysAgo(-1)}`);
    expect(a.channels).toEqual([
      { id: seeded.whatsappChannelId, name: 'Shop WhatsApp', type: 'whatsapp' },
      { id: seeded.messengerChannelId, name: 'Shop Messenger', type: 'messenger' },
    ]);
    expect(a.messagesPerDayByChannel).toEqual([
      { day: d3, channelId: seeded.whatsappChannelId, inbound: 3, outbound: 2 },
      { day: d1, channelId: seeded.messengerChannelId, inbound: 2, outbound: 2 },
      { day: d1, channelId: seeded.whatsappChannelId, inbound: 2, outbound: 2 },
    ]);
    // The fields that were there before keep their meaning.
    expect(a.messagesPerDay).toEqual([{ day: d3, inbound: 3, outbound: 2 }, { day: d1, inbound: 4, outbound: 4 }]);
    expect(a.totals).toEqual({ inbound: 7, outbound: 6, conversations: 3 });
    expect(a.tokens).toEqual({ prompt: 4200, completion: 600 });
    expect(a.costUsd).toBe(1.67);
    expect(a.handoff).toEqual({ conversations: 1, rate: 1 / 3 });
    // Replies after 2, 4, 1, 8 (an agent's), 3 and 6 s.
    expect(a.responseLatencyMs).toEqual({ count: 6, avg: 4000, p50: 3500, p95: 7500 });

    expect(a.responseLatencyPerDay).toEqual([{ day: d3, count: 2, p50: 4500, p95: 5850 }, { day: d1, count: 4, p50: 3000, p95: 7400 }]);
    expect(a.handoffPerDay).toEqual([{ day: d3, conversations: 1, handedOff: 0, rate: 0 }, { day: d1, conversations: 2, handedOff: 1, rate: 0.5 }]);
    // The "I don't know" of yesterday and the budget-exhausted reply three days ago; the agent's reply is not the assistant's.
    expect(a.unanswered).toEqual({ replies: 5, unanswered: 2, rate: 0.4 });
    expect(a.unansweredPerDay).toEqual([{ day: d3, replies: 2, unanswered: 1 }, { day: d1, replies: 3, unanswered: 1 }]);
    expect(a.costPerDay).toEqual([{ day: d3, costUsd: 1.25 }, { day: d1, costUsd: 0.42 }]);
    expect(a.budget).toEqual({ dailyBudgetUsd: 1 });
  });

  it('takes 30 days in, and an empty range answers empty lists and no latency', async () => {
    const a = await get(`/api/v1/analytics?from=${daysAgo(29)}&to=${daysAgo(-1)}`);
    expect(a.messagesPerDayByChannel[0]).toEqual({ day: daysAgo(10), channelId: seeded.messengerChannelId, inbound: 1, outbound: 1 });
    expect(a.totals).toEqual({ inbound: 8, outbound: 7, conversations: 4 });
    expect(a.responseLatencyMs.count).toBe(7);

    const empty = await get('/api/v1/analytics?from=2020-01-01&to=2020-01-31');
    expect(empty).toMatchObject({
      messagesPerDay: [], messagesPerDayByChannel: [], channels: [], costPerDay: [], handoffPerDay: [], responseLatencyPerDay: [], unansweredPerDay: [],
      totals: { inbound: 0, outbound: 0, conversations: 0 },
      handoff: { conversations: 0, rate: 0 },
      responseLatencyMs: { count: 0, avg: null, p50: null, p95: null },
      unanswered: { replies: 0, unanswered: 0, rate: 0 },
    });
  });

  it('counts a reply as unanswered by the handoff keyword and messages the tenant set, as they are now', async () => {
    const tdb = forTenant(api.db, seeded.tenant.id);
    const tenant = await tdb.tenant.findUniqueOrThrow({ where: { id: seeded.tenant.id } });
    await tdb.tenant.update({ where: { id: tenant.id }, data: { settings: { llm: { dailyBudgetUsd: 1 }, handoff: { keywords: ['mensch'] } } } });
    try {
      const a = await get(`/api/v1/analytics?from=${daysAgo(6)}&to=${daysAgo(-1)}`);
      // "human" is no longer the keyword: only the budget-exhausted reply is left.
      expect(a.unanswered).toEqual({ replies: 5, unanswered: 1, rate: 0.2 });
    } finally {
      await tdb.tenant.update({ where: { id: tenant.id }, data: { settings: tenant.settings as Prisma.InputJsonValue } });
    }
  });

  it('refuses a range it cannot read with a 400, and the usage report adds messages, documents and limits', async () => {
    const bad = await api.app.inject({ url: `/api/v1/analytics?from=${daysAgo(1)}&to=${daysAgo(3)}`, headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_error');
    // Agents answer conversations; the tenant's figures are the owners' and admins'.
    const agent = await createUser(api.db, seeded.tenant.id, { email: 'agent@analytics.example.com', role: 'agent' });
    const agentHeaders = withSession(await sessionFor(api.db, api.config, agent), false);
    for (const url of [`/api/v1/analytics?from=${daysAgo(6)}&to=${daysAgo(-1)}`, `/api/v1/usage?from=${daysAgo(6)}&to=${daysAgo(-1)}`]) {
      expect((await api.app.inject({ url, headers: agentHeaders })).statusCode, url).toBe(403);
    }

    const tdb = forTenant(api.db, seeded.tenant.id);
    const doc = (status: 'ready' | 'failed' | 'processing', sizeBytes: number, chunkCount: number, deleted = false) =>
      tdb.document.create({
        data: tenantData<Prisma.DocumentUncheckedCreateInput>({
          documentKey: `doc-${status}-${sizeBytes}`, title: status, mimeType: 'text/plain', contentHash: `h${sizeBytes}`, sizeBytes, chunkCount, status, ...(deleted && { deletedAt: new Date() }),
        }),
      });
    await doc('ready', 2000, 12);
    await doc('ready', 1000, 3);
    await doc('processing', 500, 0);
    await doc('failed', 10, 0);
    await doc('ready', 99_999, 40, true);
    await tdb.usage.create({ data: tenantData<Prisma.UsageUncheckedCreateInput>({ day: new Date(daysAgo(0)), provider: 'openai', model: 'text-embedding-3-small', requests: 1, costUsd: '0.25' }) });

    const u = await get(`/api/v1/usage?from=${daysAgo(6)}&to=${daysAgo(-1)}`);
    expect(u.messages).toEqual({ inbound: 7, outbound: 6 });
    expect(u.totals).toEqual({ requests: 9, promptTokens: 4200, completionTokens: 600, costUsd: 1.92 });
    // The failed version keeps no file, so the document quota does not count it (lib/documents.ts).
    expect(u.documents).toEqual({ documents: 3, chunks: 15, versions: { ready: 2, processing: 1, failed: 1 }, bytes: 3510 });
    expect(u.limits).toEqual({
      dailyBudgetUsd: 1, spentTodayUsd: 0.25, documentMaxBytes: api.config.DOCUMENT_MAX_BYTES, documents: api.config.DOCUMENT_QUOTA_PER_TENANT, chunks: api.config.CHUNK_QUOTA_PER_TENANT,
      plan: { id: 'default', name: 'Default' },
    });
  });
});
