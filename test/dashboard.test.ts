// The Grafana dashboard (observability/grafana/): the committed JSON is what the generator builds,
// it is a dashboard Grafana provisions (classic JSON, schemaVersion ≥ 39, panels on a grid, the
// datasource and tenant variables), its queries parse as PromQL (promtool's parser, through a
// rule file of them), every platform series of the catalog has a panel, and every panel on a
// tenant-labelled series follows the tenant variable. test/docker-compose.test.ts checks that the
// queries read only catalog series and labels.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildDashboard, DASHBOARD_PATH } from '../observability/grafana/metachat-dashboard.ts';
import { ensurePromtool } from '../scripts/provision/promtool.ts';
import { catalogSeries, loadCatalog, selectorsIn } from './support/metric-catalog.ts';

const run = promisify(execFile);

interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}

const text = readFileSync(DASHBOARD_PATH, 'utf8');
const dashboard = JSON.parse(text) as { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } };
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const targets = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

describe('the Grafana dashboard', () => {
  it('is what observability/grafana/metachat-dashboard.ts builds (regenerate with `npx tsx observability/grafana/metachat-dashboard.ts`)', () => {
    expect(text).toBe(`${JSON.stringify(buildDashboard(), null, 2)}\n`);
  });

  it('is classic dashboard JSON with unique panel ids on a 24-column grid, no two panels overlapping', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Map<string, string>();
    for (const { title, gridPos: g } of dashboard.panels) {
      expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, title).toBe(true);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.get(`${x},${y}`), `${title} overlaps`).toBeUndefined();
          cells.set(`${x},${y}`, title);
        }
      }
    }
  });

  it('has rows for every part of the platform', () => {
    expect(dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([
      'Traffic',
      'Replies and handoffs',
      'LLM',
      'Retrieval and ingestion',
      'Tenant webhooks and Graph API',
      'HTTP (API)',
      'Temporal workers',
      'Processes',
    ]);
  });

  it('queries the datasource variable (the provisioned Prometheus by default) from every panel, and has a tenant variable', () => {
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.description, panel.title).toBeTruthy();
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(new Set(panel.targets?.map((t) => t.refId)).size, panel.title).toBe(panel.targets?.length);
    }
    for (const target of targets) expect(target.datasource, target.panel).toEqual({ type: 'prometheus', uid: '${datasource}' });
    expect(dashboard.templating.list.find((v) => v.name === 'tenant')).toMatchObject({ type: 'query', includeAll: true, multi: true, allValue: '.*' });
  });

  it('follows the tenant variable on every series that has a tenant label', () => {
    const series = catalogSeries();
    for (const { panel, expr } of targets) {
      for (const selector of selectorsIn(expr)) {
        if (!series.get(selector.name)?.has('tenant')) continue;
        expect(selector.labels, `${panel}: ${selector.name}`).toContain('tenant');
        expect(expr, panel).toContain('tenant=~"$tenant"');
      }
    }
  });

  it("has a panel for every platform and Temporal series of the catalog, and for the processes' CPU, memory and event loop", () => {
    const read = new Set(targets.flatMap((t) => selectorsIn(t.expr).map((s) => s.name.replace(/_(bucket|sum|count)$/, ''))));
    const platform = loadCatalog()
      .filter((e) => e.process !== 'prometheus' && !/^metachat_(process|nodejs)_/.test(e.name))
      .map((e) => e.name);
    expect(platform.filter((name) => !read.has(name))).toEqual([]);
    for (const name of ['metachat_process_cpu_seconds_total', 'metachat_process_resident_memory_bytes', 'metachat_nodejs_eventloop_lag_p99_seconds', 'up']) {
      expect(read, name).toContain(name);
    }
  });

  describe('queries, parsed by promtool', () => {
    let scratch: string;
    let promtool: string;
    beforeAll(async () => {
      promtool = (await ensurePromtool()).path;
      scratch = mkdtempSync(join(tmpdir(), 'metachat-dashboard-'));
    }, 15 * 60_000);
    afterAll(() => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('are valid PromQL once Grafana has put in its variables', async () => {
      // What Grafana substitutes before it sends a query: a range for $__rate_interval, a regex for $tenant.
      const rules = targets.map((t, i) => ({ record: `dashboard:query_${i}`, expr: t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$tenant', '.*') }));
      writeFileSync(join(scratch, 'queries.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { stdout } = await run(promtool, ['check', 'rules', '--lint=none', 'queries.yml'], { cwd: scratch, timeout: 60_000 }).catch((err: Error & { stdout?: string }) => {
        throw new Error(`promtool refused a dashboard query:\n${err.stdout ?? ''}${err.message}`);
      });
      expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    });
  });
});
