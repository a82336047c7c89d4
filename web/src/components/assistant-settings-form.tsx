// The assistant's settings as one form, grouped: simple rules are checked here before sending,
// and the API's 400 (validation_error, details naming each field by its dotted path) is shown at
// the field it names. Only what changed is sent (PATCH deep-merges it), so a default the
// tenant never touched keeps following the platform's; an emptied optional field returns to it.
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, problemOf, type ApiError } from '../api/client';
import type { paths } from '../api/schema';
import { Field, Problem } from '../forms';
import { formText, parseField, SETTING_FIELDS, SETTING_GROUPS, setAt, valueAt, type SettingField } from './assistant-settings-fields';
import { TextAreaField } from './text-area-field';

export type SettingsView = paths['/api/v1/settings/']['get']['responses'][200]['content']['application/json'];

function SelectField({ label, hint, error, options, ...select }: { label: string; hint?: ReactNode; error?: string | undefined; options: readonly string[]; name: string; defaultValue: string }) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-invalid={error ? true : undefined} aria-describedby={described} {...select}>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
      {hint && <p className="hint" id={`${id}-hint`}>{hint}</p>}
      {error && <p className="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}

function SettingInput({ field, value, error }: { field: SettingField; value: unknown; error: string | undefined }) {
  const common = { label: field.label, hint: field.hint, error, name: field.path, defaultValue: formText(field, value) };
  const { kind } = field;
  if (kind.type === 'select') return <SelectField {...common} options={kind.options} />;
  if (kind.type === 'toggle') return <SelectField {...common} options={['on', 'off']} />;
  if (kind.type === 'textarea' || (kind.type === 'list' && kind.separator === 'line')) return <TextAreaField {...common} rows={3} />;
  if (kind.type === 'number') return <Field {...common} type="number" step={kind.step} min={kind.min} max={kind.max} inputMode={kind.integer ? 'numeric' : 'decimal'} />;
  return <Field {...common} type="text" />;
}

/** The API's 400 details by field path, and what names no field. */
function serverFieldErrors(error: unknown): { fields: Record<string, string>; rest: string } {
  const details = (error as Partial<ApiError> | undefined)?.error?.details;
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const d of Array.isArray(details) ? (details as { path?: unknown; message?: unknown }[]) : []) {
    const path = typeof d.path === 'string' ? d.path : '';
    const message = typeof d.message === 'string' ? d.message : 'is not valid';
    // A list's entry is named by its index (handoff.keywords.2): shown at the list.
    const field = SETTING_FIELDS.find((f) => path === f.path || path.startsWith(`${f.path}.`));
    if (field) fields[field.path] = fields[field.path] ? `${fields[field.path]}; ${message}` : message;
    else rest.push(`${path} ${message}`.trim());
  }
  return { fields, rest: rest.join('; ') };
}

export function AssistantSettingsForm({ view, onSaved, onStale }: { view: SettingsView; onSaved(view: SettingsView): void; onStale(): void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [status, setStatus] = useState('');
  const [saving, setSaving] = useState(false);

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const found: Record<string, string> = {};
    const patch: Record<string, unknown> = {};
    for (const field of SETTING_FIELDS) {
      const parsed = parseField(field, String(data.get(field.path) ?? ''));
      if ('error' in parsed) {
        found[field.path] = parsed.error;
        continue;
      }
      const current = valueAt(view.settings, field.path) ?? null;
      if (JSON.stringify(parsed.value) !== JSON.stringify(current)) setAt(patch, field.path, parsed.value);
    }
    setErrors(found);
    setStatus('');
    setProblem('');
    if (Object.keys(found).length > 0) {
      setProblem('Some settings need fixing: see the fields marked.');
      form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    if (Object.keys(patch).length === 0) return setStatus('Nothing changed.');
    setSaving(true);
    const { data: saved, error, response } = await api.PATCH('/api/v1/settings/', { body: { version: view.version, settings: patch } });
    setSaving(false);
    if (saved) {
      setStatus(`Saved as version ${saved.version}.`);
      return onSaved(saved);
    }
    if (response.status === 400) {
      const server = serverFieldErrors(error);
      setErrors(server.fields);
      setProblem(server.rest || 'Some settings need fixing: see the fields marked.');
      // After React has rendered the messages, so the first one is read with its field.
      requestAnimationFrame(() => form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    setProblem(problemOf(error, response));
    if (response.status === 409) onStale();
  }

  return (
    <form id="assistant-settings" className="settings-form" onSubmit={save} noValidate>
      <Problem>{problem}</Problem>
      {SETTING_GROUPS.map((group) => (
        <fieldset key={group.id} id={`settings-${group.id}`}>
          <legend>{group.title}</legend>
          <div className="settings-grid">
            {group.fields.map((f) => <SettingInput key={`${view.version}-${f.path}`} field={f} value={valueAt(view.settings, f.path)} error={errors[f.path]} />)}
          </div>
        </fieldset>
      ))}
      <div className="settings-actions">
        <button type="submit" disabled={saving}>{saving ? 'Saving…' : 'Save settings'}</button>
        <p role="status" className="muted" id="settings-status">{status}</p>
      </div>
    </form>
  );
}
