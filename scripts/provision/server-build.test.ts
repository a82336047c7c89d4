// The server is rebuilt exactly when a source, a tsconfig or the lock changed after the last build,
// and a current build costs no compile.
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureServerBuild, serverBuildIsCurrent } from './server-build.ts';

describe('serverBuildIsCurrent', () => {
  const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);
  const file = (root: string, path: string, seconds: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    at(join(root, path), seconds);
    return join(root, path);
  };

  it('is current only while the last output is newer than every source, tsconfig and the lock', () => {
    const root = mkdtempSync(join(tmpdir(), 'server-build-'));
    const activity = file(root, 'activities/channels/whatsapp.ts', 1000);
    const generated = file(root, 'generated/prisma/client.ts', 1000);
    const tsconfig = file(root, 'tsconfig.build.json', 1000);
    const lock = file(root, 'package-lock.json', 1000);
    expect(serverBuildIsCurrent(root)).toBe(false); // never built

    const built = file(root, 'dist/workflows/bundle-tracing.js', 2000);
    expect(serverBuildIsCurrent(root)).toBe(true);
    for (const [source, seconds] of [[activity, 3000], [generated, 4000], [tsconfig, 5000], [lock, 6000]] as const) {
      at(source, seconds); // edited after the build, however deep
      expect(serverBuildIsCurrent(root), source).toBe(false);
      at(built, seconds);
      expect(serverBuildIsCurrent(root), source).toBe(true);
    }
    file(root, 'scripts/dev.ts', 9000); // not part of the build
    expect(serverBuildIsCurrent(root)).toBe(true);
  });
});

describe('ensureServerBuild', () => {
  it('answers in milliseconds when nothing changed', async () => {
    await ensureServerBuild();
    const started = performance.now();
    expect((await ensureServerBuild()).source).toBe('up to date');
    expect(performance.now() - started).toBeLessThan(500);
  }, 300_000);
});
