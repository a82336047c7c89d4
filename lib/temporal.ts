// Temporal connections. The API uses a lazy client connection so that it starts (and reports
// "not ready") while Temporal is down; workers need a native connection before they can poll.
// Every client and worker of the platform goes through here: the same connection options (TLS,
// mTLS, API key: a secured cluster or Temporal Cloud) and the same data converter (payloads
// encrypted under SECRETS_KEYS, lib/payload-codec.ts).
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig, WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, type Config, type TaskQueue } from './config.ts';
import type { Keyring } from './crypto.ts';
import { EncryptionCodec } from './payload-codec.ts';
import { RequestIdClientInterceptor } from './request-scope.ts';
import type { Tracing } from './tracing.ts';

export type TemporalConnectionConfig = Pick<
  Config,
  'TEMPORAL_ADDRESS' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CA_FILE' | 'TEMPORAL_TLS_CERT_FILE' | 'TEMPORAL_TLS_KEY_FILE' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'
>;
type TemporalConfig = TemporalConnectionConfig & Pick<Config, 'TEMPORAL_NAMESPACE' | 'SECRETS_KEYS'>;

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/** Reads one PEM file named by a variable; a missing or non-PEM file is a ConfigError naming it. */
function readPem(variable: string, path: string, read: (path: string) => Buffer): Buffer {
  let content: Buffer;
  try {
    content = read(path);
  } catch (err) {
    throw new ConfigError([`${variable}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  if (!content.toString('utf8').includes('-----BEGIN ')) throw new ConfigError([`${variable}: "${path}" is not a PEM file`]);
  return content;
}

/**
 * The options of both the client and the worker connection. TLS is on when TEMPORAL_TLS=true or,
 * unless TEMPORAL_TLS=false, when a CA, a client certificate, a server name or an API key is
 * configured (Temporal Cloud's API keys need TLS; the system's roots verify its certificate).
 */
export function temporalConnectionOptions(
  config: TemporalConnectionConfig,
  read: (path: string) => Buffer = (path) => readFileSync(path),
): TemporalConnectionOptions {
  const tlsWanted =
    config.TEMPORAL_TLS ??
    Boolean(config.TEMPORAL_TLS_CA_FILE || config.TEMPORAL_TLS_CERT_FILE || config.TEMPORAL_TLS_SERVER_NAME || config.TEMPORAL_API_KEY);
  const options: TemporalConnectionOptions = { address: config.TEMPORAL_ADDRESS };
  if (tlsWanted) {
    const problems: string[] = [];
    const pem = (variable: string, path: string | undefined) => {
      if (!path) return undefined;
      try {
        return readPem(variable, path, read);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.problems);
        return undefined;
      }
    };
    const ca = pem('TEMPORAL_TLS_CA_FILE', config.TEMPORAL_TLS_CA_FILE);
    const crt = pem('TEMPORAL_TLS_CERT_FILE', config.TEMPORAL_TLS_CERT_FILE);
    const key = pem('TEMPORAL_TLS_KEY_FILE', config.TEMPORAL_TLS_KEY_FILE);
    if (problems.length) throw new ConfigError(problems);
    options.tls = {
      ...(config.TEMPORAL_TLS_SERVER_NAME && { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME }),
      ...(ca && { serverRootCACertificate: ca }),
      ...(crt && key && { clientCertPair: { crt, key } }),
    };
  }
  if (config.TEMPORAL_API_KEY) options.apiKey = config.TEMPORAL_API_KEY;
  return options;
}

/** What every client and worker of the platform converts payloads with: encrypted under the keyring. */
export function temporalDataConverter(keyring: Keyring): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keyring)] };
}

/**
 * What every client sends with its starts, signals and updates: the request id (always, a header)
 * and, with tracing on, the trace context, so that the workflow's and activities' spans join the
 * caller's trace.
 */
export function temporalClientInterceptors(tracing?: Tracing): WorkflowClientInterceptor[] {
  return [new RequestIdClientInterceptor(), ...(tracing ? [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] : [])];
}

export function createTemporalClient(config: TemporalConfig, tracing?: Tracing): Client {
  const connection = Connection.lazy(temporalConnectionOptions(config));
  return temporalClientOn(connection, config, tracing);
}

/** A client over an already open connection (a worker's native connection, a script's). */
export function temporalClientOn(
  connection: Client['connection'] | NativeConnection,
  config: Pick<Config, 'TEMPORAL_NAMESPACE' | 'SECRETS_KEYS'>,
  tracing?: Tracing,
): Client {
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: temporalDataConverter(config.SECRETS_KEYS),
    interceptors: { workflow: temporalClientInterceptors(tracing) },
  });
}

export function connectClientConnection(config: TemporalConnectionConfig, extra: { connectTimeout?: number } = {}): Promise<Connection> {
  return Connection.connect({ ...temporalConnectionOptions(config), ...extra });
}

export function connectWorkerConnection(config: TemporalConnectionConfig): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config));
}

/** Resolves when the Temporal frontend answers an RPC within the deadline. */
export async function checkTemporal(client: Client, timeoutMs: number): Promise<void> {
  const { connection } = client;
  await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
}

/** The real name of one of the platform's task queues under the configured prefix. */
export function taskQueueName(config: Pick<Config, 'TEMPORAL_TASK_QUEUE_PREFIX'>, queue: TaskQueue): string {
  return `${config.TEMPORAL_TASK_QUEUE_PREFIX}${queue}`;
}
