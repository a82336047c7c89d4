// Finding the browser for these tests (scripts/provision/browser.ts): CHROMIUM_PATH first, then
// Debian's package, else apt-get as root, else an error that names what to install.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureChromium, findChromium } from '../../scripts/provision/browser.ts';

describe('browser provisioning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chromium-provision-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in executable that answers --version like Chromium does. */
  function fakeBrowser(name: string): string {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/sh\necho "Chromium 1.2.3.4 built for a test"\n');
    chmodSync(path, 0o755);
    return path;
  }

  it('uses CHROMIUM_PATH when set, and reports its version', async () => {
    const path = fakeBrowser('my-chromium');
    expect(findChromium({ CHROMIUM_PATH: path })).toBe(path);
    expect(await ensureChromium({ env: { CHROMIUM_PATH: path }, debianPath: join(dir, 'absent'), canInstall: false })).toEqual({
      path,
      version: 'Chromium 1.2.3.4 built for a test',
      source: 'CHROMIUM_PATH',
    });
  });

  it('refuses a CHROMIUM_PATH that is not an executable, saying what to do', async () => {
    const path = join(dir, 'not-executable');
    writeFileSync(path, 'text');
    await expect(ensureChromium({ env: { CHROMIUM_PATH: path } })).rejects.toThrow(/CHROMIUM_PATH=.*not-executable is not an executable file: install Debian's "chromium" package \(apt-get install chromium\) or set CHROMIUM_PATH/);
  });

  it('uses the Debian path when there, and fails with what to install when nothing is there and apt-get may not run', async () => {
    const debian = fakeBrowser('debian-chromium');
    expect(await ensureChromium({ env: {}, debianPath: debian, canInstall: false })).toEqual({ path: debian, version: 'Chromium 1.2.3.4 built for a test', source: 'Debian package' });
    await expect(ensureChromium({ env: {}, debianPath: join(dir, 'absent'), canInstall: false })).rejects.toThrow(
      /No Chromium at .*absent and no apt-get as root to install it: install Debian's "chromium" package/,
    );
  });
});
