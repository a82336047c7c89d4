// An open-loop load generator: requests are sent at evenly spaced scheduled times whatever the
// server's answers do (as independent senders such as Meta's webhook deliveries behave), and each
// latency is measured from the request's SCHEDULED time, so a stalled server cannot hide its
// stalls by slowing the sender down (no coordinated omission). Keep-alive connections over
// node:http, at most `maxSockets` at once; requests beyond that wait and the wait counts.
import { Agent, request } from 'node:http';

export interface PacedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface PacedOptions {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  ratePerSecond: number;
  durationMs: number;
  /** Builds request i just before it is sent. */
  make: (i: number) => PacedRequest;
  /** Called with the request's index and scheduled send time (performance.now() clock). */
  onScheduled?: (i: number, scheduledAt: number) => void;
  maxSockets?: number;
  timeoutMs?: number;
}

export interface PacedResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  /** Latency from scheduled send to full response, 2xx only (ms). */
  latencies: number[];
  elapsedMs: number;
  achievedRate: number;
}

export async function pacedPost(options: PacedOptions): Promise<PacedResult> {
  const url = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  const total = Math.max(1, Math.round((options.ratePerSecond * options.durationMs) / 1000));
  const interval = 1000 / options.ratePerSecond;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();

  const fire = (i: number, scheduledAt: number) => {
    const req = options.make(i);
    options.onScheduled?.(i, scheduledAt);
    const done = new Promise<void>((resolve) => {
      const r = request(
        { host: url.hostname, port: url.port, path: req.path, method: 'POST', agent, headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) }, timeout: timeoutMs },
        (res) => {
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            statuses[code] = (statuses[code] ?? 0) + 1;
            if (code >= 200 && code < 300) {
              ok++;
              latencies.push(performance.now() - scheduledAt);
            } else failed++;
            resolve();
          });
          res.on('error', () => (failed++, resolve()));
        },
      );
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', (err) => {
        const key = `error:${(err as NodeJS.ErrnoException).code ?? err.message}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
        failed++;
        resolve();
      });
      r.end(req.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  while (sent < total) {
    const now = performance.now();
    // Send everything that is due (a late timer sends several at once, each keeps its schedule).
    while (sent < total && started + sent * interval <= now) {
      fire(sent, started + sent * interval);
      sent++;
    }
    if (sent >= total) break;
    const wait = started + sent * interval - performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(wait, 50))));
  }
  const sendingDone = performance.now();
  // Bounded: every request has its own timeout, and this wait has one too.
  await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, timeoutMs + 2_000))]);
  agent.destroy();
  const elapsedMs = sendingDone - started;
  return { sent, ok, failed, statuses, latencies, elapsedMs, achievedRate: (sent / Math.max(elapsedMs, 1)) * 1000 };
}
