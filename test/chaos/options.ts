// Parameters of a fault-injection run: `--name=value` flags (npm run chaos -- --duration=300) or
// CHAOS_* environment variables (both modes; flags win), over the defaults of the mode.
import type { ChaosOptions, FaultKind } from './run.ts';

type Settable = Omit<ChaosOptions, 'log' | 'signal' | 'kills' | 'mode'>;

interface Parameter {
  flag: string;
  env: string;
  help: string;
  set(o: Omit<ChaosOptions, 'log'>, raw: string): void;
}

const num = (raw: string, name: string, min = 0): number => {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name} must be a number ≥ ${min}, got "${raw}"`);
  return v;
};
const seconds = (key: keyof Settable, flag: string, help: string): Parameter => ({
  flag, env: `CHAOS_${flag.toUpperCase().replace(/-/g, '_')}_S`, help: `${help} (seconds)`,
  set: (o, raw) => ((o[key] as number) = Math.round(num(raw, flag) * 1000)),
});
const millis = (key: keyof Settable, flag: string, help: string): Parameter => ({
  flag, env: `CHAOS_${flag.toUpperCase().replace(/-/g, '_')}`, help,
  set: (o, raw) => ((o[key] as number) = Math.round(num(raw, flag))),
});
const integer = (key: keyof Settable, flag: string, help: string): Parameter => ({
  flag, env: `CHAOS_${flag.toUpperCase().replace(/-/g, '_')}`, help,
  set: (o, raw) => ((o[key] as number) = Math.round(num(raw, flag))),
});
const kills = (kind: FaultKind): Parameter => ({
  flag: `kills-${kind}`, env: `CHAOS_KILLS_${kind.toUpperCase()}`, help: `SIGKILLs of the ${kind === 'temporal' ? 'Temporal server' : kind === 'postgres' ? 'Postgres server' : 'worker'}`,
  set: (o, raw) => (o.kills = { ...o.kills, [kind]: Math.round(num(raw, `kills-${kind}`)) }),
});

export const PARAMETERS: Parameter[] = [
  seconds('durationMs', 'duration', 'load phase; the faults are spread over it'),
  integer('whatsappUsers', 'whatsapp-users', 'WhatsApp users sending'),
  integer('webchatVisitors', 'webchat-visitors', 'web chat visitors sending'),
  kills('worker'),
  kills('temporal'),
  kills('postgres'),
  { flag: 'kills', env: 'CHAOS_KILLS', help: 'kills of each kind (sets all three)', set: (o, raw) => (o.kills = { worker: num(raw, 'kills'), temporal: num(raw, 'kills'), postgres: num(raw, 'kills') }) },
  millis('downtimeMinMs', 'downtime-min-ms', 'shortest downtime of a killed server (ms)'),
  millis('downtimeMaxMs', 'downtime-max-ms', 'longest downtime of a killed server (ms)'),
  millis('thinkMs', 'think-ms', 'pause between an answer and the next message, ±50 % (ms): sets the rate'),
  millis('replyTimeoutMs', 'reply-timeout-ms', 'a user sends the next message after this long without an answer (ms)'),
  millis('attemptTimeoutMs', 'attempt-timeout-ms', 'a delivery / acknowledgement not answered within this is retried (ms)'),
  {
    flag: 'duplicate-rate', env: 'CHAOS_DUPLICATE_RATE', help: 'share of acknowledged WhatsApp deliveries redelivered anyway (0–1)',
    set: (o, raw) => {
      o.duplicateRate = num(raw, 'duplicate-rate');
      if (o.duplicateRate > 1) throw new Error('duplicate-rate must be at most 1');
    },
  },
  millis('graphLatencyMs', 'graph-latency-ms', "the fake Graph API answers this long after accepting a send (Meta's round trip, ms)"),
  millis('llmLatencyMinMs', 'llm-latency-min-ms', "the fake model's shortest time to answer (ms)"),
  millis('llmLatencyMaxMs', 'llm-latency-max-ms', "the fake model's longest time to answer (ms)"),
  seconds('drainMs', 'drain', 'after the load, at most this long for the last answers'),
  seconds('settleMs', 'settle', 'after the drain, time for late duplicates'),
  seconds('recoveryMs', 'recovery', 'time the API and worker get to recover by themselves after a fault'),
  integer('suggestContinueAsNewAfter', 'continue-as-new-after', 'the Temporal server suggests continue-as-new after this many events (0: its default)'),
  {
    flag: 'source', env: 'CHAOS_SOURCE', help: 'code the API and worker run: worktree (a copy taken at the start), head, or a git revision',
    set: (o, raw) => {
      if (!raw) throw new Error('source must be worktree, head or a git revision');
      o.source = raw;
    },
  },
  { flag: 'log-level', env: 'CHAOS_LOG_LEVEL', help: 'log level of the API and worker processes', set: (o, raw) => (o.logLevel = raw) },
  { flag: 'keep', env: 'CHAOS_KEEP', help: 'keep the run folder even when the run passes (1/true)', set: (o, raw) => (o.keep = raw === '' || /^(1|true|yes)$/i.test(raw)) },
  { flag: 'artifact-dir', env: 'CHAOS_ARTIFACT_DIR', help: 'where the report is written', set: (o, raw) => (o.artifactDir = raw) },
];

/** The defaults, then CHAOS_* variables, then flags. Unknown flags are an error. */
export function resolveOptions(defaults: Omit<ChaosOptions, 'log'>, argv: string[], env: NodeJS.ProcessEnv): Omit<ChaosOptions, 'log'> {
  const o: Omit<ChaosOptions, 'log'> = { ...defaults, kills: { ...defaults.kills } };
  for (const p of PARAMETERS) {
    const raw = env[p.env];
    if (raw !== undefined && raw !== '') p.set(o, raw);
  }
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const p = match && PARAMETERS.find((x) => x.flag === match[1]);
    if (!match || !p) throw new Error(`unknown argument "${arg}"; try --help`);
    p.set(o, match[2] ?? '');
  }
  if (o.downtimeMaxMs < o.downtimeMinMs) o.downtimeMaxMs = o.downtimeMinMs;
  if (o.llmLatencyMaxMs < o.llmLatencyMinMs) o.llmLatencyMaxMs = o.llmLatencyMinMs;
  return o;
}

export function usage(): string {
  return [
    'npm run chaos [-- --bounded] [-- --name=value …]',
    '',
    '  --bounded                 the short run of npm test (one kill of each kind) instead of the full one',
    ...PARAMETERS.map((p) => `  --${`${p.flag}=…`.padEnd(24)} ${p.help}  [${p.env}]`),
  ].join('\n');
}
