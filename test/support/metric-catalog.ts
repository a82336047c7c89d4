// The metric catalog (observability/metrics.json) and the series and labels a PromQL expression
// reads. The reader below is not a PromQL parser: the expressions are this repository's own
// (alerts.yml, the dashboard), promtool's real parser checks their syntax (test/alert-rules.test.ts,
// test/dashboard.test.ts), and all that is needed here is the names in them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../scripts/provision/tools.ts';

export interface CatalogEntry {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Who exposes it: api, worker, both, or prometheus (Prometheus's own series). */
  process: 'api' | 'worker' | 'both' | 'prometheus';
  labels: string[];
}

export const CATALOG_PATH = join(PROJECT_ROOT, 'observability', 'metrics.json');

/** Labels the scrape config (or Prometheus) puts on every scraped series. */
const TARGET_LABELS = ['job', 'instance', 'service'];

interface Catalog {
  /** The alert names of observability/prometheus/alerts.yml (the README's runbook headings). */
  alerts: string[];
  series: CatalogEntry[];
}

const readCatalog = (): Catalog => JSON.parse(readFileSync(CATALOG_PATH, 'utf8')) as Catalog;

export function loadCatalog(): CatalogEntry[] {
  return readCatalog().series;
}

export function catalogAlerts(): string[] {
  return readCatalog().alerts;
}

/** Every series name a query may read, with the labels it carries (histograms as their three series). */
export function catalogSeries(entries: CatalogEntry[] = loadCatalog()): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const entry of entries) {
    const labels = [...entry.labels, ...TARGET_LABELS];
    if (entry.type === 'histogram') {
      series.set(`${entry.name}_bucket`, new Set([...labels, 'le']));
      series.set(`${entry.name}_sum`, new Set(labels));
      series.set(`${entry.name}_count`, new Set(labels));
    } else {
      series.set(entry.name, new Set(labels));
    }
  }
  return series;
}

export interface Selector {
  name: string;
  labels: string[];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);

const withoutStrings = (expr: string) => expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');

/** The series selectors of an expression: metric names with the label names they match on. */
export function selectorsIn(expr: string): Selector[] {
  const text = withoutStrings(expr).replace(/\[[^\]]*\]/g, ' ');
  const selectors: Selector[] = [];
  // An identifier not preceded by a digit or dot (durations, numbers) nor followed by "(" (a
  // function or a grouping clause), with its optional {matchers}.
  const identifier = /(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  const grouping = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;
  for (const match of text.replace(grouping, ' ').matchAll(identifier)) {
    const [, name = '', matchers, call] = match;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    const labels = [...(matchers ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] ?? '');
    selectors.push({ name, labels });
  }
  return selectors;
}

/** Label names of the by/without/on/ignoring/group_* clauses of an expression. */
export function groupingLabelsIn(expr: string): string[] {
  const text = withoutStrings(expr);
  return [...text.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] ?? '').split(',').map((l) => l.trim()).filter(Boolean),
  );
}

/**
 * What an expression reads that the catalog does not have: unknown series, labels a selector
 * matches that its series lacks, and grouping labels none of the expression's series carries.
 */
export function catalogProblems(expr: string, series: Map<string, Set<string>> = catalogSeries()): string[] {
  const problems: string[] = [];
  const selectors = selectorsIn(expr);
  if (selectors.length === 0) problems.push(`reads no series: ${expr}`);
  for (const { name, labels } of selectors) {
    const known = series.get(name);
    if (!known) {
      problems.push(`series ${name} is not in the catalog`);
      continue;
    }
    for (const label of labels) if (!known.has(label)) problems.push(`series ${name} has no label ${label}`);
  }
  const available = new Set(selectors.flatMap(({ name }) => [...(series.get(name) ?? [])]));
  for (const label of groupingLabelsIn(expr)) if (!available.has(label)) problems.push(`no series of the expression has label ${label}: ${expr}`);
  return problems;
}
