// `npm run temporal:setup`: prepares a Temporal namespace for the platform, once per namespace
// (and again after an upgrade that adds search attributes): registers the custom search
// attributes. Idempotent. Workers do not register them; they check at start-up and name what is
// missing. Connects as every process does (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key).
import { pathToFileURL } from 'node:url';
import { checkTemporalConnection, ConfigError, configSchema } from '../lib/config.ts';
import { connectClientConnection, temporalConnectionOptions } from '../lib/temporal.ts';
import { Client } from '@temporalio/client';
import { registerSearchAttributes } from '../temporal-config/search-attributes.ts';

const setupConfig = configSchema
  .pick({
    TEMPORAL_ADDRESS: true,
    TEMPORAL_NAMESPACE: true,
    TEMPORAL_TLS: true,
    TEMPORAL_TLS_CA_FILE: true,
    TEMPORAL_TLS_CERT_FILE: true,
    TEMPORAL_TLS_KEY_FILE: true,
    TEMPORAL_TLS_SERVER_NAME: true,
    TEMPORAL_API_KEY: true,
  })
  .superRefine(checkTemporalConnection);

/** Returns the process exit code: 0 when the namespace is ready, 78 on bad configuration, 1 otherwise. */
export async function temporalSetup(env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<number> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = setupConfig.safeParse(cleaned);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) print(`${String(issue.path[0] ?? 'environment')}: ${issue.message}`);
    return 78;
  }
  const config = parsed.data;
  try {
    temporalConnectionOptions(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) print(problem);
    return 78;
  }
  const connection = await connectClientConnection(config);
  try {
    // Operator calls carry no payloads: no data converter needed.
    const added = await registerSearchAttributes(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), config.TEMPORAL_NAMESPACE);
    print(
      added.length
        ? `Namespace "${config.TEMPORAL_NAMESPACE}": registered search attributes ${added.join(', ')}.`
        : `Namespace "${config.TEMPORAL_NAMESPACE}": search attributes already in place.`,
    );
    return 0;
  } catch (err) {
    print(`Namespace "${config.TEMPORAL_NAMESPACE}" at ${config.TEMPORAL_ADDRESS}: ${(err as Error).message}`);
    return 1;
  } finally {
    await connection.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await temporalSetup(process.env, (line) => process.stdout.write(`${line}\n`));
}
