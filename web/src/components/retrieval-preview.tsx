// "What would the assistant retrieve?": a question in, the passages the assistant's own retrieval
// gives for it out (POST /api/v1/documents/search), with their scores and documents.
import { useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Field, formValues, Problem } from '../forms';

type Passage = paths['/api/v1/documents/search']['post']['responses'][200]['content']['application/json']['passages'][number];

export function RetrievalPreview() {
  const [passages, setPassages] = useState<Passage[]>();
  const [asked, setAsked] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  async function ask(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { question = '' } = formValues(event.currentTarget);
    setProblem('');
    if (!question.trim()) return setProblem('Type a question first.');
    setBusy(true);
    const { data, error, response } = await api.POST('/api/v1/documents/search', { body: { question } });
    setBusy(false);
    if (!data) return setProblem(problemOf(error, response));
    setAsked(question);
    setPassages(data.passages);
  }

  return (
    <>
      <form id="retrieval-form" className="inline-form" onSubmit={ask} noValidate>
        <Field label="Question" name="question" maxLength={2000} hint="Asked as a customer would; the answer uses the assistant's own retrieval settings." />
        <button type="submit" disabled={busy}>{busy ? 'Searching…' : 'Show passages'}</button>
      </form>
      <Problem>{problem}</Problem>
      <div role="status" aria-live="polite">
        {passages && passages.length === 0 && <p id="no-passages">No passage matches “{asked}”: the assistant would answer without your documents.</p>}
        {passages && passages.length > 0 && <p className="visually-hidden">{passages.length} passages for “{asked}”.</p>}
      </div>
      {passages && passages.length > 0 && (
        <ol className="passages" id="passages">
          {passages.map((p) => (
            <li key={p.chunkId} className="passage">
              <p className="passage-facts">
                <span className="score">score {p.score.toFixed(3)}</span> · <strong>{p.title}</strong>
                {p.page !== null && <> · page {p.page}</>}
                {p.section && <> · {p.section}</>}
              </p>
              <p className="chunk-text">{p.content}</p>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
