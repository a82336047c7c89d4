// What the OpenAPI fuzzer runs against: the real API (`api/server.ts` as a child process, on a
// free port of 127.0.0.1) on a given migrated database and Temporal server, a fake Graph API for
// the channel-ownership calls channel registration makes, and tenants seeded with one of every
// resource (test/support/api-routes.ts seedTenant), each with a tenant key and an agent key.
// No worker: no route waits on one (the seeded conversation names no workflow, and starting a
// workflow only needs the Temporal server).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import getPort from 'get-port';
import { httpOk, startChild, waitUntil, type Child } from '../../bench/lib/children.ts';
import { loadConfig } from '../../lib/config.ts';
import { createDb } from '../../lib/db.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createApiKey } from '../../lib/tenants.ts';
import { startFakeGraphApi } from '../fakes/graph-api.ts';
import { seedTenant, type Ids } from '../support/api-routes.ts';

export interface FuzzTargetOptions {
  databaseUrl: string;
  temporalAddress: string;
  /** The API's log file and its document storage go here. */
  dataDir: string;
}

export interface FuzzTenant {
  ids: Ids;
  /** A tenant key (scope `tenant`) and an agent key (scope `agent`, bound to agent-1). */
  tenantKey: string;
  agentKey: string;
  /** Another tenant key of the tenant. */
  issueTenantKey(name: string): Promise<string>;
}

export interface FuzzTarget {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  adminKey: string;
  /** A new tenant with one of every resource (each pass fuzzes its own: another pass may have deleted the first's). */
  seedTenant(label: string): Promise<FuzzTenant>;
  apiLog: string;
  stop(): Promise<void>;
}

export async function startFuzzTarget(options: FuzzTargetOptions): Promise<FuzzTarget> {
  const graph = await startFakeGraphApi();
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(await getPort({ host: '127.0.0.1' })),
    DATABASE_URL: options.databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    ADMIN_API_KEY: randomBytes(24).toString('base64url'),
    SECRETS_KEYS: `fuzz:${randomBytes(32).toString('base64')}`,
    META_GRAPH_API_URL: graph.url,
    DOCUMENT_STORAGE_DIR: join(options.dataDir, 'documents'),
    DOCS_ACCESS: 'public',
    // Every request comes from 127.0.0.1 with one key: the limits would answer 429s, not bugs.
    RATE_LIMIT_API_PER_MINUTE: '1000000',
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
    WEBCHAT_VISITORS_PER_HOUR_PER_IP: '1000000',
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: '1000000',
    LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: '1000000',
    LOGIN_LOCKOUT_FAILURES: '1000000',
    // Generated bodies create keys, documents and functions: the quotas would answer 409 early.
    API_KEYS_PER_TENANT: '100000',
  };
  const config = loadConfig(env);
  const db = createDb(config, 'metachat-fuzz-seed');
  let api: Child | undefined;
  try {
    const url = `http://127.0.0.1:${env.PORT}`;
    const apiLog = join(options.dataDir, 'api.log');
    api = startChild('api', 'api/server.ts', env, apiLog);
    await waitUntil('API', () => httpOk(`${url}/health/live`), 60_000, api);
    const child = api;
    return {
      url,
      adminKey: env.ADMIN_API_KEY,
      async seedTenant(label) {
        const seeded = await seedTenant(db, config.SECRETS_KEYS, label);
        return {
          ids: seeded.ids,
          tenantKey: seeded.key,
          agentKey: seeded.agentKey,
          issueTenantKey: async (name) => (await createApiKey(forTenant(db, seeded.ids.tenantId), { name, scope: 'tenant' })).key,
        };
      },
      apiLog,
      async stop() {
        await child.stop();
        await db.$disconnect();
        await graph.close();
      },
    };
  } catch (err) {
    await api?.stop();
    await db.$disconnect();
    await graph.close();
    throw err;
  }
}
