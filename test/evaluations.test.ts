// Evaluations end to end: cases through the API, runs through the real ingestion worker on the
// Temporal dev server (each case asked by the playground workflow with the offline local provider,
// retrieval over the tenant's documents), deterministic scores, the comparison with the
// previous run, and the automatic runs after a document deletion and a settings change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATION_REQUEST_SIGNAL, EVALUATION_SCHEDULER_WORKFLOW } from '../lib/evaluation-requests.ts';
import { evaluationRequested, evaluationScheduler } from '../workflows/evaluation.ts';
import { eventually } from './support/conversations.ts';
import { createDocumentsRig, seedReadyDocument, type DocumentsRig } from './support/documents.ts';

const RETURNS = 'Returns are accepted within 30 days of delivery. Refunds go back to the original payment method.';
const SHIPPING = 'Parcels are shipped with DHL. Delivery takes 2 to 4 working days within Germany.';

interface Run {
  id: string;
  status: string;
  trigger: string;
  settingsVersion: number;
  previousRunId: string | null;
  casesTotal: number;
  casesPassed: number;
  groundedness: number | null;
  citationCorrectness: number | null;
  refusalAccuracy: number | null;
  regressions: number;
  results: { caseId: string; passed: boolean; declined: boolean; regressed: boolean; groundedness: number | null; citationCorrectness: number | null; answer: string; citedPassages: { title: string; content: string }[]; latencyMs: number; previous: { passed: boolean } | null }[];
  comparison: { previousRunId: string; passedBefore: number; passedNow: number; regressed: string[]; improved: string[] } | null;
}

describe('evaluations', () => {
  let rig: DocumentsRig;
  let key: string;
  let shippingDocumentId: string;
  const cases: Record<'returns' | 'shipping' | 'refusal', string> = { returns: '', shipping: '', refusal: '' };
  const runIds: string[] = [];

  beforeAll(async () => {
    rig = await createDocumentsRig('evaluations', { EVALUATION_QUIET_SECONDS: '1' });
    let tenantId: string;
    ({ key, tenantId } = await rig.tenant({ llm: { provider: 'local' } }));
    // Written as ingestion leaves them, before any case exists (a ready document asks for a run).
    await seedReadyDocument(rig.db, tenantId, { key: 'returns', title: 'Returns policy', content: RETURNS });
    await seedReadyDocument(rig.db, tenantId, { key: 'shipping', title: 'Shipping', content: SHIPPING });
    shippingDocumentId = (await rig.db.document.findFirstOrThrow({ where: { tenantId, documentKey: 'shipping' } })).id;
  }, 90_000);
  afterAll(() => rig?.close());

  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => rig.api(key, method, `/api/v1/evaluations${url}`, body);
  const getRun = async (id: string) => (await api('GET', `/runs/${id}`)).json() as Run;
  /** The newest run that is not one of `known`, once it has finished. */
  const nextFinishedRun = (what: string) =>
    eventually(async () => {
      const { items } = (await api('GET', '/runs')).json() as { items: Run[] };
      const run = items.find((r) => !runIds.includes(r.id) && r.status !== 'running');
      return run && (runIds.push(run.id), getRun(run.id));
    }, 60_000, what);

  it('keeps cases with expected facts or an expected refusal, and refuses neither, both, or an empty question', async () => {
    for (const body of [{ question: 'Anything?' }, { question: 'Both?', expectedFacts: ['x'], expectRefusal: true }, { question: '  ', expectedFacts: ['x'] }, { question: 'Blank fact?', expectedFacts: [''] }]) {
      const res = await api('POST', '/cases', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('validation_error');
    }
    const created = await api('POST', '/cases', { question: 'Draft', expectedFacts: ['draft'] });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json() as { id: string };
    for (const body of [{ expectRefusal: false }, { expectedFacts: [] }, { expectedFacts: ['x'], expectRefusal: true }]) {
      expect((await api('PATCH', `/cases/${id}`, body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    // Expecting a refusal drops the facts; the question alone keeps the expectation.
    expect((await api('PATCH', `/cases/${id}`, { expectRefusal: true })).json()).toMatchObject({ id, question: 'Draft', expectedFacts: [], expectRefusal: true });
    expect((await api('PATCH', `/cases/${id}`, { question: 'Draft 2' })).json()).toMatchObject({ question: 'Draft 2', expectedFacts: [], expectRefusal: true });
    expect((await api('PATCH', `/cases/${id}`, { expectedFacts: ['draft'] })).json()).toMatchObject({ expectedFacts: ['draft'], expectRefusal: false });
    expect((await api('DELETE', `/cases/${id}`)).statusCode).toBe(204);
    expect((await api('GET', `/cases/${id}`)).statusCode).toBe(404);
    expect((await api('POST', '/runs')).json().error.code).toBe('no_cases');
  });

  it('scores a run: the fact in a document is answered and cited, the question no document covers is declined; one run at a time', async () => {
    const add = async (body: object) => ((await api('POST', '/cases', body)).json() as { id: string }).id;
    cases.returns = await add({ question: 'How many days do I have for returns?', expectedFacts: ['30 days'] });
    cases.shipping = await add({ question: 'How are parcels shipped?', expectedFacts: ['DHL'] });
    cases.refusal = await add({ question: 'What is the capital of Peru?', expectRefusal: true });

    const starts = await Promise.all([api('POST', '/runs'), api('POST', '/runs')]);
    expect(starts.map((r) => r.statusCode).sort()).toEqual([202, 409]);
    const started = starts.find((r) => r.statusCode === 202)!.json() as Run;
    expect(starts.find((r) => r.statusCode === 409)!.json().error).toMatchObject({ code: 'evaluation_running', details: { runId: started.id } });
    expect(started).toMatchObject({ status: 'running', trigger: 'manual' });

    const run = await nextFinishedRun('the manual run');
    expect(run.id).toBe(started.id);
    expect(run).toMatchObject({ status: 'finished', casesTotal: 3, casesPassed: 3, groundedness: 1, citationCorrectness: 1, refusalAccuracy: 1, regressions: 0, previousRunId: null, comparison: null });
    const byCase = new Map(run.results.map((r) => [r.caseId, r]));
    expect(byCase.get(cases.returns)).toMatchObject({ passed: true, declined: false, groundedness: 1, citedPassages: [{ title: 'Returns policy', content: RETURNS }] });
    expect(byCase.get(cases.returns)!.answer).toContain('30 days');
    expect(byCase.get(cases.refusal)).toMatchObject({ passed: true, declined: true, groundedness: null, citedPassages: [] });
    expect(run.results.every((r) => r.latencyMs >= 0 && r.previous === null)).toBe(true);
  });

  it('runs by itself after a document is deleted, and flags the case that passed before and fails now', async () => {
    expect((await rig.api(key, 'DELETE', `/api/v1/documents/${shippingDocumentId}`)).statusCode).toBe(204);
    const run = await nextFinishedRun('the run after the deletion');
    expect(run).toMatchObject({ trigger: 'documents_changed', status: 'finished', previousRunId: runIds[0], casesPassed: 2, regressions: 1 });
    expect(run.comparison).toEqual({ previousRunId: runIds[0], passedBefore: 3, passedNow: 2, regressed: [cases.shipping], improved: [] });
    const shipping = run.results.find((r) => r.caseId === cases.shipping)!;
    expect(shipping).toMatchObject({ passed: false, regressed: true, previous: { passed: true } });
    expect(run.results.filter((r) => r.regressed)).toHaveLength(1);
  });

  it('runs by itself after a settings change, with the new settings version', async () => {
    const res = await rig.patchSettings(key, { llm: { unavailableMessage: 'One moment, a colleague will answer.' } });
    expect(res.statusCode, res.body).toBe(200);
    const { version } = res.json() as { version: number };
    const run = await nextFinishedRun('the run after the settings change');
    expect(run).toMatchObject({ trigger: 'settings_changed', status: 'finished', settingsVersion: version, previousRunId: runIds[1], casesPassed: 2, regressions: 0 });
    // The scheduler is found by the names lib/ uses (it does not import workflows/).
    expect([evaluationScheduler.name, evaluationRequested.name]).toEqual([EVALUATION_SCHEDULER_WORKFLOW, EVALUATION_REQUEST_SIGNAL]);
  });
});
