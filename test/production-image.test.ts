// The Dockerfile cannot be built here (no Docker engine), so it is read: the image's main process
// must be the compiled service itself, started by node from dist/ (what test/graceful-shutdown.test.ts
// sends SIGTERM to), never npm or a TypeScript loader, which would take the signal and orphan it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE24_VERSION } from '../scripts/provision/node24.ts';

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages, each with its instructions (comments dropped, continuations joined). */
function stages(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      result.push({ from, ...(name && { name }), instructions: [] });
    } else {
      result.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return result;
}

/** An exec-form (JSON array) CMD or ENTRYPOINT; shell form would put /bin/sh in front. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const all = stages(readFileSync('Dockerfile', 'utf8'));
const final = all.at(-1)!;
const last = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).at(-1);
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('the production image', () => {
  it('runs the compiled API with node as its main process, in exec form, with no entrypoint in front', () => {
    expect(last('ENTRYPOINT')).toBeUndefined();
    expect(execForm(last('CMD')?.args ?? '')).toEqual(['node', 'dist/api/server.js']);
  });

  it('builds and runs on Node 24 LTS in every stage, the release of CI\'s second pass of the suite', () => {
    expect(all.map((s) => s.from)).toEqual(all.map(() => `node:${NODE24_VERSION}-bookworm-slim`));
    expect(Number(NODE24_VERSION.split('.')[0])).toBe(24);
  });

  it('stops with SIGTERM, which the services drain on', () => {
    expect(last('STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it('takes dist/ from a stage that compiles it with npm run build (tsc, then the workflow bundles)', () => {
    const copy = final.instructions.find((i) => i.keyword === 'COPY' && /\s\/build\/dist\s+dist$/.test(i.args));
    const from = /--from=(\S+)/.exec(copy?.args ?? '')?.[1];
    const builder = all.find((s) => s.name === from);
    expect(builder?.instructions.some((i) => i.keyword === 'RUN' && i.args === 'npm run build')).toBe(true);
    expect(scripts.build).toBe('tsc -p tsconfig.build.json && node dist/workers/write-workflow-bundles.js');
    // The image's RUN steps install and prepare; none of them starts the service through npm.
    expect(final.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n')).not.toMatch(/npm (run )?start/);
  });

  it('has package scripts that start the compiled services with plain node', () => {
    expect(scripts['start:api']).toBe('node dist/api/server.js');
    expect(scripts['start:worker']).toBe('node dist/workers/main.js');
    expect(`${scripts['start:api']} ${scripts['start:worker']}`).not.toMatch(/tsx|ts-node|--import|--loader/);
  });
});
