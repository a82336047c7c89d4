// An API on a fresh migrated database, with the real Temporal dev server, a fake Graph API (channel
// registration asks it who owns a number or page: tell it with `graph.own(token, …)`) and every
// log line captured (pino into memory, at debug level) so that tests can check what was logged.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp, type App } from '../../api/app.ts';
import type { Config } from '../../lib/config.ts';
import { createDb, type Db } from '../../lib/db.ts';
import { REDACTED_PATHS } from '../../lib/logger.ts';
import { createTemporalClient } from '../../lib/temporal.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/graph-api.ts';
import { testConfig } from './config.ts';
import { createMigratedDatabase } from './database.ts';

export interface TestApi {
  app: App;
  db: Db;
  config: Config;
  /** META_GRAPH_API_URL, unless the overrides name another. */
  graph: FakeGraphApi;
  adminKey: string;
  /** Every log line written so far, as raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

/** Sign-in limits no test meets unless it sets its own (test/team-accounts.test.ts does). */
export const GENEROUS_LOGIN_LIMITS = { LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: '100000', LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: '100000', LOGIN_LOCKOUT_FAILURES: '100000' };

export async function startTestApi(prefix: string, overrides: Record<string, string> = {}, beforeReady?: (app: App) => void): Promise<TestApi> {
  const graph = await startFakeGraphApi();
  const config = testConfig({ META_GRAPH_API_URL: graph.url, DATABASE_URL: await createMigratedDatabase(prefix), RATE_LIMIT_API_PER_MINUTE: '100000', RATE_LIMIT_IP_PER_MINUTE: '100000', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '100000', ...GENEROUS_LOGIN_LIMITS, ...overrides });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug', base: { service: 'api-test' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
  const db = createDb(config, `${prefix}-test`);
  const temporal = createTemporalClient(config);
  const app = await buildApp({ config, db, temporal, logger });
  beforeReady?.(app);
  await app.ready();
  return {
    app,
    db,
    config,
    graph,
    adminKey: config.ADMIN_API_KEY,
    logs,
    async close() {
      await app.close();
      await db.$disconnect();
      await temporal.connection.close();
      await graph.close();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
