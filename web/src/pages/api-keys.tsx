// API keys (owners and admins): the tenant's keys with their scope, prefix, creation and last use;
// create one (the key is shown once, to copy), rotate one (a new key shown once; the old one keeps
// working for the grace period chosen), revoke one after a confirmation. Machines use these keys;
// people sign in.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { Checkbox } from '../components/checkbox';
import { fieldErrorsOf } from '../components/field-errors';
import { ShownOnce } from '../components/shown-once';
import { Timestamp } from '../components/timestamp';
import { Field, formValues, Problem } from '../forms';
import './api-keys.css';

type ApiKey = paths['/api/v1/api-keys/']['get']['responses'][200]['content']['application/json']['items'][number];
type Scope = ApiKey['scope'];

const SCOPE_TEXT: Record<Scope, string> = { tenant: 'Everything of the tenant', agent: 'Conversations only, as one human agent' };

/** How long a rotated key keeps working, in seconds (the API allows 0 to 7 days). */
const GRACE_CHOICES = [
  { seconds: 0, label: 'stops now' },
  { seconds: 3600, label: 'works 1 more hour' },
  { seconds: 86_400, label: 'works 24 more hours' },
  { seconds: 604_800, label: 'works 7 more days' },
] as const;

export function ApiKeysPage(_: { me: Me }) {
  const [keys, setKeys] = useState<ApiKey[]>();
  const [next, setNext] = useState<string | null>(null);
  const [all, setAll] = useState(false);
  const [problem, setProblem] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [scope, setScope] = useState<Scope>('tenant');
  const [issued, setIssued] = useState<{ name: string; key: string; rotated: boolean }>();
  const [confirming, setConfirming] = useState<{ id: string; action: 'rotate' | 'revoke' }>();
  const [grace, setGrace] = useState<number>(86_400);

  const load = useCallback(async (cursor?: string) => {
    const { data, error, response } = await api.GET('/api/v1/api-keys/', { params: { query: { limit: 50, status: all ? 'all' : 'live', ...(cursor && { cursor }) } } });
    if (!data) return setProblem(problemOf(error, response));
    setKeys((before) => (cursor ? [...(before ?? []), ...data.items] : data.items));
    setNext(data.nextCursor);
  }, [all]);
  useEffect(() => void load(), [load]);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const { name = '', agentId = '', expiresInDays = '' } = formValues(form);
    setProblem('');
    setErrors({});
    setIssued(undefined);
    const body = {
      name,
      scope,
      ...(scope === 'agent' && agentId.trim() !== '' && { agentId }),
      ...(expiresInDays !== '' && { expiresInDays: Number(expiresInDays) }),
    };
    const { data, error, response } = await api.POST('/api/v1/api-keys/', { body });
    if (!data) {
      if (response.status !== 400) return setProblem(problemOf(error, response));
      const { fields, rest } = fieldErrorsOf(error, ['name', 'agentId', 'expiresInDays']);
      setErrors(fields);
      return setProblem(rest);
    }
    form.reset();
    setScope('tenant');
    setIssued({ name: data.name, key: data.key, rotated: false });
    await load();
  }

  async function rotate(key: ApiKey) {
    setProblem('');
    setConfirming(undefined);
    setIssued(undefined);
    const { data, error, response } = await api.POST('/api/v1/api-keys/{id}/rotate', { params: { path: { id: key.id } }, body: { graceSeconds: grace } });
    if (!data) setProblem(problemOf(error, response));
    else setIssued({ name: data.apiKey.name, key: data.apiKey.key, rotated: true });
    await load();
  }

  async function revoke(key: ApiKey) {
    setProblem('');
    setConfirming(undefined);
    const { error, response } = await api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: key.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    await load();
  }

  const live = (k: ApiKey) => k.status === 'active' || k.status === 'expiring';

  return (
    <>
      <h1>API keys</h1>
      <p className="muted">Keys let your own systems call the API. People sign in instead.</p>
      <Problem>{problem}</Problem>
      {issued && (
        <ShownOnce id="issued-key" label={`API key ${issued.name}`} value={issued.key}>
          {issued.rotated ? `The new key for “${issued.name}”.` : `The key “${issued.name}”.`}
        </ShownOnce>
      )}

      <section aria-labelledby="keys-title">
        <h2 id="keys-title">Keys</h2>
        <Checkbox id="show-all-keys" checked={all} onChange={(e) => setAll(e.target.checked)} label="Show revoked and expired keys too" />
        {!keys ? (
          <p>Loading…</p>
        ) : keys.length === 0 ? (
          <p id="no-keys">No keys.</p>
        ) : (
          <div className="table-wrap">
            <table id="api-keys">
              <thead>
                <tr>
                  <th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Prefix</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr key={k.id} data-key-id={k.id} data-name={k.name}>
                    <th scope="row">{k.name}</th>
                    <td>{k.scope}{k.agentId && <span className="muted"> ({k.agentId})</span>}</td>
                    <td><code>{k.prefix}</code></td>
                    <td><Timestamp at={k.createdAt} /></td>
                    <td className="last-used"><Timestamp at={k.lastUsedAt} none="never" /></td>
                    <td className="status">{k.status}{k.status === 'expiring' && k.expiresAt && <span className="muted"> until <Timestamp at={k.expiresAt} /></span>}</td>
                    <td className="actions">
                      {!live(k) ? null : confirming?.id === k.id && confirming.action === 'revoke' ? (
                        <>
                          <button type="button" className="danger confirm-revoke" onClick={() => void revoke(k)}>Revoke {k.name} now</button>
                          <button type="button" className="secondary" onClick={() => setConfirming(undefined)}>Cancel</button>
                        </>
                      ) : confirming?.id === k.id && confirming.action === 'rotate' ? (
                        <span className="rotate-confirm">
                          <select aria-label={`After rotation the old key of ${k.name}`} value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
                            {GRACE_CHOICES.map((g) => <option key={g.seconds} value={g.seconds}>Old key {g.label}</option>)}
                          </select>
                          <button type="button" className="confirm-rotate" onClick={() => void rotate(k)}>Rotate {k.name}</button>
                          <button type="button" className="secondary" onClick={() => setConfirming(undefined)}>Cancel</button>
                        </span>
                      ) : (
                        <>
                          <button type="button" className="secondary rotate" aria-label={`Rotate ${k.name}`} onClick={() => setConfirming({ id: k.id, action: 'rotate' })}>Rotate</button>
                          <button type="button" className="secondary revoke" aria-label={`Revoke ${k.name}`} onClick={() => setConfirming({ id: k.id, action: 'revoke' })}>Revoke</button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {next && <button type="button" className="secondary more" onClick={() => void load(next)}>Show more keys</button>}
      </section>

      <section aria-labelledby="create-key-title">
        <h2 id="create-key-title">Create a key</h2>
        <form id="create-key" className="inline-form" onSubmit={create} noValidate>
          <Field label="Name" name="name" required maxLength={120} error={errors.name} hint="What uses it, e.g. “CRM sync”." />
          <div className="field">
            <label htmlFor="key-scope">Scope</label>
            <select id="key-scope" name="scope" value={scope} onChange={(e) => setScope(e.target.value as Scope)} aria-describedby="key-scope-hint">
              {(Object.keys(SCOPE_TEXT) as Scope[]).map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
            <p className="hint" id="key-scope-hint">{SCOPE_TEXT[scope]}</p>
          </div>
          {scope === 'agent' && <Field label="Agent id" name="agentId" required error={errors.agentId} hint="Your system’s id for the agent the key acts as." />}
          <Field label="Expires after (days)" name="expiresInDays" type="number" min={1} max={3650} inputMode="numeric" error={errors.expiresInDays} hint="Empty: never." />
          <button type="submit">Create key</button>
        </form>
      </section>
    </>
  );
}
