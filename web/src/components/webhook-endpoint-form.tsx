// Adding or editing a webhook endpoint: its URL, a description and the event types it receives
// (none ticked: all of them). The API's refusals (a URL it will not call) show at their field.
import { useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Checkbox } from './checkbox';
import { fieldErrorsOf } from './field-errors';
import { Field, formValues, Problem } from '../forms';

export type WebhookEndpoint = paths['/api/v1/webhook-endpoints/']['get']['responses'][200]['content']['application/json']['items'][number];
type EventType = NonNullable<paths['/api/v1/webhook-endpoints/']['post']['requestBody']['content']['application/json']['events']>[number];

/** Every event type the API delivers, with what it means: a Record, so a type the API adds fails the type check until it is described here. */
const EVENT_TEXT: Record<EventType, string> = {
  'message.received': 'a customer wrote',
  'message.sent': 'the assistant or an agent answered',
  'conversation.created': 'a new conversation started',
  'handoff.requested': 'a conversation asks for a person',
  'handoff.assigned': 'an agent took a conversation',
  'handoff.released': 'an agent gave a conversation back',
  'document.indexed': 'a document is ready for answers',
  'document.failed': 'a document could not be read',
};
export const EVENT_TYPES = Object.keys(EVENT_TEXT) as EventType[];

export interface Created {
  endpoint: WebhookEndpoint;
  /** Returned by create only: shown once. */
  secret?: string;
}

export function WebhookEndpointForm({ editing, onDone, onCancel }: { editing: WebhookEndpoint | undefined; onDone(result: Created): void; onCancel(): void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const { url = '', description = '' } = formValues(form);
    const events = new FormData(form).getAll('events').map(String) as EventType[];
    setProblem('');
    setErrors({});
    setBusy(true);
    let answer: { ok: Created } | { error: unknown; response: Response };
    if (editing) {
      const { data, error, response } = await api.PATCH('/api/v1/webhook-endpoints/{id}', { params: { path: { id: editing.id } }, body: { url, events, description: description.trim() === '' ? null : description } });
      answer = data ? { ok: { endpoint: data } } : { error, response };
    } else {
      const { data, error, response } = await api.POST('/api/v1/webhook-endpoints/', { body: { url, events, ...(description.trim() !== '' && { description }) } });
      answer = data ? { ok: { endpoint: data, secret: data.secret } } : { error, response };
    }
    setBusy(false);
    if ('ok' in answer) {
      form.reset();
      return onDone(answer.ok);
    }
    const { error, response } = answer;
    if (response.status !== 400) return setProblem(problemOf(error, response));
    const { fields, rest } = fieldErrorsOf(error, ['url', 'events', 'description']);
    setErrors(fields);
    setProblem(rest);
  }

  return (
    <form id="endpoint-form" className="endpoint-form" onSubmit={submit} noValidate aria-busy={busy}>
      <Problem>{problem}</Problem>
      <Field label="URL" name="url" type="url" required defaultValue={editing?.url} error={errors.url} hint="Where events are POSTed, signed with the endpoint’s secret." />
      <Field label="Description" name="description" maxLength={500} defaultValue={editing?.description ?? ''} error={errors.description} />
      <fieldset className="events" aria-describedby="events-hint">
        <legend>Events</legend>
        <p className="hint" id="events-hint">None ticked: every event, those added later too.</p>
        {EVENT_TYPES.map((t) => (
          <Checkbox key={t} name="events" value={t} defaultChecked={editing?.events.includes(t)} label={<><code>{t}</code> <span className="muted">{EVENT_TEXT[t]}</span></>} />
        ))}
        {errors.events && <p className="field-error">{errors.events}</p>}
      </fieldset>
      <div className="form-actions">
        <button type="submit" disabled={busy}>{editing ? 'Save' : 'Add endpoint'}</button>
        {editing && <button type="button" className="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}
