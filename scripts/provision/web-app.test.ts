// The web app is rebuilt exactly when a source or the lock changed after the last build.
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './tools.ts';
import { ensureWebApp, webAppIsCurrent } from './web-app.ts';

const BUILT_INDEX = join(PROJECT_ROOT, 'web', 'dist', 'index.html');

describe('webAppIsCurrent', () => {
  const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

  it('is current only while the build is newer than every source and the lock', () => {
    const root = mkdtempSync(join(tmpdir(), 'web-app-'));
    const web = join(root, 'web');
    mkdirSync(join(web, 'src', 'pages'), { recursive: true });
    const page = join(web, 'src', 'pages', 'team.tsx');
    const lock = join(root, 'package-lock.json');
    const built = join(web, 'dist', 'index.html');
    for (const file of [page, lock]) writeFileSync(file, '');
    at(page, 1000);
    at(lock, 1000);
    expect(webAppIsCurrent(web, root)).toBe(false); // never built

    mkdirSync(join(web, 'dist'));
    writeFileSync(built, '');
    at(built, 2000);
    expect(webAppIsCurrent(web, root)).toBe(true);

    at(page, 3000); // a page edited after the build, however deep
    expect(webAppIsCurrent(web, root)).toBe(false);
    at(built, 3000);
    expect(webAppIsCurrent(web, root)).toBe(true);

    at(lock, 4000); // a library upgraded
    expect(webAppIsCurrent(web, root)).toBe(false);
  });
});

describe('ensureWebApp', () => {
  it('builds web/dist and leaves this process as it was (a build sets NODE_ENV=production where it runs)', async () => {
    // As under `npm run dev`, which sets none: Vite sets one where it builds when there is none.
    const before = process.env.NODE_ENV;
    delete process.env.NODE_ENV;
    // An older index.html makes the build due, whatever the tree's state.
    if (existsSync(BUILT_INDEX)) utimesSync(BUILT_INDEX, 0, 0);
    let built;
    try {
      built = await ensureWebApp();
      expect(process.env.NODE_ENV).toBeUndefined();
    } finally {
      process.env.NODE_ENV = before;
    }
    expect(built.source).toBe('built');
    expect(webAppIsCurrent()).toBe(true);
    expect((await ensureWebApp()).source).toBe('up to date');
  }, 300_000);
});
