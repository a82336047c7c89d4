// Functions (owners and admins): the tenant's own endpoints the assistant may call as tools. List
// them, add one, edit one (its name is fixed: conversations refer to it), delete one after a
// confirmation. The arguments' JSON Schema is checked here for being JSON and by the API for
// being a schema; a URL the API refuses (not https, an internal address) is shown at its field.
// The signing secret is write-only: the API never returns it, an edit replaces it only if given.
// Below them, the tenant's MCP servers (./mcp-servers.tsx), the other source of tools.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { Checkbox } from '../components/checkbox';
import { fieldErrorsOf } from '../components/field-errors';
import { TextAreaField } from '../components/text-area-field';
import { Timestamp } from '../components/timestamp';
import { Field, formValues, Problem } from '../forms';
import { McpServersSection } from './mcp-servers';
import './functions.css';

type TenantFunction = paths['/api/v1/functions/']['get']['responses'][200]['content']['application/json']['items'][number];
type FunctionInput = paths['/api/v1/functions/']['post']['requestBody']['content']['application/json'];

const FIELDS = ['name', 'description', 'endpoint', 'parameters', 'secret', 'timeoutMs', 'enabled'] as const;
const EXAMPLE_PARAMETERS = JSON.stringify({ type: 'object', properties: { orderId: { type: 'string', description: 'The order number' } }, required: ['orderId'] }, null, 2);

export function FunctionsPage(_: { me: Me }) {
  const [functions, setFunctions] = useState<TenantFunction[]>();
  const [problem, setProblem] = useState('');
  const [editing, setEditing] = useState<TenantFunction>();
  const [deleting, setDeleting] = useState<string>();
  const [saved, setSaved] = useState('');

  const load = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/functions/');
    if (data) setFunctions(data.items);
    else setProblem(problemOf(error, response));
  }, []);
  useEffect(() => void load(), [load]);

  async function remove(f: TenantFunction) {
    setProblem('');
    setSaved('');
    setDeleting(undefined);
    const { error, response } = await api.DELETE('/api/v1/functions/{id}', { params: { path: { id: f.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    else setSaved(`Deleted ${f.name}.`);
    if (editing?.id === f.id) setEditing(undefined);
    await load();
  }

  async function done(message: string) {
    setEditing(undefined);
    setSaved(message);
    await load();
  }

  return (
    <>
      <h1>Functions</h1>
      <p className="muted">Your own endpoints the assistant may call during a conversation. Every call is a signed POST with the arguments the model chose, checked against the parameters’ JSON Schema first.</p>
      <Problem>{problem}</Problem>
      {saved && <p className="notice saved" role="status">{saved}</p>}

      <section aria-labelledby="functions-title">
        <h2 id="functions-title">Registered functions</h2>
        {!functions ? (
          <p>Loading…</p>
        ) : functions.length === 0 ? (
          <p id="no-functions">None yet.</p>
        ) : (
          <div className="table-wrap">
            <table id="functions">
              <thead>
                <tr><th scope="col">Name</th><th scope="col">Endpoint</th><th scope="col">Timeout</th><th scope="col">Enabled</th><th scope="col">Updated</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
              </thead>
              <tbody>
                {functions.map((f) => (
                  <tr key={f.id} data-name={f.name}>
                    <th scope="row"><code>{f.name}</code><p className="muted description">{f.description}</p></th>
                    <td className="endpoint">{f.endpoint}</td>
                    <td>{f.timeoutMs / 1000} s</td>
                    <td className="enabled">{f.enabled ? 'yes' : 'no'}</td>
                    <td><Timestamp at={f.updatedAt} /></td>
                    <td className="actions">
                      {deleting === f.id ? (
                        <>
                          <button type="button" className="danger confirm-delete" onClick={() => void remove(f)}>Delete {f.name}</button>
                          <button type="button" className="secondary" onClick={() => setDeleting(undefined)}>Cancel</button>
                        </>
                      ) : (
                        <>
                          <button type="button" className="secondary edit" aria-label={`Edit ${f.name}`} onClick={() => { setSaved(''); setEditing(f); }}>Edit</button>
                          <button type="button" className="secondary delete" aria-label={`Delete ${f.name}`} onClick={() => setDeleting(f.id)}>Delete</button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="function-form-title">
        <h2 id="function-form-title">{editing ? `Edit ${editing.name}` : 'Add a function'}</h2>
        <FunctionForm key={editing?.id ?? 'new'} editing={editing} onDone={(m) => void done(m)} onCancel={() => setEditing(undefined)} />
      </section>

      <McpServersSection />
    </>
  );
}

function FunctionForm({ editing, onDone, onCancel }: { editing: TenantFunction | undefined; onDone(message: string): void; onCancel(): void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const v = formValues(form);
    setProblem('');
    let parameters: Record<string, unknown>;
    try {
      parameters = JSON.parse(v.parameters ?? '') as Record<string, unknown>;
    } catch (err) {
      return setErrors({ parameters: `This is not JSON: ${(err as Error).message}` });
    }
    setErrors({});
    const body = {
      description: v.description ?? '',
      endpoint: v.endpoint ?? '',
      parameters: parameters as FunctionInput['parameters'],
      timeoutMs: Number(v.timeoutMs),
      enabled: v.enabled === 'on',
      // Write-only: left empty on an edit, the stored secret stays.
      ...(v.secret ? { secret: v.secret } : {}),
    };
    setBusy(true);
    const { data, error, response } = editing
      ? await api.PATCH('/api/v1/functions/{id}', { params: { path: { id: editing.id } }, body })
      : await api.POST('/api/v1/functions/', { body: { ...body, name: v.name ?? '', secret: v.secret ?? '' } });
    setBusy(false);
    if (data) {
      form.reset();
      return onDone(editing ? `Saved ${data.name}.` : `Added ${data.name}.`);
    }
    if (response.status !== 400) return setProblem(problemOf(error, response));
    const { fields, rest } = fieldErrorsOf(error, FIELDS);
    setErrors(fields);
    setProblem(rest);
  }

  return (
    <form id="function-form" className="function-form" onSubmit={submit} noValidate aria-busy={busy}>
      <Problem>{problem}</Problem>
      {editing ? (
        <p className="muted">Name: <code>{editing.name}</code> (fixed once registered)</p>
      ) : (
        <Field label="Name" name="name" required maxLength={64} autoComplete="off" error={errors.name} hint="What the model calls it: letters, digits, “_” and “-”, starting with a letter." />
      )}
      <Field label="Description" name="description" required maxLength={1024} defaultValue={editing?.description} error={errors.description} hint="Tells the model when to call it." />
      <Field label="Endpoint URL" name="endpoint" type="url" required defaultValue={editing?.endpoint} error={errors.endpoint} hint="https only; internal addresses are refused." />
      <TextAreaField
        label="Parameters (JSON Schema)"
        name="parameters"
        rows={8}
        spellCheck={false}
        className="code"
        defaultValue={editing ? JSON.stringify(editing.parameters, null, 2) : EXAMPLE_PARAMETERS}
        error={errors.parameters}
        hint={'An object schema ("type": "object") for the arguments.'}
      />
      <Field
        label={editing ? 'New signing secret' : 'Signing secret'}
        name="secret"
        type="password"
        autoComplete="new-password"
        required={!editing}
        minLength={16}
        maxLength={256}
        error={errors.secret}
        hint={editing ? 'Write-only: leave empty to keep the current one.' : 'Write-only, 16 to 256 characters: calls are signed with it (HMAC-SHA256).'}
      />
      <Field label="Timeout (ms)" name="timeoutMs" type="number" min={500} max={30000} step={100} required defaultValue={editing?.timeoutMs ?? 10000} error={errors.timeoutMs} />
      <Checkbox name="enabled" defaultChecked={editing?.enabled ?? true} label="Enabled: the assistant may call it" />
      {errors.enabled && <p className="field-error">{errors.enabled}</p>}
      <div className="form-actions">
        <button type="submit" disabled={busy}>{editing ? 'Save' : 'Add function'}</button>
        {editing && <button type="button" className="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}
