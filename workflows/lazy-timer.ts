// One durable timer for all of a workflow's deadlines, moved only when a deadline comes earlier.
// `condition(fn, timeout)` starts a timer on every call and cancels it on every early wake-up:
// two history events per message for a deadline (idle close) that moves later with each one.
// This timer instead fires at the earliest deadline it was asked for; the workflow then looks at
// its real deadlines and asks again for the next one.
import { CancellationScope, sleep } from '@temporalio/workflow';

export class LazyTimer {
  /** When the armed timer fires (Infinity: none armed). */
  private at = Number.POSITIVE_INFINITY;
  private scope: CancellationScope | undefined;
  /** The armed timer fired and nobody has looked yet (see consume). */
  fired = false;

  /** Makes sure the workflow wakes up no later than `at` (epoch ms, workflow time). */
  ensure(at: number): void {
    if (!Number.isFinite(at) || at >= this.at) return;
    this.scope?.cancel();
    const scope = new CancellationScope();
    this.scope = scope;
    this.at = at;
    scope
      .run(() => sleep(Math.max(1, at - Date.now())))
      .then(
        () => {
          if (this.scope !== scope) return;
          this.scope = undefined;
          this.at = Number.POSITIVE_INFINITY;
          this.fired = true;
        },
        () => {}, // cancelled because an earlier deadline replaced it
      );
  }

  /** Whether the timer fired since the last call. */
  consume(): boolean {
    const fired = this.fired;
    this.fired = false;
    return fired;
  }
}
