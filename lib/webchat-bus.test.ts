// The web chat bus against a real Postgres: what is published reaches a listener, malformed
// payloads are dropped, and a listener whose connection is killed reconnects and listens again.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase } from '../test/support/database.ts';
import { testConfig } from '../test/support/config.ts';
import { eventually } from '../test/support/conversations.ts';
import { createDb, type Db } from './db.ts';
import { createLogger } from './logger.ts';
import { publishWebchatEvent, WEBCHAT_NOTIFY_CHANNEL, WebchatListener, type WebchatEvent } from './webchat-bus.ts';

describe('web chat bus', () => {
  let db: Db;
  let url: string;
  const logger = createLogger({ level: 'silent', name: 'test' });

  beforeAll(async () => {
    url = await createMigratedDatabase('webchat_bus');
    db = createDb(testConfig({ DATABASE_URL: url }), 'webchat-bus-test');
  });
  afterAll(async () => {
    await db?.$disconnect();
  });

  const message = (): WebchatEvent => ({
    kind: 'message', tenantId: randomUUID(), channelId: randomUUID(), visitorId: `v_${randomBytes(6).toString('hex')}`, messageId: randomUUID(), createdAt: Date.now(),
  });

  it('delivers published events to the listener and drops malformed ones', async () => {
    const received: WebchatEvent[] = [];
    const listener = new WebchatListener({ connectionString: url, logger, onEvent: (e) => received.push(e) });
    try {
      expect(await listener.start()).toBe(true);
      const first = message();
      await db.$executeRaw`SELECT pg_notify(${WEBCHAT_NOTIFY_CHANNEL}, 'not json')`;
      await db.$executeRaw`SELECT pg_notify(${WEBCHAT_NOTIFY_CHANNEL}, ${JSON.stringify({ kind: 'message', tenantId: 'x' })})`;
      await publishWebchatEvent(db, first);
      const typing: WebchatEvent = { kind: 'typing', tenantId: first.tenantId, channelId: first.channelId, visitorId: first.visitorId, author: 'assistant', state: 'on' };
      await publishWebchatEvent(db, typing);
      await eventually(() => received.length >= 2, 10_000, 'two events');
      expect(received).toEqual([first, typing]);
    } finally {
      await listener.close();
    }
  });

  it('refuses to publish an event that does not validate', async () => {
    await expect(publishWebchatEvent(db, { ...message(), visitorId: 'bad id!' } as WebchatEvent)).rejects.toThrow();
  });

  it('reconnects after its connection is killed, says so, and receives again', async () => {
    const received: WebchatEvent[] = [];
    let resubscribed = 0;
    const applicationName = `webchat-bus-test-${randomBytes(4).toString('hex')}`;
    const listener = new WebchatListener({
      connectionString: url, logger, applicationName, minBackoffMs: 20, maxBackoffMs: 200,
      onEvent: (e) => received.push(e),
      onResubscribed: () => resubscribed++,
    });
    try {
      expect(await listener.start()).toBe(true);
      const killed = await db.$queryRaw<{ killed: boolean }[]>`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = ${applicationName}`;
      expect(killed).toEqual([{ killed: true }]);
      await eventually(() => resubscribed === 1, 10_000, 'listening again');
      expect(listener.listening).toBe(true);
      const after = message();
      await publishWebchatEvent(db, after);
      await eventually(() => received.length === 1, 10_000, 'the event after the reconnect');
      expect(received).toEqual([after]);
    } finally {
      await listener.close();
    }
    expect(listener.listening).toBe(false);
  });

  it('keeps retrying while Postgres is unreachable, and stops when closed', async () => {
    const listener = new WebchatListener({ connectionString: 'postgresql://postgres@127.0.0.1:1/none', logger, minBackoffMs: 10, maxBackoffMs: 20, connectTimeoutMs: 500, onEvent: () => undefined });
    expect(await listener.start()).toBe(false);
    expect(listener.listening).toBe(false);
    await listener.close();
  });
});
