// MCP servers (on the functions page, owners and admins): Model Context Protocol servers whose
// tools the assistant may call. Each row shows what the API keeps visible — the host, the header
// names, the tools as the model is offered them, and why a discovery failed or left tools out —
// never the URL or a header value, which are write-only like a function's secret. Tools are
// listed again on demand ("Refresh tools") or on their own after five minutes.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Checkbox } from '../components/checkbox';
import { fieldErrorsOf } from '../components/field-errors';
import { TextAreaField } from '../components/text-area-field';
import { Timestamp } from '../components/timestamp';
import { Field, formValues, Problem } from '../forms';

type McpServer = paths['/api/v1/mcp-servers/']['get']['responses'][200]['content']['application/json']['items'][number];

const FIELDS = ['name', 'url', 'headers', 'timeoutMs', 'enabled'] as const;

/** "Name: value" lines as a header object; a line without a colon is the user's mistake, named. */
function parseHeaderLines(text: string): { headers: Record<string, string> } | { error: string } {
  const headers: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `Line ${i + 1} is not “Name: value”.` };
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { headers };
}

export function McpServersSection() {
  const [servers, setServers] = useState<McpServer[]>();
  const [problem, setProblem] = useState('');
  const [saved, setSaved] = useState('');
  const [editing, setEditing] = useState<McpServer>();
  const [deleting, setDeleting] = useState<string>();
  const [refreshing, setRefreshing] = useState<string>();

  const load = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/mcp-servers/');
    if (data) setServers(data.items);
    else setProblem(problemOf(error, response));
  }, []);
  useEffect(() => void load(), [load]);

  function start() {
    setProblem('');
    setSaved('');
  }

  async function refresh(s: McpServer) {
    start();
    setRefreshing(s.id);
    const { data, error, response } = await api.POST('/api/v1/mcp-servers/{id}/refresh', { params: { path: { id: s.id } } });
    setRefreshing(undefined);
    if (!data) return setProblem(problemOf(error, response));
    setSaved(`Listed the tools of ${data.name}: ${data.tools.length}.`);
    await load();
  }

  async function remove(s: McpServer) {
    start();
    setDeleting(undefined);
    const { error, response } = await api.DELETE('/api/v1/mcp-servers/{id}', { params: { path: { id: s.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    else setSaved(`Deleted ${s.name}.`);
    if (editing?.id === s.id) setEditing(undefined);
    await load();
  }

  async function done(message: string) {
    setEditing(undefined);
    setSaved(message);
    await load();
  }

  return (
    <section aria-labelledby="mcp-title" className="mcp-servers">
      <h2 id="mcp-title">MCP servers</h2>
      <p className="muted">Model Context Protocol servers (streamable HTTP) whose tools the assistant may call, offered as <code>server_tool</code>. The URL and header values are write-only.</p>
      <Problem>{problem}</Problem>
      {saved && <p className="notice saved" role="status">{saved}</p>}
      {!servers ? (
        <p>Loading…</p>
      ) : servers.length === 0 ? (
        <p id="no-mcp-servers">None yet.</p>
      ) : (
        <div className="table-wrap">
          <table id="mcp-servers">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Tools</th><th scope="col">Enabled</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {servers.map((s) => (
                <tr key={s.id} data-name={s.name}>
                  <th scope="row">
                    <code>{s.name}</code>
                    <p className="muted description endpoint">{s.host}</p>
                    {s.headerNames.length > 0 && <p className="muted description headers">Headers: {s.headerNames.join(', ')}</p>}
                  </th>
                  <td className="tools">
                    {s.tools.length === 0 ? <span className="muted">none</span> : (
                      <ul>{s.tools.map((t) => <li key={t.name}><code>{t.offeredAs}</code> <span className="muted">{t.description}</span></li>)}</ul>
                    )}
                    {s.toolsError && <p className="tools-error">{s.toolsError}</p>}
                    <p className="muted description">Listed {s.toolsRefreshedAt ? <Timestamp at={s.toolsRefreshedAt} /> : 'never'}</p>
                  </td>
                  <td className="enabled">{s.enabled ? 'yes' : 'no'}</td>
                  <td className="actions">
                    {deleting === s.id ? (
                      <>
                        <button type="button" className="danger confirm-delete" onClick={() => void remove(s)}>Delete {s.name}</button>
                        <button type="button" className="secondary" onClick={() => setDeleting(undefined)}>Cancel</button>
                      </>
                    ) : (
                      <>
                        <button type="button" className="secondary refresh" aria-label={`Refresh tools of ${s.name}`} disabled={refreshing === s.id} onClick={() => void refresh(s)}>Refresh tools</button>
                        <button type="button" className="secondary edit" aria-label={`Edit ${s.name}`} onClick={() => { start(); setEditing(s); }}>Edit</button>
                        <button type="button" className="secondary delete" aria-label={`Delete ${s.name}`} onClick={() => setDeleting(s.id)}>Delete</button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3 id="mcp-form-title">{editing ? `Edit ${editing.name}` : 'Add an MCP server'}</h3>
      <McpServerForm key={editing?.id ?? 'new'} editing={editing} onDone={(m) => void done(m)} onCancel={() => setEditing(undefined)} />
    </section>
  );
}

function McpServerForm({ editing, onDone, onCancel }: { editing: McpServer | undefined; onDone(message: string): void; onCancel(): void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const v = formValues(form);
    setProblem('');
    const parsed = parseHeaderLines(v.headers ?? '');
    if ('error' in parsed) return setErrors({ headers: parsed.error });
    setErrors({});
    // Write-only: on an edit, an empty URL or header box keeps what is stored.
    const connection = { ...(v.url ? { url: v.url } : {}), ...(v.headers?.trim() ? { headers: parsed.headers } : {}) };
    const common = { timeoutMs: Number(v.timeoutMs), enabled: v.enabled === 'on' };
    setBusy(true);
    const { data, error, response } = editing
      ? await api.PATCH('/api/v1/mcp-servers/{id}', { params: { path: { id: editing.id } }, body: { ...common, ...connection } })
      : await api.POST('/api/v1/mcp-servers/', { body: { ...common, name: v.name ?? '', url: v.url ?? '', headers: parsed.headers } });
    setBusy(false);
    if (data) {
      form.reset();
      // Why tools are missing is on the server's row.
      return onDone(`${editing ? 'Saved' : 'Added'} ${data.name}: ${data.tools.length} tools.`);
    }
    if (response.status !== 400) return setProblem(problemOf(error, response));
    const { fields, rest } = fieldErrorsOf(error, FIELDS);
    setErrors(fields);
    setProblem(rest);
  }

  return (
    <form id="mcp-server-form" className="function-form" onSubmit={submit} noValidate aria-busy={busy} aria-labelledby="mcp-form-title">
      <Problem>{problem}</Problem>
      {editing ? (
        <p className="muted">Name: <code>{editing.name}</code> (fixed once registered)</p>
      ) : (
        <Field label="Server name" name="name" required maxLength={20} autoComplete="off" error={errors.name} hint="Lower-case letters and digits, starting with a letter: the prefix of its tools’ names." />
      )}
      <Field
        label={editing ? 'New server URL' : 'Server URL'}
        name="url"
        type="url"
        required={!editing}
        autoComplete="off"
        error={errors.url}
        hint={editing ? `Write-only: leave empty to keep the current one (${editing.host}).` : 'The streamable HTTP endpoint; https only, internal addresses are refused.'}
      />
      <TextAreaField
        label={editing ? 'New headers' : 'Headers'}
        name="headers"
        rows={3}
        spellCheck={false}
        autoComplete="off"
        className="code"
        placeholder="Authorization: Bearer …"
        error={errors.headers}
        hint={editing ? `Write-only: leave empty to keep ${editing.headerNames.length ? editing.headerNames.join(', ') : 'none'}.` : 'Optional, one “Name: value” per line, sent with every request (at most 10).'}
      />
      <Field label="Timeout (ms)" name="timeoutMs" type="number" min={500} max={30000} step={100} required defaultValue={editing?.timeoutMs ?? 10000} error={errors.timeoutMs} />
      <Checkbox name="enabled" defaultChecked={editing?.enabled ?? true} label="Enabled: the assistant may call its tools" />
      {errors.enabled && <p className="field-error">{errors.enabled}</p>}
      <div className="form-actions">
        <button type="submit" disabled={busy}>{editing ? 'Save' : 'Add MCP server'}</button>
        {editing && <button type="button" className="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}
