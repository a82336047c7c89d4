// What the fake Graph API accepted: every reply text, per recipient, with the moment it was
// accepted on both clocks the benchmark needs (performance.now() for latencies measured in this
// process, the wall clock for comparing with the event times of Temporal histories). Waiters
// resolve as soon as the text they wait for arrives, so closed-loop senders do not poll.
import type { FakeGraphApi } from '../../test/fakes/graph-api.ts';

export interface AcceptedText {
  /** performance.now() when the fake Graph API accepted it. */
  at: number;
  /** Date.now() at the same moment (server event times are wall-clock). */
  epoch: number;
}

export interface ReplyLog {
  /** The first text accepted for `user` at or after `since` (performance.now()), if any. */
  after(user: string, since?: number): AcceptedText | undefined;
  /** Resolves with the first text for `user` at or after `since`, or undefined after `timeoutMs`. */
  wait(user: string, since: number, timeoutMs: number): Promise<AcceptedText | undefined>;
  /** Every accepted text, in order (for counting replies in a time window). */
  readonly all: readonly (AcceptedText & { to: string })[];
}

export function trackReplies(graph: FakeGraphApi): ReplyLog {
  const byUser = new Map<string, AcceptedText[]>();
  const all: (AcceptedText & { to: string })[] = [];
  const waiters = new Map<string, Set<{ since: number; resolve: (t: AcceptedText) => void }>>();
  const delivered = graph.delivered;
  const push = delivered.push.bind(delivered);
  delivered.push = (...items) => {
    const at = performance.now();
    const epoch = Date.now();
    for (const item of items) {
      const accepted = { at, epoch };
      let list = byUser.get(item.to);
      if (!list) byUser.set(item.to, (list = []));
      list.push(accepted);
      all.push({ ...accepted, to: item.to });
      const waiting = waiters.get(item.to);
      if (waiting) {
        for (const w of waiting) {
          if (at >= w.since) {
            waiting.delete(w);
            w.resolve(accepted);
          }
        }
        if (waiting.size === 0) waiters.delete(item.to);
      }
    }
    return push(...items);
  };

  const after = (user: string, since = Number.NEGATIVE_INFINITY) => byUser.get(user)?.find((t) => t.at >= since);

  return {
    after,
    all,
    wait(user, since, timeoutMs) {
      const found = after(user, since);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const entry = {
          since,
          resolve: (t: AcceptedText) => {
            clearTimeout(timer);
            resolve(t);
          },
        };
        const timer = setTimeout(() => {
          waiters.get(user)?.delete(entry);
          resolve(undefined);
        }, timeoutMs);
        let set = waiters.get(user);
        if (!set) waiters.set(user, (set = new Set()));
        set.add(entry);
      });
    },
  };
}
