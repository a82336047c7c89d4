// `npm run secrets:rotate`: re-encrypts every channel secret (and tenant function signing secret,
// tenant provider key and webhook endpoint signing secret) under the current key (the first
// of SECRETS_KEYS). Run it after putting a new key first in SECRETS_KEYS (keeping the old ones
// after it); once it reports no failures, the old keys can be removed. Idempotent: a second run
// re-encrypts nothing. Prints counts only, never a secret.
import { pathToFileURL } from 'node:url';
import { configSchema } from '../lib/config.ts';
import { rotateChannelSecrets } from '../lib/channels.ts';
import type { RotationResult } from '../lib/crypto.ts';
import { createDb } from '../lib/db.ts';
import { rotateLlmCredentials } from '../lib/llm-credentials.ts';
import { rotateFunctionSecrets } from '../lib/tenant-functions.ts';
import { rotateWebhookEndpointSecrets } from '../lib/tenant-webhooks.ts';

const scriptConfig = configSchema.pick({
  DATABASE_URL: true,
  DATABASE_POOL_MAX: true,
  DATABASE_POOL_IDLE_TIMEOUT_MS: true,
  DATABASE_CONNECT_TIMEOUT_MS: true,
  DATABASE_STATEMENT_TIMEOUT_MS: true,
  SECRETS_KEYS: true,
});

/** Returns the process exit code: 0 when everything is under the current key, 1 otherwise. */
export async function rotateSecrets(env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<{ code: number; result?: RotationResult }> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = scriptConfig.safeParse(cleaned);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) print(`${String(issue.path[0] ?? 'environment')}: ${issue.message}`);
    return { code: 78 };
  }
  const config = parsed.data;
  const db = createDb(config, 'rotate-secrets');
  try {
    const result = await rotateChannelSecrets(db, config.SECRETS_KEYS);
    print(`Channel secrets: ${result.total} in total, ${result.alreadyCurrent} already under key "${config.SECRETS_KEYS[0]!.id}", ${result.reencrypted} re-encrypted, ${result.failed} failed.`);
    if (result.failed) print('Secrets that failed do not decrypt with any key in SECRETS_KEYS: restore the key they were written with, or re-enter them on their channel.');
    const functions = await rotateFunctionSecrets(db, config.SECRETS_KEYS);
    const llm = await rotateLlmCredentials(db, config.SECRETS_KEYS);
    print(`Function signing secrets: ${functions.total} in total, ${functions.reencrypted} re-encrypted, ${functions.failed} failed. Tenant provider keys: ${llm.total} in total, ${llm.reencrypted} re-encrypted, ${llm.failed} failed.`);
    const webhooks = await rotateWebhookEndpointSecrets(db, config.SECRETS_KEYS);
    print(`Webhook signing secrets: ${webhooks.total} in total, ${webhooks.reencrypted} re-encrypted, ${webhooks.failed} failed.`);
    return { code: result.failed || functions.failed || llm.failed || webhooks.failed ? 1 : 0, result };
  } finally {
    await db.$disconnect();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { code } = await rotateSecrets(process.env, (line) => console.log(line));
    process.exitCode = code;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
