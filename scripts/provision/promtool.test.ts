// Finding promtool for the alert rule tests (scripts/provision/promtool.ts): PROMTOOL_PATH first,
// then Debian's package, then a copy extracted into .local/, else an error that names what to install.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePromtool } from './promtool.ts';

describe('promtool provisioning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promtool-provision-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in executable that answers --version like promtool does (on stderr, as some builds do). */
  function fakePromtool(path: string): string {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '#!/bin/sh\necho "promtool, version 9.9.9 (for a test)" >&2\n');
    chmodSync(path, 0o755);
    return path;
  }
  const absent = join(dir, 'absent');

  it('uses PROMTOOL_PATH when set, and reports its version', async () => {
    const path = fakePromtool(join(dir, 'my-promtool'));
    expect(await ensurePromtool({ env: { PROMTOOL_PATH: path }, debianPath: absent, localDir: absent, canDownload: false })).toEqual({
      path,
      version: 'promtool, version 9.9.9 (for a test)',
      source: 'PROMTOOL_PATH',
    });
  });

  it('refuses a PROMTOOL_PATH that is not an executable, saying what to do', async () => {
    const path = join(dir, 'not-executable');
    writeFileSync(path, 'text');
    await expect(ensurePromtool({ env: { PROMTOOL_PATH: path }, canDownload: false })).rejects.toThrow(
      /PROMTOOL_PATH=.*not-executable is not an executable file: install Debian's "prometheus" package \(apt-get install prometheus\)/,
    );
  });

  it("prefers Debian's package, then the copy extracted into .local/", async () => {
    const debian = fakePromtool(join(dir, 'debian', 'promtool'));
    const local = join(dir, 'local');
    const extracted = fakePromtool(join(local, 'usr', 'bin', 'promtool'));
    expect(await ensurePromtool({ env: {}, debianPath: debian, localDir: local, canDownload: false })).toMatchObject({ path: debian, source: 'Debian package' });
    expect(await ensurePromtool({ env: {}, debianPath: absent, localDir: local, canDownload: false })).toMatchObject({
      path: extracted,
      source: 'Debian package, extracted into .local/',
    });
  });

  it('fails with what to install when there is none and apt-get cannot fetch it', async () => {
    await expect(ensurePromtool({ env: {}, debianPath: absent, localDir: absent, canDownload: false })).rejects.toThrow(
      /No promtool at .*absent or .*absent\/usr\/bin\/promtool, and no apt-get and dpkg-deb to fetch it: install Debian's "prometheus" package/,
    );
  });
});
