// Evaluations (owners and admins): test questions for the assistant with the facts a right answer
// contains (and cites), or that it must decline; runs that ask them all as a customer would be
// answered, with their scores; and one run's answers beside the previous run's, regressions
// marked. Runs also start by themselves after settings and document changes; while one runs,
// the list refreshes every few seconds.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, codeOf, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { Checkbox } from '../components/checkbox';
import { TextAreaField } from '../components/text-area-field';
import { Timestamp } from '../components/timestamp';
import { Problem } from '../forms';
import './evaluations.css';

type EvaluationCase = paths['/api/v1/evaluations/cases']['get']['responses'][200]['content']['application/json']['items'][number];
type Run = paths['/api/v1/evaluations/runs']['get']['responses'][200]['content']['application/json']['items'][number];
type RunDetail = paths['/api/v1/evaluations/runs/{id}']['get']['responses'][200]['content']['application/json'];

const REFRESH_MS = 3000;
const TRIGGERS: Record<Run['trigger'], string> = { manual: 'manual', settings_changed: 'settings changed', documents_changed: 'documents changed' };
const pct = (x: number | null) => (x === null ? '—' : `${Math.round(x * 100)} %`);

export function EvaluationsPage(_: { me: Me }) {
  const [cases, setCases] = useState<EvaluationCase[]>();
  const [runs, setRuns] = useState<Run[]>();
  const [problem, setProblem] = useState('');
  const [saved, setSaved] = useState('');
  const [editing, setEditing] = useState<EvaluationCase>();
  const [deleting, setDeleting] = useState<string>();
  const [shown, setShown] = useState<string>();

  const load = useCallback(async () => {
    const [c, r] = await Promise.all([api.GET('/api/v1/evaluations/cases'), api.GET('/api/v1/evaluations/runs', { params: { query: { limit: 20 } } })]);
    if (c.data) setCases(c.data.items);
    else setProblem(problemOf(c.error, c.response));
    if (r.data) setRuns(r.data.items);
    else setProblem(problemOf(r.error, r.response));
  }, []);
  useEffect(() => void load(), [load]);
  const running = runs?.some((r) => r.status === 'running') ?? false;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [running, load]);

  async function remove(c: EvaluationCase) {
    setProblem('');
    setDeleting(undefined);
    const { error, response } = await api.DELETE('/api/v1/evaluations/cases/{id}', { params: { path: { id: c.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    else setSaved('Deleted the case.');
    if (editing?.id === c.id) setEditing(undefined);
    await load();
  }

  async function startRun() {
    setProblem('');
    setSaved('');
    const { data, error, response } = await api.POST('/api/v1/evaluations/runs');
    if (data) setSaved('Run started.');
    else setProblem(codeOf(error) === 'evaluation_running' ? 'A run is going: wait for it to finish.' : problemOf(error, response));
    await load();
  }

  return (
    <>
      <h1>Evaluations</h1>
      <p className="muted">
        Test questions the assistant must get right. A run asks each one as a customer would be answered (your settings, documents and model; nothing is sent) and scores the answers.
        Runs also start by themselves a little while after your settings or documents change. Each run’s model use counts in your usage.
      </p>
      <Problem>{problem}</Problem>
      {saved && <p className="notice saved" role="status">{saved}</p>}

      <section aria-labelledby="cases-title">
        <h2 id="cases-title">Cases</h2>
        {!cases ? (
          <p>Loading…</p>
        ) : cases.length === 0 ? (
          <p id="no-cases">None yet.</p>
        ) : (
          <div className="table-wrap">
            <table id="evaluation-cases">
              <thead>
                <tr><th scope="col">Question</th><th scope="col">Expected</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
              </thead>
              <tbody>
                {cases.map((c) => (
                  <tr key={c.id} data-id={c.id}>
                    <th scope="row" className="question">{c.question}</th>
                    <td className="expected">{c.expectRefusal ? 'declines and offers a person' : c.expectedFacts.map((f) => `“${f}”`).join(', ')}</td>
                    <td className="actions">
                      {deleting === c.id ? (
                        <>
                          <button type="button" className="danger confirm-delete" onClick={() => void remove(c)}>Delete the case</button>
                          <button type="button" className="secondary" onClick={() => setDeleting(undefined)}>Cancel</button>
                        </>
                      ) : (
                        <>
                          <button type="button" className="secondary edit" aria-label={`Edit “${c.question}”`} onClick={() => { setSaved(''); setEditing(c); }}>Edit</button>
                          <button type="button" className="secondary delete" aria-label={`Delete “${c.question}”`} onClick={() => setDeleting(c.id)}>Delete</button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h3 id="case-form-title">{editing ? 'Edit the case' : 'Add a case'}</h3>
        <CaseForm key={editing?.id ?? 'new'} editing={editing} onCancel={() => setEditing(undefined)} onDone={(m) => { setEditing(undefined); setSaved(m); void load(); }} />
      </section>

      <section className="evaluations-section" aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        <button type="button" id="start-run" onClick={() => void startRun()} disabled={running || !cases?.length}>{running ? 'Running…' : 'Run now'}</button>
        {!runs ? (
          <p>Loading…</p>
        ) : runs.length === 0 ? (
          <p id="no-runs">No runs yet.</p>
        ) : (
          <div className="table-wrap">
            <table id="evaluation-runs">
              <thead>
                <tr>
                  <th scope="col">Started</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Passed</th><th scope="col">Groundedness</th>
                  <th scope="col">Citations</th><th scope="col">Refusals</th><th scope="col">Latency</th><th scope="col">Cost</th><th scope="col">Regressions</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id} data-id={r.id} data-status={r.status}>
                    <th scope="row"><Timestamp at={r.startedAt} /></th>
                    <td>{TRIGGERS[r.trigger]}</td>
                    <td className="status">{r.status}</td>
                    <td className="passed">{r.status === 'finished' ? `${r.casesPassed} of ${r.casesTotal}` : '—'}</td>
                    <td>{pct(r.groundedness)}</td>
                    <td>{pct(r.citationCorrectness)}</td>
                    <td>{pct(r.refusalAccuracy)}</td>
                    <td>{r.latencyMsAvg === null ? '—' : `${r.latencyMsAvg} ms`}</td>
                    <td>${r.costUsd.toFixed(4)}</td>
                    <td className={r.regressions > 0 ? 'regressions regressed' : 'regressions'}>{r.regressions}</td>
                    <td><button type="button" className="secondary view" aria-label={`Show the run of ${new Date(r.startedAt).toLocaleString()}`} onClick={() => setShown(r.id)}>Show</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {shown && <RunDetails key={`${shown}-${runs?.find((r) => r.id === shown)?.status}`} runId={shown} />}
    </>
  );
}

function CaseForm({ editing, onDone, onCancel }: { editing: EvaluationCase | undefined; onDone(message: string): void; onCancel(): void }) {
  const [problem, setProblem] = useState('');
  const [refusal, setRefusal] = useState(editing?.expectRefusal ?? false);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const facts = String(data.get('facts') ?? '').split('\n').map((f) => f.trim()).filter(Boolean);
    const question = String(data.get('question') ?? '');
    const body = refusal ? { question, expectRefusal: true as const } : { question, expectedFacts: facts };
    if (!refusal && facts.length === 0) return setProblem('Give at least one expected fact, or expect the assistant to decline.');
    setProblem('');
    setBusy(true);
    const result = editing
      ? await api.PATCH('/api/v1/evaluations/cases/{id}', { params: { path: { id: editing.id } }, body })
      : await api.POST('/api/v1/evaluations/cases', { body });
    setBusy(false);
    if (result.data) {
      form.reset();
      return onDone(editing ? 'Saved the case.' : 'Added the case.');
    }
    setProblem(problemOf(result.error, result.response));
  }

  return (
    <form id="case-form" className="evaluation-form" onSubmit={submit} noValidate aria-busy={busy} aria-labelledby="case-form-title">
      <Problem>{problem}</Problem>
      <TextAreaField label="Question" name="question" rows={2} required maxLength={2000} defaultValue={editing?.question} hint="As a customer would ask it." />
      <Checkbox name="expectRefusal" checked={refusal} onChange={(e) => setRefusal(e.currentTarget.checked)} label="No document answers it: the assistant should decline and offer a person" />
      {!refusal && (
        <TextAreaField label="Expected facts" name="facts" rows={3} maxLength={10_000} defaultValue={editing?.expectedFacts.join('\n')} hint="One phrase a line; each must appear in the answer and in a passage it cites." />
      )}
      <div className="form-actions">
        <button type="submit" disabled={busy}>{editing ? 'Save' : 'Add case'}</button>
        {editing && <button type="button" className="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}

function RunDetails({ runId }: { runId: string }) {
  const [run, setRun] = useState<RunDetail>();
  const [problem, setProblem] = useState('');
  useEffect(() => {
    void api.GET('/api/v1/evaluations/runs/{id}', { params: { path: { id: runId } } }).then(({ data, error, response }) => (data ? setRun(data) : setProblem(problemOf(error, response))));
  }, [runId]);
  if (problem) return <Problem>{problem}</Problem>;
  if (!run) return <p>Loading…</p>;
  return (
    <section className="evaluations-section" aria-labelledby="run-title" id="run-detail">
      <h2 id="run-title">Run of <Timestamp at={run.startedAt} /></h2>
      <ul className="run-summary">
        <li>Settings version {run.settingsVersion}</li>
        <li>{run.casesPassed} of {run.casesTotal} passed</li>
        {run.comparison ? (
          <li id="comparison">Previous run: {run.comparison.passedBefore} passed; {run.comparison.regressed.length} regressed, {run.comparison.improved.length} improved</li>
        ) : (
          <li id="comparison">The first run: nothing to compare with</li>
        )}
        {run.error && <li className="regressed">{run.error}</li>}
      </ul>
      <div className="table-wrap">
        <table id="run-results">
          <thead>
            <tr><th scope="col">Question</th><th scope="col">Verdict</th><th scope="col">Answer</th><th scope="col">Cited</th><th scope="col">Groundedness</th><th scope="col">Latency</th></tr>
          </thead>
          <tbody>
            {run.results.map((r) => (
              <tr key={r.caseId} data-case={r.caseId} data-passed={r.passed} data-regressed={r.regressed}>
                <th scope="row">{r.question}</th>
                <td>
                  <span className={r.passed ? 'verdict passed' : 'verdict failed'}>{r.passed ? 'passed' : 'failed'}</span>
                  {r.regressed && <span className="regressed"> (regressed: passed in the previous run)</span>}
                </td>
                <td className="answer">{r.answer}</td>
                <td>{r.citedPassages.length ? r.citedPassages.map((p) => p.title).join(', ') : '—'}</td>
                <td>{r.expectRefusal ? (r.declined ? 'declined' : 'answered') : pct(r.groundedness)}</td>
                <td>{r.latencyMs} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
