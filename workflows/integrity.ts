// `integrityCheck`: finds broken data (orphans, invalid statuses, missing indexes/constraints,
// duplicates, channels whose secrets are missing or do not decrypt, half-embedded documents,
// rows in default partitions, open conversations with no workflow) and stores a report in
// integrity_reports. A dry run (the default, and what the daily Schedule runs) changes nothing;
// with `apply: true` — an operator's explicit choice through the admin API — the fixable
// findings are fixed, each change audited as an `events` row, and the checks run again so the
// report says what is left.
import { proxyActivities, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { IntegrityFinding, IntegrityFixResult, IntegrityReportSummary } from '../activities/integrity.ts';

export type { IntegrityFinding, IntegrityFixResult, IntegrityReportSummary, Severity, StoredFinding } from '../activities/integrity.ts';

export interface IntegrityCheckInput {
  /** Apply the fixes; absent or false: dry run. */
  apply?: boolean;
  /** The report row to fill (the admin API creates it first); absent: a new one. */
  reportId?: string;
}

export function integrityCheckWorkflowId(reportId: string): string {
  return `integrity-check:${reportId}`;
}

const { beginIntegrityReport, collectIntegrityFindings, applyIntegrityFixes, completeIntegrityReport } = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 4 },
});

export async function integrityCheck(input: IntegrityCheckInput = {}): Promise<IntegrityReportSummary> {
  const reportId = input.reportId ?? uuid4();
  const dryRun = input.apply !== true;
  await beginIntegrityReport({ reportId, dryRun });

  let findings: IntegrityFinding[] = [];
  let fixes: IntegrityFixResult[] = [];
  let remaining: IntegrityFinding[] | undefined;
  try {
    findings = await collectIntegrityFindings();
    const fixable = findings.filter((f) => f.count > 0 && f.remediation.kind === 'fix').map((f) => f.check);
    if (!dryRun) {
      if (fixable.length) fixes = await applyIntegrityFixes({ reportId, checks: fixable });
      remaining = await collectIntegrityFindings();
    }
  } catch (err) {
    // The report says the run failed (without internals beyond the message), then the workflow fails.
    await completeIntegrityReport({ reportId, dryRun, findings, fixes, ...(remaining ? { remaining } : {}), error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  return completeIntegrityReport({ reportId, dryRun, findings, fixes, ...(remaining ? { remaining } : {}) });
}
