// One schemathesis run against the API's OpenAPI document, and what it found: the CLI generates
// requests from the document (its coverage phase: boundary and missing values; fuzzing: random
// valid and invalid ones; stateful: ids that one response gave to the next request) and checks
// every answer against the document. Its NDJSON report holds every request and every check; this
// module counts them: requests, 5xx answers, and conformance failures (an undocumented status,
// content type or body shape), each with the CLI's curl reproduction from its own output.
import { execFile } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The CLI's checks: no 5xx, and statuses, content types and bodies as documented. */
export const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'] as const;

export interface SchemathesisRun {
  /** Path of the `schemathesis` executable (scripts/provision/tools.ts ensureSchemathesis). */
  cli: string;
  /** The OpenAPI document's URL, e.g. http://127.0.0.1:PORT/docs/json (its servers: the same origin). */
  schemaUrl: string;
  /** Sent as `Authorization: Bearer …` with every request. */
  key: string;
  /** Test cases per operation and phase (`--max-examples`). */
  maxExamples: number;
  seed: number;
  /** Operations by name ("POST /api/v1/api-keys/"): only these, when given. */
  include?: string[];
  /** Operations whose path matches: only these, when given. */
  includePathRegex?: string;
  /** Operations by name left out of this run (another run covers them). */
  exclude?: string[];
  /**
   * Values drawn for parameters with a probability (the rest is generated as usual), so that
   * operations on one resource reach their handlers with ids that exist, e.g.
   * `{ path: '^/api/v1/conversations/\\{id\\}', parameter: 'path.id', values: [id], probability: 0.5 }`.
   */
  bindings?: Binding[];
  /** Ends the CLI after this long, whatever it is doing. */
  timeoutMs: number;
  /** Only these phases (`--phases`); all of them when absent. */
  phases?: Phase[];
}

export type Phase = 'examples' | 'coverage' | 'fuzzing' | 'stateful';

export interface Binding {
  /** A regular expression over the operation's path; operations match one binding path at most. */
  path: string;
  /** Location and name, e.g. `path.id`, `body.agentId`. */
  parameter: string;
  values: string[];
  probability: number;
  /** Only operations of these methods. */
  methods: string[];
}

/** The CLI's configuration file (schemathesis.toml): a dictionary per binding, one operations entry per path and methods. */
function configFile(bindings: Binding[]): string {
  const q = (v: string) => JSON.stringify(v); // a TOML basic string is a JSON string
  const dictionaries = bindings.flatMap((b, i) => [`[dictionaries.binding${i}]`, `values = [${b.values.map(q).join(', ')}]`, '']);
  const groups = new Map<string, { path: string; methods: string[]; parameters: string[] }>();
  bindings.forEach((b, i) => {
    const id = `${b.path} ${b.methods.join(',')}`;
    const group = groups.get(id) ?? { path: b.path, methods: b.methods, parameters: [] };
    group.parameters.push(`${q(b.parameter)} = { dictionary = "binding${i}", probability = ${b.probability} }`);
    groups.set(id, group);
  });
  const operations = [...groups.values()].flatMap((g) => [
    '[[operations]]',
    `include-path-regex = ${q(g.path)}`,
    `include-method = [${g.methods.map(q).join(', ')}]`,
    `parameters = { ${g.parameters.join(', ')} }`,
    '',
  ]);
  return [...dictionaries, ...operations].join('\n');
}

export interface Finding {
  operation: string;
  /** The schemathesis failure code and title, e.g. "ST103 Undocumented status code". */
  failure: string;
  message: string;
}

export interface RunResult {
  operations: number;
  /** The operations that got requests, by name ("GET /api/v1/channels/"). */
  tested: Set<string>;
  requests: number;
  /** Answers by operation and status. */
  statuses: Map<string, Map<number, number>>;
  /** Requests answered with a 5xx, by operation. */
  serverErrors: Map<string, number>;
  /** Conformance failures (every check but not_a_server_error), one per operation and failure. */
  violations: Finding[];
  /** Failures of not_a_server_error, e.g. "ST102 Server error on undeclared request Content-Type". */
  serverErrorFindings: Finding[];
  /** Errors the CLI itself met (an operation it could not test, a network error). */
  errors: string[];
  /** The CLI's output from its FAILURES section on: what failed, with curl reproductions. */
  failureReport: string;
  exitCode: number;
  seconds: number;
}

interface Interaction {
  response?: { status_code?: number } | null;
}
interface CheckRecord {
  name: string;
  status: string;
  failure_info?: { failure?: { code?: string; title?: string; operation?: string; message?: string } };
}
interface Recorder {
  /** The operation, or "Stateful tests" for a sequence across operations. */
  label: string;
  /** By case id, as the interactions and checks are: the operation each request went to. */
  cases?: Record<string, { value?: { method?: string; path?: string } }>;
  interactions?: Record<string, Interaction>;
  checks?: Record<string, CheckRecord[]>;
}

export async function runSchemathesis(run: SchemathesisRun): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'metachat-schemathesis-'));
  const ndjson = join(dir, 'events.ndjson');
  const config = join(dir, 'schemathesis.toml');
  writeFileSync(config, configFile(run.bindings ?? []));
  const args = [
    '--config-file', config,
    'run', run.schemaUrl,
    '--header', `Authorization: Bearer ${run.key}`,
    '--checks', CHECKS.join(','),
    '--max-examples', String(run.maxExamples),
    '--seed', String(run.seed),
    // No example database: a run replays nothing a previous run found, so a seed means one run.
    '--generation-database', 'none',
    // One request at a time: a fixed order for the seed, and the cores left to the API.
    '--workers', '1',
    '--request-timeout', '30',
    '--no-color',
    '--report', 'ndjson', '--report-ndjson-path', ndjson,
    ...(run.include ?? []).flatMap((name) => ['--include-name', name]),
    ...(run.includePathRegex ? ['--include-path-regex', run.includePathRegex] : []),
    ...(run.exclude ?? []).flatMap((name) => ['--exclude-name', name]),
    ...(run.phases ? ['--phases', run.phases.join(',')] : []),
  ];
  const started = performance.now();
  try {
    const { stdout, exitCode } = await new Promise<{ stdout: string; exitCode: number }>((resolve, reject) => {
      execFile(run.cli, args, { cwd: dir, timeout: run.timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        // 1 means "found failures"; anything else without a report is the CLI failing.
        if (err && code !== 1 && !stdout.includes('SUMMARY')) reject(new Error(`schemathesis failed (${err.message}):\n${stdout}\n${stderr}`));
        else resolve({ stdout: `${stdout}${stderr}`, exitCode: code });
      });
    });
    return { ...(await readReport(ndjson)), failureReport: failureSection(stdout), exitCode, seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readReport(path: string): Promise<Omit<RunResult, 'failureReport' | 'exitCode' | 'seconds'>> {
  const result = { operations: 0, tested: new Set<string>(), requests: 0, statuses: new Map<string, Map<number, number>>(), serverErrors: new Map<string, number>(), violations: [] as Finding[], serverErrorFindings: [] as Finding[], errors: [] as string[] };
  const seen = new Set<string>();
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const event = JSON.parse(line) as Record<string, Record<string, unknown>>;
    if (event.LoadingFinished) {
      result.operations = (event.LoadingFinished.statistic as { operations: { selected: number } }).operations.selected;
    } else if (event.NonFatalError) {
      result.errors.push(`${String(event.NonFatalError.label ?? '')}: ${JSON.stringify(event.NonFatalError.info ?? event.NonFatalError.value ?? '').slice(0, 500)}`);
    } else if (event.FatalError) {
      result.errors.push(`fatal: ${JSON.stringify(event.FatalError).slice(0, 1000)}`);
    } else if (event.ScenarioFinished) {
      const recorder = event.ScenarioFinished.recorder as Recorder;
      for (const c of Object.values(recorder.cases ?? {})) if (c.value?.method && c.value.path) result.tested.add(`${c.value.method} ${c.value.path}`);
      for (const [id, interaction] of Object.entries(recorder.interactions ?? {})) {
        result.requests++;
        const request = recorder.cases?.[id]?.value;
        const operation = request?.method && request.path ? `${request.method} ${request.path}` : recorder.label;
        const status = interaction.response?.status_code ?? 0;
        const counts = result.statuses.get(operation) ?? new Map<number, number>();
        counts.set(status, (counts.get(status) ?? 0) + 1);
        result.statuses.set(operation, counts);
        if (status >= 500) result.serverErrors.set(operation, (result.serverErrors.get(operation) ?? 0) + 1);
      }
      for (const checks of Object.values(recorder.checks ?? {})) {
        for (const check of checks) {
          const failure = check.failure_info?.failure;
          if (check.status !== 'failure' || !failure) continue;
          const finding = { operation: failure.operation ?? recorder.label, failure: `${failure.code ?? '?'} ${failure.title ?? check.name}`, message: failure.message ?? '' };
          const id = `${finding.operation}\n${finding.failure}\n${finding.message}`;
          if (seen.has(id)) continue;
          seen.add(id);
          (check.name === 'not_a_server_error' ? result.serverErrorFindings : result.violations).push(finding);
        }
      }
    }
  }
  return result;
}

/** The CLI's FAILURES (with curl reproductions), ERRORS and WARNINGS sections, up to its SUMMARY. */
function failureSection(stdout: string): string {
  const start = stdout.search(/^=+ (FAILURES|ERRORS) =+$/m);
  const end = stdout.search(/^=+ SUMMARY =+$/m);
  return start < 0 ? '' : stdout.slice(start, end < 0 ? undefined : end).trim();
}
