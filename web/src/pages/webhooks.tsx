// Webhooks (owners and admins): the endpoints the platform POSTs the tenant's events to. Add,
// edit, disable or re-enable and delete one, rotate its signing secret (shown once, to copy),
// send it a test event, and read its delivery log, where a finished delivery can be sent again.
import { useCallback, useEffect, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import { ShownOnce } from '../components/shown-once';
import { WebhookDeliveryLog } from '../components/webhook-delivery-log';
import { WebhookEndpointForm, type Created, type WebhookEndpoint } from '../components/webhook-endpoint-form';
import { Problem } from '../forms';
import './webhooks.css';

export function WebhooksPage(_: { me: Me }) {
  const [endpoints, setEndpoints] = useState<WebhookEndpoint[]>();
  const [problem, setProblem] = useState('');
  const [notice, setNotice] = useState('');
  const [secret, setSecret] = useState<{ url: string; secret: string; rotated: boolean }>();
  const [editing, setEditing] = useState<WebhookEndpoint>();
  const [deleting, setDeleting] = useState<string>();
  const [logOf, setLogOf] = useState<string>();
  const [logVersion, setLogVersion] = useState(0);

  const load = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/webhook-endpoints/');
    if (data) setEndpoints(data.items);
    else setProblem(problemOf(error, response));
  }, []);
  useEffect(() => void load(), [load]);

  function clear() {
    setProblem('');
    setNotice('');
    setSecret(undefined);
  }

  async function saved({ endpoint, secret: shown }: Created) {
    setEditing(undefined);
    if (shown) setSecret({ url: endpoint.url, secret: shown, rotated: false });
    else setNotice(`Saved ${endpoint.url}.`);
    await load();
  }

  async function setStatus(e: WebhookEndpoint, status: 'active' | 'disabled') {
    clear();
    const { error, response } = await api.PATCH('/api/v1/webhook-endpoints/{id}', { params: { path: { id: e.id } }, body: { status } });
    if (!response.ok) setProblem(problemOf(error, response));
    else setNotice(status === 'active' ? `Enabled ${e.url}.` : `Disabled ${e.url}: nothing is delivered to it until it is enabled again.`);
    await load();
  }

  async function rotate(e: WebhookEndpoint) {
    clear();
    const { data, error, response } = await api.POST('/api/v1/webhook-endpoints/{id}/rotate-secret', { params: { path: { id: e.id } } });
    if (!data) setProblem(problemOf(error, response));
    else setSecret({ url: data.url, secret: data.secret, rotated: true });
    await load();
  }

  async function sendTest(e: WebhookEndpoint) {
    clear();
    const { data, error, response } = await api.POST('/api/v1/webhook-endpoints/{id}/test', { params: { path: { id: e.id } } });
    if (!data) return setProblem(problemOf(error, response));
    setNotice(`A ping event is on its way to ${e.url}: see its delivery below.`);
    setLogOf(e.id);
    setLogVersion((v) => v + 1);
  }

  async function remove(e: WebhookEndpoint) {
    clear();
    setDeleting(undefined);
    const { error, response } = await api.DELETE('/api/v1/webhook-endpoints/{id}', { params: { path: { id: e.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    else setNotice(`Deleted ${e.url} and its delivery log.`);
    if (logOf === e.id) setLogOf(undefined);
    if (editing?.id === e.id) setEditing(undefined);
    await load();
  }

  const logged = endpoints?.find((e) => e.id === logOf);

  return (
    <>
      <h1>Webhooks</h1>
      <p className="muted">The platform POSTs your tenant’s events to these URLs, signed with each endpoint’s secret (header <code>x-metachat-signature</code>), and retries with backoff until they answer 2xx.</p>
      <Problem>{problem}</Problem>
      {notice && <p className="notice webhook-notice" role="status">{notice}</p>}
      {secret && (
        <ShownOnce id="signing-secret" label={`Signing secret of ${secret.url}`} value={secret.secret}>
          {secret.rotated ? `The new signing secret of ${secret.url}; the old one no longer signs anything.` : `The signing secret of ${secret.url}.`}
        </ShownOnce>
      )}

      <section aria-labelledby="endpoints-title">
        <h2 id="endpoints-title">Endpoints</h2>
        {!endpoints ? (
          <p>Loading…</p>
        ) : endpoints.length === 0 ? (
          <p id="no-endpoints">None yet.</p>
        ) : (
          <ul className="endpoints" id="endpoints">
            {endpoints.map((e) => (
              <li key={e.id} data-endpoint-id={e.id} data-status={e.status} aria-labelledby={`endpoint-${e.id}`}>
                <div className="endpoint-head">
                  <h3 id={`endpoint-${e.id}`} className="url">{e.url}</h3>
                  <span className={`endpoint-status endpoint-${e.status}`}>{e.status}</span>
                </div>
                {e.description && <p className="description">{e.description}</p>}
                <p className="muted events">Events: {e.events.length === 0 ? 'all' : e.events.join(', ')}</p>
                {e.status === 'disabled' && e.disabledReason && <p className="muted disabled-reason">Disabled: {e.disabledReason}</p>}
                {e.consecutiveFailures > 0 && <p className="failures">{e.consecutiveFailures} deliveries in a row failed after every retry.</p>}
                <div className="endpoint-actions">
                  <button type="button" className="secondary log" aria-pressed={logOf === e.id} onClick={() => setLogOf(logOf === e.id ? undefined : e.id)}>Deliveries</button>
                  <button type="button" className="secondary test" disabled={e.status !== 'active'} onClick={() => void sendTest(e)}>Send test event</button>
                  <button type="button" className="secondary edit" onClick={() => { clear(); setEditing(e); }}>Edit</button>
                  {e.status === 'active' ? (
                    <button type="button" className="secondary disable" onClick={() => void setStatus(e, 'disabled')}>Disable</button>
                  ) : (
                    <button type="button" className="secondary enable" onClick={() => void setStatus(e, 'active')}>Enable</button>
                  )}
                  <button type="button" className="secondary rotate" onClick={() => void rotate(e)}>Rotate secret</button>
                  {deleting === e.id ? (
                    <>
                      <button type="button" className="danger confirm-delete" onClick={() => void remove(e)}>Delete it and its log</button>
                      <button type="button" className="secondary" onClick={() => setDeleting(undefined)}>Cancel</button>
                    </>
                  ) : (
                    <button type="button" className="secondary delete" onClick={() => setDeleting(e.id)}>Delete</button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>

      {logged && <WebhookDeliveryLog key={logged.id} endpointId={logged.id} url={logged.url} active={logged.status === 'active'} version={logVersion} />}

      <section aria-labelledby="endpoint-form-title">
        <h2 id="endpoint-form-title">{editing ? `Edit ${editing.url}` : 'Add an endpoint'}</h2>
        <WebhookEndpointForm key={editing?.id ?? 'new'} editing={editing} onDone={(r) => void saved(r)} onCancel={() => setEditing(undefined)} />
      </section>
    </>
  );
}
