// docker-compose.yml cannot run here (no Docker engine), so it is checked against what the code
// expects: its services, and that the app services' variables are exactly ones the config knows
// and pass its validation once compose has substituted them.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../lib/config.ts';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  ports?: unknown[];
  expose?: unknown[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const { services } = compose;

/** What `docker compose` does with `${VAR:?msg}` and `${VAR:-default}` given these values. */
function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = vars[name];
    if (set !== undefined && set !== '') return set;
    if (op === '?') throw new Error(`${name} is required by docker-compose.yml: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

const vars = {
  POSTGRES_PASSWORD: 'pw',
  ADMIN_API_KEY: randomBytes(32).toString('base64url'),
  SECRETS_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

describe('docker-compose.yml', () => {
  it('has the production services', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'worker']);
    expect(services.postgres?.image).toMatch(/^pgvector\/pgvector:pg1[6-9]$/);
    expect(services.temporal?.environment?.DB).toBe('postgres12');
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('publishes the API and nothing else: Temporal and its UI are reachable inside the network only', () => {
    const publishing = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0).map(([name]) => name);
    expect(publishing).toEqual(['api']);
    expect(services.api?.ports).toEqual(['3000:3000']);
    const text = readFileSync('docker-compose.yml', 'utf8');
    expect(text).not.toMatch(/network_mode:\s*host/);
  });

  it("points the Web UI at the API's codec endpoint, and lets only the UI's origin call it", () => {
    const ui = services['temporal-ui']?.environment ?? {};
    expect(substitute(String(ui.TEMPORAL_CODEC_ENDPOINT), vars)).toBe('http://localhost:3000/codec');
    const api = loadConfig(Object.fromEntries(Object.entries(services.api?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)])));
    expect(api.TEMPORAL_UI_ORIGIN).toBe('http://localhost:8080');
  });

  it("keeps closed histories for the retention the README states (GDPR erasure's deadline in Temporal)", () => {
    expect(services.temporal?.environment?.DEFAULT_NAMESPACE_RETENTION).toBe('72h');
    expect(readFileSync('README.md', 'utf8')).toContain('`DEFAULT_NAMESPACE_RETENTION: 72h`');
  });

  it('registers the search attributes in a setup step the worker waits for', () => {
    expect(services['temporal-setup']?.command).toEqual(['npm', 'run', 'temporal:setup']);
    expect(services.worker?.depends_on).toMatchObject({ 'temporal-setup': { condition: 'service_completed_successfully' } });
    const env = Object.fromEntries(Object.entries(services['temporal-setup']?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)]));
    for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('runs the package scripts that exist', () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['api', 'worker', 'migrate', 'temporal-setup']) {
      const command = services[name]?.command ?? [];
      expect(command.slice(0, 2)).toEqual(['npm', 'run']);
      expect(scripts).toHaveProperty(command[2] ?? '');
    }
  });

  it('starts api and worker only after migrations and a healthy Temporal', () => {
    for (const name of ['api', 'worker']) {
      expect(services[name]?.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        temporal: { condition: 'service_healthy' },
      });
    }
  });

  it.each(['api', 'worker', 'migrate'])('gives %s only variables the config schema knows', (name) => {
    const env = services[name]?.environment ?? {};
    for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
  });

  it.each(['api', 'worker'])('gives %s an environment that passes config validation', (name) => {
    const env = Object.fromEntries(
      Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, substitute(String(v), vars)]),
    );
    const config = loadConfig(env);
    expect(new URL(config.DATABASE_URL).hostname).toBe('postgres');
    expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('shares one document storage volume between the API and the workers', () => {
    for (const name of ['api', 'worker']) {
      const dir = services[name]?.environment?.DOCUMENT_STORAGE_DIR;
      expect(dir).toBeDefined();
      expect(services[name]?.volumes).toContain(`documents:${dir}`);
    }
  });

  it('refuses to start without the required secrets', () => {
    expect(() => substitute(String(services.api?.environment?.ADMIN_API_KEY), {})).toThrow(/ADMIN_API_KEY is required/);
  });

  it('mounts the dynamic config the Temporal server is told to read', () => {
    const mount = services.temporal?.volumes?.find((v) => v.includes('dynamicconfig')) ?? '';
    const [hostDir] = mount.split(':');
    const file = services.temporal?.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '';
    expect(existsSync(`${hostDir}/${file.split('/').pop()}`)).toBe(true);
  });
});
