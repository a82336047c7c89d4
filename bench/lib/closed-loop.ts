// A closed-loop load of new conversations: `concurrency` senders, each posting one new user's
// signed delivery and, once acknowledged, waiting for that user's reply at the fake Graph API
// before starting the next conversation. With enough senders the platform is saturated (every
// sender waits on it, none on itself), and the replies accepted per second over a steady window
// — after a warm-up that fills the pipeline — are its sustained throughput. Nothing queues up
// behind the load, so the phase ends as soon as the conversations in flight are answered, and
// every conversation is accounted for: answered, or lost after `replyTimeoutMs`.
import { Agent, request } from 'node:http';
import type { ReplyLog } from './replies.ts';
import { summarize, type Summary } from './stats.ts';

export interface ClosedLoopRequest {
  /** The end user the delivery is from (the reply goes to them). */
  user: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface ClosedLoopOptions {
  baseUrl: string;
  concurrency: number;
  warmupMs: number;
  steadyMs: number;
  make: (i: number) => ClosedLoopRequest;
  replies: ReplyLog;
  replyTimeoutMs: number;
}

export interface ClosedLoopResult {
  sent: number;
  /** Deliveries not acknowledged with a 2xx (their conversations may never start). */
  ackFailed: number;
  statuses: Record<string, number>;
  replied: number;
  /** Acknowledged conversations without a reply within replyTimeoutMs. */
  lost: string[];
  steadyMs: number;
  /** Replies accepted by the fake Graph API inside the steady window (whenever their conversation started). */
  steadyReplies: number;
  repliesPerSecond: number;
  /** Replies in each whole second of the steady window: min and max. */
  perSecond: { min: number; max: number };
  /** Send → reply of the conversations answered inside the steady window. */
  latency: Summary;
  ack: Summary;
  /** The samples behind latency and ack, so that rounds can be merged. */
  samples: { latencies: number[]; acks: number[] };
}

/** Several closed-loop rounds as one: counts added up, rates over the steady windows together. */
export function mergeClosedLoops(rounds: ClosedLoopResult[]): ClosedLoopResult {
  const sum = (f: (r: ClosedLoopResult) => number) => rounds.reduce((total, r) => total + f(r), 0);
  const latencies = rounds.flatMap((r) => r.samples.latencies);
  const acks = rounds.flatMap((r) => r.samples.acks);
  const statuses: Record<string, number> = {};
  for (const r of rounds) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const steadyMs = sum((r) => r.steadyMs);
  return {
    sent: sum((r) => r.sent),
    ackFailed: sum((r) => r.ackFailed),
    statuses,
    replied: sum((r) => r.replied),
    lost: rounds.flatMap((r) => r.lost),
    steadyMs,
    steadyReplies: sum((r) => r.steadyReplies),
    repliesPerSecond: sum((r) => r.steadyReplies) / (steadyMs / 1000),
    perSecond: { min: Math.min(...rounds.map((r) => r.perSecond.min)), max: Math.max(...rounds.map((r) => r.perSecond.max)) },
    latency: summarize(latencies),
    ack: summarize(acks),
    samples: { latencies, acks },
  };
}

export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const url = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const statuses: Record<string, number> = {};
  const lost: string[] = [];
  const latencies: number[] = [];
  const acks: number[] = [];
  const steadyAt: number[] = [];
  let sent = 0;
  let ackFailed = 0;
  let replied = 0;
  const started = performance.now();
  const windowStart = started + options.warmupMs;
  const windowEnd = windowStart + options.steadyMs;

  const post = (req: ClosedLoopRequest) =>
    new Promise<number | string>((resolve) => {
      const r = request(
        { host: url.hostname, port: url.port, path: req.path, method: 'POST', agent, headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) }, timeout: 10_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (err) => resolve(`error:${err.message}`));
        },
      );
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', (err) => resolve(`error:${(err as NodeJS.ErrnoException).code ?? err.message}`));
      r.end(req.body);
    });

  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < windowEnd) {
        const req = options.make(sent++);
        const sentAt = performance.now();
        const status = await post(req);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (typeof status !== 'number' || status < 200 || status >= 300) {
          ackFailed++;
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        acks.push(performance.now() - sentAt);
        const reply = await options.replies.wait(req.user, sentAt, options.replyTimeoutMs);
        if (!reply) {
          lost.push(req.user);
          continue;
        }
        replied++;
        if (reply.at >= windowStart && reply.at < windowEnd) {
          steadyAt.push(reply.at);
          latencies.push(reply.at - sentAt);
        }
      }
    }),
  );
  agent.destroy();

  const seconds = Math.floor(options.steadyMs / 1000);
  const buckets = Array.from({ length: Math.max(1, seconds) }, () => 0);
  for (const at of steadyAt) {
    const b = Math.floor((at - windowStart) / 1000);
    if (b < buckets.length) buckets[b]!++;
  }
  return {
    sent,
    ackFailed,
    statuses,
    replied,
    lost,
    steadyMs: options.steadyMs,
    steadyReplies: steadyAt.length,
    repliesPerSecond: steadyAt.length / (options.steadyMs / 1000),
    perSecond: { min: Math.min(...buckets), max: Math.max(...buckets) },
    latency: summarize(latencies),
    ack: summarize(acks),
    samples: { latencies, acks },
  };
}
