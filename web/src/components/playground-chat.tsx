// The playground: a chat with the assistant as a customer would have it (POST
// /api/v1/playground/messages, which sends the earlier turns along), each answer with how it came
// about: the passages retrieved with their scores (the cited ones marked), the tool calls with
// their arguments and results, the model, tokens, cost and time. Nothing reaches a channel.
import { useState, type FormEvent } from 'react';
import { api, codeOf, problemOf, type ApiError } from '../api/client';
import type { paths } from '../api/schema';
import { Problem } from '../forms';
import { TextAreaField } from './text-area-field';

type Answer = paths['/api/v1/playground/messages']['post']['responses'][200]['content']['application/json'];
type Entry = { role: 'user'; text: string } | { role: 'assistant'; text: string; answer: Answer };

const OUTCOMES: Record<Answer['outcome'], string> = {
  reply: 'Answered',
  handoff: 'Handed to a person',
  budget_exhausted: 'Budget spent',
  no_answer: 'No answer (polite message)',
};

function AnswerDetails({ answer, n }: { answer: Answer; n: number }) {
  return (
    <div className="answer-details">
      <dl className="answer-facts">
        <dt>Outcome</dt><dd className="outcome">{OUTCOMES[answer.outcome]}{answer.handoffReason && ` (${answer.handoffReason})`}</dd>
        <dt>Model</dt><dd>{answer.provider ? `${answer.provider} · ${answer.model}` : '—'}</dd>
        <dt>Tokens</dt><dd>{answer.promptTokens} in, {answer.completionTokens} out ({answer.modelCalls} call{answer.modelCalls === 1 ? '' : 's'})</dd>
        <dt>Cost</dt><dd>${answer.costUsd.toFixed(6)}</dd>
        <dt>Time</dt><dd>{(answer.latencyMs / 1000).toFixed(2)} s</dd>
      </dl>
      <section aria-labelledby={`sources-${n}`}>
        <h4 id={`sources-${n}`}>Sources</h4>
        {answer.sources.length === 0 ? <p className="muted">No passage retrieved.</p> : (
          <ol className="sources">
            {answer.sources.map((s) => (
              <li key={s.chunkId} className={s.cited ? 'source cited' : 'source'}>
                <span className="source-title">{s.title}{s.page !== null && `, p. ${s.page}`}{s.section && ` · ${s.section}`}</span>
                {' '}<span className="score">score {s.score.toFixed(3)}</span>
                {s.cited && <span className="cited-mark"> · cited</span>}
                <blockquote>{s.excerpt}</blockquote>
              </li>
            ))}
          </ol>
        )}
      </section>
      <section aria-labelledby={`tools-${n}`}>
        <h4 id={`tools-${n}`}>Tool calls</h4>
        {answer.toolCalls.length === 0 ? <p className="muted">None.</p> : (
          <ol className="tool-calls">
            {answer.toolCalls.map((t, i) => (
              <li key={i} className="tool-call">
                <code className="tool-name">{t.name}</code>
                <pre className="tool-arguments" aria-label={`Arguments of ${t.name}`}>{t.arguments}</pre>
                {t.outcome.kind === 'handoff' ? <p>Handed the conversation to a person.</p> : (
                  <pre className={t.outcome.isError ? 'tool-result error' : 'tool-result'} aria-label={`Result of ${t.name}`}>{t.outcome.content}</pre>
                )}
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

export function PlaygroundChat() {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [problem, setProblem] = useState('');
  const [error, setError] = useState<string>();
  const [asking, setAsking] = useState(false);
  const [said, setSaid] = useState('');

  async function ask(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const message = String(new FormData(form).get('message') ?? '').trim();
    setProblem('');
    if (!message) return setError('Type a question');
    if (message.length > 4096) return setError('At most 4096 characters');
    setError(undefined);
    setSaid('The assistant is answering…');
    setAsking(true);
    const previous = entries.map((e) => ({ role: e.role, text: e.text }));
    const { data, error: failed, response } = await api.POST('/api/v1/playground/messages', { body: { message, previous } });
    setAsking(false);
    setSaid(data ? `The assistant answered: ${data.text}` : '');
    if (!data) {
      // The budget's refusal says what customers are sent meanwhile; a rate limit says how long to wait.
      return setProblem(codeOf(failed) === 'budget_exhausted' ? (failed as ApiError).error.message : problemOf(failed, response));
    }
    form.reset();
    setEntries([...entries, { role: 'user', text: message }, { role: 'assistant', text: data.text, answer: data }]);
  }

  return (
    <div className="playground">
      {entries.length > 0 && (
        <ol className="chat" id="playground-chat" aria-label="Playground chat">
          {entries.map((e, i) => (
            <li key={i} className={`turn turn-${e.role}`}>
              <h3 className="turn-who">{e.role === 'user' ? 'You' : 'Assistant'}</h3>
              <p className="turn-text">{e.text}</p>
              {e.role === 'assistant' && <AnswerDetails answer={e.answer} n={i} />}
            </li>
          ))}
        </ol>
      )}
      <Problem>{problem}</Problem>
      <form id="playground" onSubmit={ask} noValidate aria-busy={asking}>
        <TextAreaField label="Question" name="message" rows={2} error={error} hint="Answered as a customer would be: same documents, prompt, model and tools. Model spend counts against the budget." />
        <div className="playground-actions">
          <button type="submit" disabled={asking}>{asking ? 'Asking…' : 'Ask'}</button>
          {entries.length > 0 && <button type="button" className="secondary" onClick={() => { setEntries([]); setSaid(''); }}>New chat</button>}
        </div>
        <p role="status" className="visually-hidden">{said}</p>
      </form>
    </div>
  );
}
