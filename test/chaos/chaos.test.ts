// The bounded fault-injection run inside npm test (test/chaos/run.ts): its own stack, steady
// WhatsApp and web chat load, one SIGKILL each of the worker, the Temporal server and Postgres,
// and the accounting: nothing lost, nothing stored or answered twice. About 1.5 minutes; the
// CHAOS_* variables change its parameters (see test/chaos/options.ts), `npm run chaos` is the
// full run. The report goes to test-artifacts/chaos-<timestamp>.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions } from './options.ts';
import { killEverything } from './processes.ts';
import { BOUNDED_DEFAULTS, FAULT_KINDS, platformDuplicates, runChaos, timeBudgetMs } from './run.ts';

const options = resolveOptions(BOUNDED_DEFAULTS, [], process.env);

describe('fault injection (bounded run)', () => {
  // If the test process itself is told to stop, nothing the run started may outlive it.
  const stop = () => {
    killEverything();
    process.exit(130);
  };
  beforeAll(() => {
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  afterAll(() => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  });

  it('loses no message and sends no reply twice across worker, Temporal and Postgres kills', { timeout: timeBudgetMs(options) + 60_000 }, async () => {
    const result = await runChaos({ ...options, log: (m) => process.stdout.write(`[chaos] ${m}\n`) });
    process.stdout.write(`\n${result.report}\n[chaos] report written to ${result.reportPath}\n`);
    for (const kind of FAULT_KINDS) expect(result.kills[kind], `${kind} kills`).toBeGreaterThanOrEqual(1);
    expect(result.totals.sent).toBeGreaterThan(0);
    const t = result.totals;
    // A reply Meta accepted while the worker died before hearing so is sent again: the Graph API
    // has no idempotency key, so that window is reported (accepted-but-not-recorded) but not the
    // platform's duplicate. Every other second copy is.
    expect(
      { lost: t.lost, storedTwice: t.storedTwice, answeredTwice: t.answeredTwice - t.answeredTwiceGraphWindow, outboundRowsTwice: t.outboundRowsTwice },
      `see ${result.reportPath}${result.ok ? '' : ` and the run folder ${result.root}`}`,
    ).toEqual({ lost: 0, storedTwice: 0, answeredTwice: 0, outboundRowsTwice: 0 });
    expect(platformDuplicates(t)).toBe(0);
  });
});
