// The Helm chart of deploy/helm/ rendered by the real helm (`helm lint --strict`, `helm template`)
// with its default values and with non-default ones, each rendering validated by kubeconform
// -strict against the Kubernetes schemas of the oldest and the newest Kubernetes it supports, and
// checked against what the code expects: the task queues a worker polls, the variables the config
// knows, the health routes the API serves, the drain deadlines, secrets only from a Secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import healthRoutes from '../api/routes/health.ts';
import { billingOf } from '../lib/billing.ts';
import { CONFIG_VARIABLES, loadConfig, TASK_QUEUES } from '../lib/config.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { CANCELLATION_ACK_MS } from '../workers/create-workers.ts';
import { shutdownDeadlineMs } from '../workers/shutdown-signals.ts';
import { ensureKubernetesTools, KUBERNETES_SCHEMA_LOCATION, KUBERNETES_VERSIONS, type KubernetesTools } from '../scripts/provision/kubernetes-tools.ts';

const run = promisify(execFile);
const CHART = 'deploy/helm/meta-chat-platform';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Container {
  name: string;
  command?: string[];
  env?: EnvVar[];
  securityContext?: Record<string, unknown>;
  ports?: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Probe {
  httpGet?: { path: string; port: string };
  tcpSocket?: { port: string };
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string }; secret?: { secretName: string } }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    selector?: { matchLabels: Record<string, string> };
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    scaleTargetRef?: { kind: string; name: string };
    metrics?: {
      type: string;
      resource?: { name: string };
      pods?: { metric: { name: string }; target: { averageValue: string } };
      external?: { metric: { name: string; selector: { matchLabels: Record<string, string> } }; target: { averageValue: string } };
    }[];
    maxUnavailable?: number;
  };
}

/** Non-default values: another storage, drain, scale, backlog metric and Secret name. */
const OTHER_VALUES = {
  image: { repository: 'registry.example.com/metachat', tag: '1.2.3' },
  secrets: { existingSecret: 'metachat-prod' },
  temporalTls: { existingSecret: 'temporal-client', ca: true },
  config: { TEMPORAL_ADDRESS: 'prod-ns.a1b2c.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'prod-ns.a1b2c', TEMPORAL_TLS: 'true', TEMPORAL_TASK_QUEUE_PREFIX: 'eu-', LOG_LEVEL: 'warn' },
  billing: { prices: { pro: 'price_pro', business: 'price_business' }, meterEvents: { messages: 'metachat_messages', model_tokens: 'metachat_tokens' } },
  documents: { storage: 's3', s3: { bucket: 'metachat-documents', region: 'eu-west-1', endpoint: 'https://minio.storage.svc:9000', forcePathStyle: true } },
  serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/metachat' } },
  api: { shutdownGraceMs: 25_000, preStopSleepSeconds: 10, autoscaling: { enabled: false }, replicas: 3, env: { TEMPORAL_UI_ORIGIN: 'https://temporal.example.com' } },
  workerDefaults: { shutdownGraceMs: 45_000 },
  workers: {
    conversations: { autoscaling: { maxReplicas: 40, scheduleToStart: { enabled: true, targetAverageValue: '500m' } }, env: { WEBHOOK_TIMEOUT_MS: '30000' } },
    ingestion: { autoscaling: { scheduleToStart: { enabled: false }, backlog: { enabled: true, targetAverageValue: '10' } } },
    maintenance: { replicas: 1 },
  },
};

/** What the Secret would hold, for loading a rendered container's environment as the process does. */
const SECRET: Record<string, string> = {
  DATABASE_URL: 'postgresql://metachat:pw@postgres.db.svc:5432/metachat',
  ADMIN_API_KEY: randomBytes(32).toString('base64url'),
  SECRETS_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};
/** Stripe's keys, when the Secret holds them (billing on). */
const STRIPE_SECRET: Record<string, string> = { STRIPE_SECRET_KEY: 'sk_live_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123' };
const SECRET_NAMES = ['DATABASE_URL', 'ADMIN_API_KEY', 'SECRETS_KEYS', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'TEMPORAL_API_KEY', 'SMTP_URL', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'];

let tools: KubernetesTools;
const dir = mkdtempSync(join(tmpdir(), 'helm-chart-'));
const otherValuesFile = join(dir, 'other-values.json');
writeFileSync(otherValuesFile, JSON.stringify(OTHER_VALUES));
/** The rendered files: `default-<k8s version>.yaml` and `other-<k8s version>.yaml`. */
const rendered = new Map<string, Manifest[]>();

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(tools.helm.path, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function render(valuesFiles: string[], kubeVersion: string): Promise<string> {
  return helm(['template', 'metachat', CHART, '--namespace', 'metachat', '--kube-version', kubeVersion, ...valuesFiles.flatMap((f) => ['-f', f])]);
}

/** One worker (-n 1): parallel ones each compile the same schemas, which takes longer on 2 cores. */
async function kubeconform(files: string[], kubeVersion: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(tools.kubeconform.path, ['-strict', '-summary', '-output', 'text', '-n', '1', '-kubernetes-version', kubeVersion, '-schema-location', KUBERNETES_SCHEMA_LOCATION, ...files], { timeout: 60_000 });
    return { code: 0, output: stdout };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  tools = await ensureKubernetesTools();
  await Promise.all(
    KUBERNETES_VERSIONS.flatMap((version) =>
      (['default', 'other'] as const).map(async (which) => {
        const text = await render(which === 'other' ? [otherValuesFile] : [], version);
        writeFileSync(join(dir, `${which}-${version}.yaml`), text);
        rendered.set(`${which}-${version}`, parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean));
      }),
    ),
  );
}, 30 * 60_000); // a first run builds helm from its Go module (minutes); later ones take milliseconds

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const manifests = (which: 'default' | 'other') => rendered.get(`${which}-${KUBERNETES_VERSIONS.at(-1)}`) ?? [];
const ofKind = (which: 'default' | 'other', kind: string) => manifests(which).filter((m) => m.kind === kind);
const named = (which: 'default' | 'other', kind: string, suffix: string) => {
  const found = ofKind(which, kind).find((m) => m.metadata.name === `metachat-meta-chat-platform-${suffix}`);
  if (!found) throw new Error(`no ${kind} ${suffix} in the ${which} rendering`);
  return found;
};
const container = (m: Manifest) => m.spec.template!.spec.containers[0]!;
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
/** The process's environment, the Secret's keys read as Kubernetes would (optional ones it lacks absent). */
const processEnv = (c: Container, secret: Record<string, string> = SECRET) =>
  Object.fromEntries(
    (c.env ?? []).flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : secret[e.name] !== undefined ? [[e.name, secret[e.name]!]] : [])),
  );
const podTemplates = (which: 'default' | 'other') => [...ofKind(which, 'Deployment'), ...ofKind(which, 'Job')];

describe('the Helm chart', () => {
  it('passes helm lint --strict with its default values and with others', async () => {
    await helm(['lint', '--strict', CHART]);
    await helm(['lint', '--strict', CHART, '-f', otherValuesFile]);
  });

  it('refuses values its schema does not know, such as a task queue the workers do not poll or a meter the platform does not have', async () => {
    const typo = join(dir, 'typo-values.json');
    writeFileSync(typo, JSON.stringify({ workers: { conversation: { replicas: 2 } }, documents: { storage: 'nfs' }, billing: { meterEvents: { message: 'metachat_messages' } } }));
    const refusal = await render([typo], KUBERNETES_VERSIONS.at(-1)!).then(() => '', (err: Error) => err.message);
    // Each problem named, in no particular order.
    expect(refusal).toMatch(/at '\/workers': additional properties 'conversation' not allowed/);
    expect(refusal).toMatch(/at '\/documents\/storage': value must be one of 'local', 's3'/);
    // A meter the platform does not have (it is `messages`).
    expect(refusal).toMatch(/invalid propertyName 'message'/);
  });

  it.each(KUBERNETES_VERSIONS)('renders manifests that kubeconform -strict finds valid for Kubernetes %s', async (version) => {
    const files = ['default', 'other'].map((which) => join(dir, `${which}-${version}.yaml`));
    const result = await kubeconform(files, version);
    expect(result.output).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
    expect(result.code, result.output).toBe(0);
    expect(Number(/(\d+) resources found/.exec(result.output)?.[1])).toBe(rendered.get(`default-${version}`)!.length + rendered.get(`other-${version}`)!.length);
  });

  it('is validated for real: kubeconform -strict refuses a field Kubernetes does not know', async () => {
    const api = structuredClone(named('default', 'Deployment', 'api'));
    (container(api) as unknown as Record<string, unknown>).livenesProbe = { tcpSocket: { port: 'http' } };
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify(api));
    const result = await kubeconform([file], KUBERNETES_VERSIONS.at(-1)!);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/livenesProbe/);
  });

  it('runs one worker Deployment per task queue, each polling only its queue', () => {
    for (const which of ['default', 'other'] as const) {
      const workers = ofKind(which, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker');
      expect(workers.map((w) => envOf(container(w)).WORKER_TASK_QUEUES?.value).sort()).toEqual([...TASK_QUEUES].sort());
      for (const w of workers) {
        expect(container(w).command).toEqual(['node', 'dist/workers/main.js']);
        expect(loadConfig(processEnv(container(w))).WORKER_TASK_QUEUES).toEqual([w.metadata.labels?.['metachat.io/task-queue']]);
      }
    }
    expect(container(named('default', 'Deployment', 'api')).command).toEqual(['node', 'dist/api/server.js']);
  });

  it('gives every process only variables the config knows, and an environment that passes its validation', () => {
    for (const which of ['default', 'other'] as const) {
      for (const m of podTemplates(which)) {
        for (const e of container(m).env ?? []) expect(CONFIG_VARIABLES, `${m.metadata.name}: ${e.name}`).toContain(e.name);
      }
      for (const m of ofKind(which, 'Deployment')) {
        const config = loadConfig(processEnv(container(m)));
        expect(config.NODE_ENV).toBe('production');
        expect(config.DOCUMENT_STORAGE).toBe(which === 'default' ? 'local' : 's3');
      }
    }
    expect(loadConfig(processEnv(container(named('other', 'Deployment', 'worker-conversations')))).TEMPORAL_TLS).toBe(true);
  });

  it('reads every secret from the existing Secret, never from values, and renders no Secret of its own', async () => {
    for (const which of ['default', 'other'] as const) {
      expect(ofKind(which, 'Secret')).toEqual([]);
      const secretName = which === 'default' ? 'meta-chat-platform' : 'metachat-prod';
      for (const m of podTemplates(which)) {
        for (const e of container(m).env ?? []) {
          if (!SECRET_NAMES.includes(e.name)) continue;
          expect(e.value, `${m.metadata.name}: ${e.name}`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef).toMatchObject({ name: secretName, key: e.name });
          // The required ones must be there; a missing key keeps the pod from starting.
          expect(e.valueFrom?.secretKeyRef?.optional ?? false).toBe(!['DATABASE_URL', 'ADMIN_API_KEY', 'SECRETS_KEYS'].includes(e.name));
        }
      }
    }
    const noSecret = join(dir, 'no-secret.json');
    writeFileSync(noSecret, JSON.stringify({ secrets: { existingSecret: '' } }));
    await expect(render([noSecret], KUBERNETES_VERSIONS.at(-1)!)).rejects.toThrow(/secrets.existingSecret/);
  });

  it('hands Stripe billing to the API and the maintenance worker, which talk to Stripe, and to no other: on when the Secret holds its keys, off when not', () => {
    for (const which of ['default', 'other'] as const) {
      for (const m of ofKind(which, 'Deployment')) {
        const c = container(m);
        const name = m.metadata.name.replace('metachat-meta-chat-platform-', '');
        if (name !== 'api' && name !== 'worker-maintenance') {
          expect(Object.keys(envOf(c)).filter((n) => n.startsWith('STRIPE_')), name).toEqual([]);
          continue;
        }
        // Checkout, the portal, invoices and POST /webhooks/stripe in the API; the stripeEvent
        // workflow (a subscription's price gives the plan) and the usage report in the worker.
        const billing = billingOf(loadConfig(processEnv(c, { ...SECRET, ...STRIPE_SECRET })));
        expect(billing?.webhookSecret, name).toBe(STRIPE_SECRET.STRIPE_WEBHOOK_SECRET);
        expect(billing?.prices, name).toEqual(which === 'other' ? { pro: 'price_pro', business: 'price_business' } : {});
        expect(billing?.meterEvents, name).toEqual(which === 'other' && name === 'worker-maintenance' ? { messages: 'metachat_messages', model_tokens: 'metachat_tokens' } : {});
        // Optional references: a Secret without them starts the process with billing off.
        expect(billingOf(loadConfig(processEnv(c))), name).toBeUndefined();
      }
    }
    expect(loadConfig(processEnv(container(named('other', 'Deployment', 'worker-maintenance')))).WORKER_TASK_QUEUES).toEqual(['maintenance']);
  });

  it('probes the API on the health routes it serves: live for liveness, ready (Postgres and Temporal) for readiness', async () => {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.decorate('config', loadConfig(SECRET));
    await app.register(healthRoutes);
    await app.ready();
    const api = container(named('default', 'Deployment', 'api'));
    for (const probe of [api.startupProbe, api.livenessProbe, api.readinessProbe]) {
      expect(app.hasRoute({ method: 'GET', url: probe?.httpGet?.path ?? '' }), probe?.httpGet?.path).toBe(true);
      expect(probe?.httpGet?.port).toBe('http');
    }
    expect(api.livenessProbe?.httpGet?.path).toBe('/health/live');
    expect(api.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect((await app.inject({ method: 'GET', url: '/health/live' })).json()).toEqual({ status: 'ok' });
    await app.close();
    expect(api.ports).toEqual([{ name: 'http', containerPort: loadConfig(processEnv(api)).PORT, protocol: 'TCP' }]);
    // A worker has no HTTP routes of its own: it is alive while its metrics port answers.
    const worker = container(named('default', 'Deployment', 'worker-conversations'));
    expect(worker.livenessProbe?.tcpSocket?.port).toBe('metrics');
    expect(worker.ports).toContainEqual(expect.objectContaining({ name: 'metrics', containerPort: loadConfig(processEnv(worker)).WORKER_METRICS_PORT }));
  });

  it('waits longer than each process drains before Kubernetes kills it', () => {
    for (const which of ['default', 'other'] as const) {
      const api = named(which, 'Deployment', 'api');
      const apiConfig = loadConfig(processEnv(container(api)));
      const preStop = container(api).lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(preStop).toBeGreaterThan(0);
      expect(api.spec.template!.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(preStop * 1000 + apiConfig.SHUTDOWN_GRACE_MS);
      for (const queue of TASK_QUEUES) {
        const worker = named(which, 'Deployment', `worker-${queue}`);
        const config = loadConfig(processEnv(container(worker)));
        expect(worker.spec.template!.spec.terminationGracePeriodSeconds! * 1000, queue).toBeGreaterThan(shutdownDeadlineMs(config.WORKER_SHUTDOWN_GRACE_MS, CANCELLATION_ACK_MS));
      }
    }
    expect(loadConfig(processEnv(container(named('other', 'Deployment', 'worker-ingestion')))).WORKER_SHUTDOWN_GRACE_MS).toBe(45_000);
  });

  it('runs every container as non-root on a read-only root file system, with no privileges to gain, and with resources', () => {
    for (const which of ['default', 'other'] as const) {
      for (const m of podTemplates(which)) {
        const pod = m.spec.template!.spec;
        expect(pod.securityContext, m.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
        expect(container(m).securityContext, m.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        // The one writable place besides the documents.
        expect(container(m).volumeMounts, m.metadata.name).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        expect(container(m).resources?.requests, m.metadata.name).toHaveProperty('cpu');
        expect(container(m).resources?.limits, m.metadata.name).toHaveProperty('memory');
      }
    }
  });

  it('migrates the database, then registers the search attributes, in hook Jobs before every install and upgrade', () => {
    const migrate = named('default', 'Job', 'migrate');
    const setup = named('default', 'Job', 'temporal-setup');
    for (const job of [migrate, setup]) {
      expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(job.metadata.annotations?.['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
    }
    expect(Number(migrate.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(setup.metadata.annotations?.['helm.sh/hook-weight']));
    expect(container(migrate).command).toEqual(['node', 'dist/scripts/db-migrate.js']);
    expect(container(setup).command).toEqual(['node', 'dist/scripts/temporal-setup.js']);
    expect(Object.keys(envOf(container(migrate)))).toEqual(['DATABASE_URL']);
    expect(envOf(container(named('other', 'Job', 'temporal-setup'))).TEMPORAL_ADDRESS?.value).toBe('prod-ns.a1b2c.tmprl.cloud:7233');
  });

  it('autoscales the API and the conversation and ingestion workers on CPU, and on the backlog metric when enabled', () => {
    const hpas = (which: 'default' | 'other') => Object.fromEntries(ofKind(which, 'HorizontalPodAutoscaler').map((h) => [h.spec.scaleTargetRef!.name, h]));
    const prefix = 'metachat-meta-chat-platform-';
    expect(Object.keys(hpas('default')).sort()).toEqual([`${prefix}api`, `${prefix}worker-conversations`, `${prefix}worker-ingestion`]);
    for (const hpa of Object.values(hpas('default'))) {
      expect(hpa.spec.metrics).toEqual([expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) })]);
      // An HPA'd Deployment leaves its replica count to the HPA.
      expect(named('default', 'Deployment', hpa.spec.scaleTargetRef!.name.slice(prefix.length)).spec).not.toHaveProperty('replicas');
    }
    const other = hpas('other');
    expect(Object.keys(other).sort()).toEqual([`${prefix}worker-conversations`, `${prefix}worker-ingestion`]);
    expect(other[`${prefix}worker-conversations`]?.spec.metrics?.[1]).toEqual({
      type: 'Pods',
      pods: { metric: { name: 'temporal_activity_schedule_to_start_seconds_p95' }, target: { type: 'AverageValue', averageValue: '500m' } },
    });
    // The server's backlog count of the very queue the Deployment's workers poll (prefix included).
    const ingestion = named('other', 'Deployment', 'worker-ingestion');
    const config = loadConfig(processEnv(container(ingestion)));
    expect(other[`${prefix}worker-ingestion`]?.spec.metrics).toEqual([
      expect.objectContaining({ type: 'Resource' }),
      {
        type: 'External',
        external: {
          metric: { name: 'temporal_approximate_backlog_count', selector: { matchLabels: { taskqueue: taskQueueName(config, 'ingestion') } } },
          target: { type: 'AverageValue', averageValue: '10' },
        },
      },
    ]);
    expect(taskQueueName(config, 'ingestion')).toBe('eu-ingestion');
    expect(named('other', 'Deployment', 'api').spec).toHaveProperty('replicas', 3);
  });

  it('keeps every Deployment available through voluntary disruptions with a PodDisruptionBudget on its pods', () => {
    const pdbs = ofKind('default', 'PodDisruptionBudget');
    for (const d of ofKind('default', 'Deployment')) {
      const labels = d.spec.template!.metadata.labels;
      expect(d.spec.selector?.matchLabels).toEqual(expect.objectContaining(labels));
      const pdb = pdbs.find((p) => p.metadata.name === d.metadata.name);
      expect(pdb?.spec.maxUnavailable, d.metadata.name).toBe(1);
      expect(Object.entries(pdb?.spec.selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v)).toBe(true);
      expect(pdb?.spec.selector?.matchLabels).toEqual(d.spec.selector?.matchLabels);
    }
  });

  it('hands the client certificate for mTLS to Temporal from a Secret to every process that connects to Temporal, and to no other', () => {
    for (const m of podTemplates('other')) {
      const c = container(m);
      const config = loadConfig({ ...processEnv(c), ...(m.kind === 'Job' ? SECRET : {}) });
      const files = [config.TEMPORAL_TLS_CERT_FILE, config.TEMPORAL_TLS_KEY_FILE, config.TEMPORAL_TLS_CA_FILE];
      if (m.metadata.name.endsWith('-migrate')) {
        expect(files, m.metadata.name).toEqual([undefined, undefined, undefined]);
        expect(m.spec.template!.spec.volumes?.map((v) => v.name)).toEqual(['tmp']);
        continue;
      }
      const mount = c.volumeMounts?.find((v) => v.name === 'temporal-tls');
      expect(files.map((f) => f?.slice(0, f.lastIndexOf('/'))), m.metadata.name).toEqual([mount?.mountPath, mount?.mountPath, mount?.mountPath]);
      expect(m.spec.template!.spec.volumes).toContainEqual(expect.objectContaining({ name: 'temporal-tls', secret: expect.objectContaining({ secretName: 'temporal-client' }) }));
    }
    for (const m of podTemplates('default')) expect(container(m).volumeMounts?.map((v) => v.name), m.metadata.name).not.toContain('temporal-tls');
  });

  it('shares one ReadWriteMany document volume between the API and the workers, or none with S3', () => {
    const [claim] = ofKind('default', 'PersistentVolumeClaim') as unknown as { metadata: { name: string }; spec: { accessModes: string[] } }[];
    expect(claim?.spec.accessModes).toEqual(['ReadWriteMany']);
    for (const d of ofKind('default', 'Deployment')) {
      expect(d.spec.template!.spec.volumes).toContainEqual({ name: 'documents', persistentVolumeClaim: { claimName: claim!.metadata.name } });
      const dir = loadConfig(processEnv(container(d))).DOCUMENT_STORAGE_DIR;
      expect(container(d).volumeMounts).toContainEqual({ name: 'documents', mountPath: dir });
    }
    expect(ofKind('other', 'PersistentVolumeClaim')).toEqual([]);
    const worker = loadConfig(processEnv(container(named('other', 'Deployment', 'worker-ingestion'))));
    expect([worker.S3_BUCKET, worker.S3_REGION, worker.S3_ENDPOINT, worker.S3_FORCE_PATH_STYLE]).toEqual(['metachat-documents', 'eu-west-1', 'https://minio.storage.svc:9000', true]);
  });
});
