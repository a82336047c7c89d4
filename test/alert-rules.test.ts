// The alerting rules of observability/prometheus/ checked and unit-tested by promtool (Debian's
// prometheus package, scripts/provision/promtool.ts: found or fetched here, an error naming what
// to install when neither works), the compose stack's prometheus.yml checked by promtool, and the
// rules' shape: exactly the catalog's alerts, each with a severity, annotations and a runbook
// section in the README.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensurePromtool } from '../scripts/provision/promtool.ts';
import { catalogAlerts } from './support/metric-catalog.ts';

const run = promisify(execFile);
const DIR = 'observability/prometheus';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; eval_time: string; exp_alerts: unknown[] }[];
}

const rules = (parse(readFileSync(`${DIR}/alerts.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const unitTests = (parse(readFileSync(`${DIR}/alerts.test.yml`, 'utf8')) as { tests: RuleTest[] }).tests;

/** promtool's exit code and everything it printed (it reports failures on stdout). */
async function promtool(path: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(path, args, { cwd, timeout: 60_000 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

/** GitHub's anchor for a heading. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

describe('alert rules', () => {
  let promtoolPath: string;
  let scratch: string;

  beforeAll(async () => {
    // Provisioned by `npm test`'s setup (scripts/setup.ts --promtool); fetched here otherwise.
    promtoolPath = (await ensurePromtool()).path;
    scratch = mkdtempSync(join(tmpdir(), 'metachat-promtool-'));
  }, 15 * 60_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('pass promtool check rules', async () => {
    const { code, output } = await promtool(promtoolPath, ['check', 'rules', 'alerts.yml'], DIR);
    expect(code, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('pass their promtool unit tests', async () => {
    const { code, output } = await promtool(promtoolPath, ['test', 'rules', 'alerts.test.yml'], DIR);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('have unit tests that fire every alert and tests in which it does not fire', () => {
    const cases = unitTests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${alert} fires in a test`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${alert} stays quiet in a test`).toBe(true);
    }
  });

  it("are the catalog's alerts, each with a severity, a summary, a description and its runbook section", () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([...catalogAlerts()].sort());
    const readme = readFileSync('README.md', 'utf8');
    const runbook = readme.split(/^## /m).find((section) => section.startsWith('Runbook\n')) ?? '';
    expect(runbook, 'README has a "## Runbook" section').not.toBe('');
    const headings = [...runbook.matchAll(/^### (.+)$/gm)].map((m) => m[1]?.trim());
    for (const rule of rules) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      expect(headings, `README runbook heading for ${rule.alert}`).toContain(rule.alert);
      expect(rule.annotations?.runbook_url).toBe(`README.md#${anchor(rule.alert)}`);
    }
    // Alerts on a condition that lasts wait before firing; the event alerts fire at once.
    for (const name of ['ApiDown', 'WorkerDown', 'WebhookServerErrors', 'WorkerPollFailures', 'ReplyLatencyHigh', 'UnansweredRateHigh', 'IntegrityFindings']) {
      expect(rules.find((r) => r.alert === name)?.for, name).toMatch(/^\d+m$/);
    }
  });

  it("prometheus.yml passes promtool check config with its rules and the secret file compose mounts", async () => {
    const config = readFileSync(`${DIR}/prometheus.yml`, 'utf8');
    const secret = '/run/secrets/admin_api_key';
    expect(config).toContain(`credentials_file: ${secret}`);
    // promtool checks that the credentials file exists: a stand-in beside a copy of the config.
    writeFileSync(join(scratch, 'admin_api_key'), 'a-key-for-the-check\n');
    writeFileSync(join(scratch, 'prometheus.yml'), config.replaceAll(secret, join(scratch, 'admin_api_key')));
    copyFileSync(`${DIR}/alerts.yml`, join(scratch, 'alerts.yml'));
    const { code, output } = await promtool(promtoolPath, ['check', 'config', 'prometheus.yml'], scratch);
    expect(code, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
