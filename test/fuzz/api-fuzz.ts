// The OpenAPI fuzzing of the whole API, in passes of one key each over a seeded tenant
// (test/fuzz/target.ts), with schemathesis (test/fuzz/schemathesis.ts); `npm run fuzz`
// (scripts/fuzz-api.ts) runs it at full size, test/api-schemathesis.test.ts bounded.
import type { Ids } from '../support/api-routes.ts';
import type { FuzzTarget, FuzzTenant } from './target.ts';
import { runSchemathesis, type Binding, type Finding, type Phase, type RunResult } from './schemathesis.ts';

/**
 * Revoking or rotating a key: once the fuzzer finds the id of the key it sends (the key list
 * shows it), every later request of its pass answers 401. They are left out of the tenant pass
 * and fuzzed in their own, with a key of their own and the key creation that gives them ids.
 */
const KEY_REVOKING = ['DELETE /api/v1/api-keys/{id}', 'POST /api/v1/api-keys/{id}/rotate'];

/**
 * The playground answers through a worker, which the fuzz target does not run: a valid question
 * waits out the turn's budget and answers 504 by design. The agent pass still reaches it (403);
 * its validation and answers are tested with a worker in test/playground-api.test.ts.
 */
export const NEEDS_WORKER = ['POST /api/v1/playground/messages'];
/** An event stream stays open until the client leaves: each call would only wait out the request timeout (test/api-fuzz.test.ts fuzzes it, test/inbox-api.test.ts reads it). */
export const ENDLESS = ['GET /api/v1/conversations/events'];

export interface Pass {
  name: string;
  /** What the pass is for, for the results. */
  scope: string;
  /** The key the pass sends, and the tenant whose ids it draws (see bindings). */
  credentials: (target: FuzzTarget) => Promise<{ key: string; ids: Ids }>;
  include?: string[];
  includePathRegex?: string;
  exclude?: string[];
}

/** In this order: the admin pass may delete tenants, so it comes last. */
export const PASSES: Pass[] = [
  {
    name: 'tenant',
    scope: 'every operation but the two below',
    credentials: async (t) => {
      const tenant = await t.seedTenant('FuzzTenant');
      tenantOfRevocationPass = tenant;
      return { key: tenant.tenantKey, ids: tenant.ids };
    },
    exclude: [...KEY_REVOKING, ...ENDLESS, ...NEEDS_WORKER],
  },
  {
    name: 'tenant, key revocation',
    scope: 'revoke and rotate a key, and create the keys they act on, with a key of their own',
    credentials: async (t) => {
      const tenant = tenantOfRevocationPass ?? (await t.seedTenant('FuzzRevocation'));
      return { key: await tenant.issueTenantKey('fuzz-revocation'), ids: tenant.ids };
    },
    include: [...KEY_REVOKING, 'POST /api/v1/api-keys/'],
  },
  {
    name: 'agent',
    scope: 'every operation but the event stream',
    credentials: async (t) => {
      const tenant = await t.seedTenant('FuzzAgent');
      return { key: tenant.agentKey, ids: tenant.ids };
    },
    exclude: ENDLESS,
  },
  {
    // The tenant and agent passes see these answer 401; this one reaches their handlers. The
    // other operations refuse the admin key (401) as they refuse any non-tenant key.
    name: 'admin',
    scope: 'the admin key\'s operations: tenants, integrity checks, the payload codec',
    credentials: async (t) => ({ key: t.adminKey, ids: (await t.seedTenant('FuzzAdmin')).ids }),
    includePathRegex: '^/(api/v1/(tenants|admin)|codec)/',
  },
];

/** The revocation pass revokes keys of the tenant pass's tenant (its keys are the ones in the key list). */
let tenantOfRevocationPass: FuzzTenant | undefined;

/**
 * Half of the ids in paths (and the agent in handoff bodies) are the pass's seeded tenant's, the
 * other half generated: without them, operations on one resource would mostly meet 404 and never
 * reach their handlers. Not for DELETE: the seeded rows stay for the other operations (the
 * stateful phase still deletes what the pass itself created).
 */
function bindings(ids: Ids): Binding[] {
  const half = (path: string, methods: string[], parameter: string, value: string): Binding => ({ path, methods, parameter, values: [value], probability: 0.5 });
  const conversation = '^/api/v1/conversations/\\{id\\}';
  return [
    half(`${conversation}(/messages)?$`, ['GET'], 'path.id', ids.conversationId),
    half(`${conversation}/handoff$`, ['POST'], 'path.id', ids.conversationId),
    half(`${conversation}/(take|release|messages)$`, ['POST'], 'path.id', ids.conversationId),
    half(`${conversation}/(take|release|messages)$`, ['POST'], 'body.agentId', 'agent-1'),
    half('^/api/v1/channels/\\{id\\}$', ['GET', 'PATCH'], 'path.id', ids.channelId),
    half('^/api/v1/documents/\\{id\\}', ['GET', 'POST'], 'path.id', ids.documentId),
    half('^/api/v1/functions/\\{id\\}$', ['GET', 'PATCH'], 'path.id', ids.functionId),
    half('^/api/v1/webhook-endpoints/\\{id\\}', ['GET', 'PATCH', 'POST'], 'path.id', ids.webhookEndpointId),
    half('^/api/v1/webhook-deliveries/\\{id\\}', ['GET', 'POST'], 'path.id', ids.webhookDeliveryId),
    half('^/api/v1/end-users/', ['GET'], 'path.channel', 'whatsapp'),
    half('^/api/v1/end-users/', ['GET'], 'path.externalUserId', ids.externalUserId),
    half('^/api/v1/api-keys/\\{id\\}', ['POST'], 'path.id', ids.apiKeyId),
    half('^/api/v1/tenants/\\{id\\}$', ['GET', 'PATCH'], 'path.id', ids.tenantId),
    // A range the routes accept (from before to, at most their span), a quarter of the time.
    half('^/api/v1/(usage|analytics)/$', ['GET'], 'query.from', '2025-01-01'),
    half('^/api/v1/(usage|analytics)/$', ['GET'], 'query.to', '2025-02-01'),
  ];
}

/**
 * Findings in the web chat's routes (api/webchat/), which are changed elsewhere: reported to
 * their owner, listed in every result as reported, and not failing a run. Only these exact
 * findings: anything else there fails as everywhere. Remove an entry once its route answers as
 * documented (a run says when one is no longer found).
 */
export const REPORTED: { operation: string; failure: string; message: RegExp; why: string }[] = [];

const reportedEntry = (f: Finding) => REPORTED.find((r) => r.operation === f.operation && r.failure === f.failure && r.message.test(f.message));

/** A pass's schema violations, less the REPORTED ones. */
export const violationsToFix = (r: RunResult) => r.violations.filter((f) => !reportedEntry(f));

/** REPORTED entries no pass found (fixed: remove them). */
export const reportedNotFound = (reports: PassReport[]) =>
  REPORTED.filter((entry) => !reports.some(({ result }) => result.violations.some((f) => reportedEntry(f) === entry)));

export interface FuzzOptions {
  maxExamples: number;
  seed: number;
  /** Each pass's CLI is ended after this long. */
  passTimeoutMs: number;
  /** The phases of the passes named here (all phases for the others). */
  phases?: Record<string, Phase[]>;
  log?: (line: string) => void;
}

export interface PassReport {
  pass: Pass;
  result: RunResult;
}

export async function fuzzApi(target: FuzzTarget, cli: string, options: FuzzOptions): Promise<PassReport[]> {
  const reports: PassReport[] = [];
  for (const pass of PASSES) {
    options.log?.(`pass "${pass.name}": ${pass.scope}…`);
    const { key, ids } = await pass.credentials(target);
    const result = await runSchemathesis({
      cli,
      schemaUrl: `${target.url}/docs/json`,
      key,
      bindings: bindings(ids),
      maxExamples: options.maxExamples,
      seed: options.seed,
      timeoutMs: options.passTimeoutMs,
      ...(pass.include && { include: pass.include }),
      ...(pass.includePathRegex && { includePathRegex: pass.includePathRegex }),
      ...(pass.exclude && { exclude: pass.exclude }),
      ...(options.phases?.[pass.name] && { phases: options.phases[pass.name] }),
    });
    options.log?.(`pass "${pass.name}": ${result.operations} operations, ${result.requests} requests, ${countServerErrors(result)} 5xx, ${violationsToFix(result).length} schema violations, ${result.violations.length - violationsToFix(result).length} reported (${result.seconds.toFixed(0)} s)`);
    reports.push({ pass, result });
  }
  return reports;
}

export const countServerErrors = (r: RunResult) => [...r.serverErrors.values()].reduce((a, b) => a + b, 0);

/** Nothing to fix: no 5xx, no conformance failure but the REPORTED ones, no error of the CLI's own. */
export const clean = (reports: PassReport[]) =>
  reports.every(({ result: r }) => countServerErrors(r) === 0 && r.serverErrorFindings.length === 0 && violationsToFix(r).length === 0 && r.errors.length === 0);

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, '; ');

/** The results table per key, then every finding (5xx and schema violations) by operation. */
export function formatResults(reports: PassReport[]): string {
  const lines = [
    '| pass (key) | operations | requests | 5xx | schema violations | reported (web chat) | seconds |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...reports.map(({ pass, result: r }) =>
      `| ${pass.name} | ${r.operations} | ${r.requests} | ${countServerErrors(r)} | ${violationsToFix(r).length} | ${r.violations.length - violationsToFix(r).length} | ${r.seconds.toFixed(0)} |`),
  ];
  for (const { pass, result: r } of reports) {
    const found = [
      ...[...r.serverErrors].map(([op, n]) => `- 5xx: \`${op}\` answered ${n} request(s) with a 5xx`),
      ...r.serverErrorFindings.map((f) => `- 5xx: \`${f.operation}\` ${f.failure}: ${cell(f.message)}`),
      ...r.violations.map((f) => `- ${reportedEntry(f) ? 'reported' : 'schema'}: \`${f.operation}\` ${f.failure}: ${cell(f.message)}`),
      ...r.errors.map((e) => `- error: ${cell(e)}`),
    ];
    if (found.length) lines.push('', `Pass "${pass.name}":`, ...found);
  }
  lines.push('', 'Reported, not fixed here (api/webchat/ is changed elsewhere):', ...REPORTED.map((r) => `- \`${r.operation}\` ${r.failure}: ${r.why}`));
  const gone = reportedNotFound(reports);
  if (gone.length) lines.push('', 'No longer found (remove from REPORTED in test/fuzz/api-fuzz.ts):', ...gone.map((r) => `- \`${r.operation}\` ${r.failure}`));
  return lines.join('\n');
}

/** Every operation of the API's OpenAPI document, by name ("GET /api/v1/channels/"). */
export async function documentedOperations(target: FuzzTarget): Promise<string[]> {
  const spec = (await (await fetch(`${target.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
}

/**
 * Per documented operation and pass, the answers by status class: which operations the fuzzing
 * got past validation and lookup. (The CLI also sends undocumented methods to each path: not shown.)
 */
export function formatOperations(reports: PassReport[], documented: string[]): string {
  const operations = [...documented].sort();
  const cellOf = (counts: Map<number, number> | undefined) => {
    if (!counts) return '';
    const classes = new Map<string, number>();
    for (const [status, n] of counts) {
      const c = status === 0 ? 'none' : `${Math.floor(status / 100)}xx`;
      classes.set(c, (classes.get(c) ?? 0) + n);
    }
    return [...classes].sort().map(([c, n]) => `${c} ${n}`).join(', ');
  };
  return [
    `| operation | ${reports.map(({ pass }) => pass.name).join(' | ')} |`,
    `| --- |${reports.map(() => ' --- |').join('')}`,
    ...operations.map((op) => `| \`${op}\` | ${reports.map(({ result }) => cellOf(result.statuses.get(op))).join(' | ')} |`),
  ].join('\n');
}
