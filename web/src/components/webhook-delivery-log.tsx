// One webhook endpoint's delivery log, newest first, a page at a time: each delivery's event,
// status, attempts, last answer and time, the body it POSTs on request, and a redeliver button
// for one that is finished. While
// a delivery shown is still being attempted the log refreshes itself, so a test event or a
// redelivery is seen to land.
import { Fragment, useCallback, useEffect, useState } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Problem } from '../forms';
import { Timestamp } from './timestamp';

type Delivery = paths['/api/v1/webhook-endpoints/{id}/deliveries']['get']['responses'][200]['content']['application/json']['items'][number];

export const DELIVERIES_PER_PAGE = 10;
const REFRESH_MS = 1000;

/** `version`: bumped by the page when it started a delivery, so the log reloads. */
export function WebhookDeliveryLog({ endpointId, url, active, version }: { endpointId: string; url: string; active: boolean; version: number }) {
  const [deliveries, setDeliveries] = useState<Delivery[]>();
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState('');
  const [opened, setOpened] = useState<{ id: string; body?: string }>();
  const shown = deliveries?.length ?? 0;

  // Reloads as many as are shown (at least a page), so a refresh keeps the older pages opened.
  const reload = useCallback(async (count: number) => {
    const { data, error, response } = await api.GET('/api/v1/webhook-endpoints/{id}/deliveries', {
      params: { path: { id: endpointId }, query: { limit: Math.min(100, Math.max(DELIVERIES_PER_PAGE, count)) } },
    });
    if (!data) return setProblem(problemOf(error, response));
    setDeliveries(data.items);
    setNext(data.nextCursor);
  }, [endpointId]);

  useEffect(() => void reload(0), [reload, version]);

  const pending = deliveries?.some((d) => d.status === 'pending') ?? false;
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(() => void reload(shown), REFRESH_MS);
    return () => clearTimeout(timer);
  }, [pending, deliveries, reload, shown]);

  async function older() {
    if (!next) return;
    const { data, error, response } = await api.GET('/api/v1/webhook-endpoints/{id}/deliveries', { params: { path: { id: endpointId }, query: { limit: DELIVERIES_PER_PAGE, cursor: next } } });
    if (!data) return setProblem(problemOf(error, response));
    setDeliveries((before) => [...(before ?? []), ...data.items]);
    setNext(data.nextCursor);
  }

  async function details(d: Delivery) {
    if (opened?.id === d.id) return setOpened(undefined);
    setOpened({ id: d.id });
    const { data, error, response } = await api.GET('/api/v1/webhook-deliveries/{id}', { params: { path: { id: d.id } } });
    if (!data) return setProblem(problemOf(error, response));
    setOpened({ id: d.id, body: JSON.stringify(data.event, null, 2) });
  }

  async function redeliver(d: Delivery) {
    setProblem('');
    const { error, response } = await api.POST('/api/v1/webhook-deliveries/{id}/redeliver', { params: { path: { id: d.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    await reload(shown);
  }

  return (
    <section aria-labelledby="deliveries-title" className="delivery-log">
      <h2 id="deliveries-title">Deliveries to <span className="url">{url}</span></h2>
      <Problem>{problem}</Problem>
      {!deliveries ? (
        <p>Loading…</p>
      ) : deliveries.length === 0 ? (
        <p id="no-deliveries">Nothing delivered yet. Send a test event to see one here.</p>
      ) : (
        <div className="table-wrap">
          <table id="deliveries" aria-busy={pending}>
            <thead>
              <tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Answer</th><th scope="col">Last attempt</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <Fragment key={d.id}>
                  <tr data-delivery-id={d.id} data-status={d.status}>
                    <th scope="row"><code>{d.eventType}</code></th>
                    <td><span className={`delivery-status delivery-${d.status}`}>{d.status}</span></td>
                    <td className="attempts">{d.attempts}</td>
                    <td className="answer">
                      {d.lastStatusCode !== null ? <>HTTP {d.lastStatusCode}</> : <span className="muted">none</span>}
                      {d.lastDurationMs !== null && <span className="muted"> in {d.lastDurationMs} ms</span>}
                      {d.lastError && <p className="muted last-error">{d.lastError}</p>}
                    </td>
                    <td><Timestamp at={d.lastAttemptAt ?? d.createdAt} /></td>
                    <td className="actions">
                      <button type="button" className="secondary details" aria-expanded={opened?.id === d.id} aria-controls={opened?.id === d.id ? `body-${d.id}` : undefined} aria-label={`Body of ${d.eventType} of ${new Date(d.createdAt).toLocaleString()}`} onClick={() => void details(d)}>Body</button>
                      {d.status !== 'pending' && (
                        <button type="button" className="secondary redeliver" disabled={!active} aria-label={`Redeliver ${d.eventType} of ${new Date(d.createdAt).toLocaleString()}`} onClick={() => void redeliver(d)}>Redeliver</button>
                      )}
                    </td>
                  </tr>
                  {opened?.id === d.id && (
                    <tr className="delivery-body" id={`body-${d.id}`}>
                      <td colSpan={6}>{opened.body === undefined ? <p aria-busy="true">Loading…</p> : <pre aria-label={`Body of the ${d.eventType} delivery`} tabIndex={0}>{opened.body}</pre>}</td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!active && deliveries && deliveries.length > 0 && <p className="muted" id="enable-to-redeliver">Enable the endpoint to deliver an event again.</p>}
      {next && <button type="button" className="secondary older" onClick={() => void older()}>Show older deliveries</button>}
    </section>
  );
}
