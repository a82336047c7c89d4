// Connections to the run's shared Temporal dev server (see test/global-setup.ts). The client
// encrypts and decrypts payloads with the test file's keyring, as the workers do.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { testDataConverter } from './config.ts';

export async function connectTestTemporal() {
  const address = inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection, namespace: 'default', dataConverter: testDataConverter() }),
    nativeConnection,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Task queues are shared by the whole server; each test prefixes its own. */
export function uniqueQueuePrefix(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

/** The Temporal SDK's Prometheus exporter of this test process (installed by temporal-runtime.ts). */
export function sdkMetricsUrl(): string {
  const url = process.env.METACHAT_TEST_SDK_METRICS_URL;
  if (!url) throw new Error('the Temporal runtime was installed without its Prometheus exporter (test/support/temporal-runtime.ts)');
  return url;
}
