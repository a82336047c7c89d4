// Channels (owners and admins): the tenant's WhatsApp numbers, Messenger pages, Instagram
// accounts and web chat widgets. Connect one with the guided form of its type, set it up outside the platform (the
// webhook URL and verify token for Meta, or the embed snippet and a preview of the widget), test
// a Meta channel's token, edit one, and disconnect one after a confirmation.
import { useCallback, useEffect, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import { ChannelForm, TYPE_NAMES, type Channel, type ChannelType } from '../components/channel-form';
import { ChannelSetup } from '../components/channel-setup';
import { Problem } from '../forms';
import './channels.css';

const TYPES: readonly { type: ChannelType; what: string }[] = [
  { type: 'whatsapp', what: 'A WhatsApp Business number of the Cloud API.' },
  { type: 'messenger', what: 'A Facebook Page, answered in Messenger.' },
  { type: 'instagram', what: 'An Instagram professional account, answered in its direct messages.' },
  { type: 'webchat', what: 'A chat window on your own website.' },
];

/** What identifies the channel at its provider. */
function addressOf(c: Channel): string {
  if (c.type === 'whatsapp') return `number ${c.phoneNumberId ?? '—'}`;
  if (c.type === 'messenger') return `page ${c.pageId ?? '—'}`;
  if (c.type === 'instagram') return `account ${c.instagramAccountId ?? '—'}`;
  return `widget ${c.widgetId ?? '—'}`;
}

export function ChannelsPage(_: { me: Me }) {
  const [channels, setChannels] = useState<Channel[]>();
  const [problem, setProblem] = useState('');
  const [connecting, setConnecting] = useState<ChannelType>();
  const [selected, setSelected] = useState<string>();
  const [editing, setEditing] = useState<string>();
  const [disconnecting, setDisconnecting] = useState<string>();
  const [notice, setNotice] = useState('');
  // Verify tokens set from this page, by channel id: the API keeps only their hashes.
  const [verifyTokens, setVerifyTokens] = useState<Record<string, string>>({});

  // Every page of the list: a tenant has a handful of channels, rarely more than one page of 100.
  const load = useCallback(async () => {
    const items: Channel[] = [];
    let cursor: string | undefined;
    do {
      const { data, error, response } = await api.GET('/api/v1/channels/', { params: { query: { limit: 100, ...(cursor && { cursor }) } } });
      if (!data) return setProblem(problemOf(error, response));
      items.push(...data.items);
      cursor = data.nextCursor ?? undefined;
    } while (cursor);
    setChannels(items);
  }, []);
  useEffect(() => void load(), [load]);

  const remember = (id: string, token: string | undefined) => token && setVerifyTokens((t) => ({ ...t, [id]: token }));

  async function connected(channel: Channel, verifyToken: string | undefined) {
    remember(channel.id, verifyToken);
    setConnecting(undefined);
    setSelected(channel.id);
    setNotice(`${channel.name} is connected. Now set it up below.`);
    await load();
  }

  async function saved(channel: Channel, verifyToken: string | undefined) {
    remember(channel.id, verifyToken);
    setEditing(undefined);
    setSelected(channel.id);
    setNotice(`${channel.name} is saved.`);
    await load();
  }

  async function disconnect(channel: Channel) {
    setProblem('');
    setNotice('');
    setDisconnecting(undefined);
    const { error, response } = await api.DELETE('/api/v1/channels/{id}', { params: { path: { id: channel.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    else {
      if (selected === channel.id) setSelected(undefined);
      if (editing === channel.id) setEditing(undefined);
      setNotice(`${channel.name} is disconnected.`);
    }
    await load();
  }

  const open = (id: string, edit: boolean) => {
    setNotice('');
    setSelected(edit ? selected : id);
    setEditing(edit ? id : undefined);
  };
  const current = channels?.find((c) => c.id === selected);
  const edited = channels?.find((c) => c.id === editing);

  return (
    <>
      <h1>Channels</h1>
      <Problem>{problem}</Problem>
      <p className="channel-notice" role="status">{notice}</p>

      <section aria-labelledby="channels-title">
        <h2 id="channels-title">Connected channels</h2>
        {!channels ? (
          <p>Loading…</p>
        ) : channels.length === 0 ? (
          <p>None yet: connect one below.</p>
        ) : (
          <div className="table-wrap">
            <table id="channels">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">At the provider</th>
                  <th scope="col">Status</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {channels.map((c) => (
                  <tr key={c.id} data-channel={c.id} aria-current={c.id === selected ? 'true' : undefined}>
                    <th scope="row">{c.name}</th>
                    <td>{TYPE_NAMES[c.type]}</td>
                    <td className="channel-address">{addressOf(c)}</td>
                    <td><span className={`channel-status status-${c.status}`}>{c.status}</span></td>
                    <td className="actions">
                      {disconnecting === c.id ? (
                        <span className="confirm" role="group" aria-label={`Confirm disconnecting ${c.name}`}>
                          <span className="confirm-text">Its conversations and messages are deleted too.</span>
                          <button type="button" className="danger confirm-disconnect" onClick={() => void disconnect(c)}>Disconnect {c.name}</button>
                          <button type="button" className="secondary" onClick={() => setDisconnecting(undefined)}>Cancel</button>
                        </span>
                      ) : (
                        <>
                          <button type="button" className="secondary setup" onClick={() => open(c.id, false)} aria-label={`Set up ${c.name}`}>Set up</button>
                          <button type="button" className="secondary edit" onClick={() => open(c.id, true)} aria-label={`Edit ${c.name}`}>Edit</button>
                          <button type="button" className="secondary disconnect" onClick={() => setDisconnecting(c.id)} aria-label={`Disconnect ${c.name}`}>Disconnect</button>
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

      {edited && (
        <section aria-labelledby="edit-title" className="channel-panel">
          <h2 id="edit-title">Edit {edited.name}</h2>
          <ChannelForm key={edited.id} type={edited.type} channel={edited} onSaved={(c, t) => void saved(c, t)} onCancel={() => setEditing(undefined)} />
        </section>
      )}

      {current && !edited && (
        <section aria-labelledby="setup-title" className="channel-panel" id="channel-setup">
          <h2 id="setup-title">Set up {current.name}</h2>
          <ChannelSetup key={current.id} channel={current} verifyToken={verifyTokens[current.id]} onVerifyToken={(t) => remember(current.id, t)} />
        </section>
      )}

      <section aria-labelledby="connect-title">
        <h2 id="connect-title">Connect a channel</h2>
        <ul className="channel-types">
          {TYPES.map(({ type, what }) => (
            <li key={type}>
              <button type="button" className="secondary channel-type" aria-pressed={connecting === type} onClick={() => setConnecting(connecting === type ? undefined : type)}>
                {TYPE_NAMES[type]}
              </button>
              <span className="hint">{what}</span>
            </li>
          ))}
        </ul>
        {connecting && (
          <div className="channel-panel">
            <h3>Connect {TYPE_NAMES[connecting]}</h3>
            <ChannelForm key={connecting} type={connecting} onSaved={(c, t) => void connected(c, t)} onCancel={() => setConnecting(undefined)} />
          </div>
        )}
      </section>
    </>
  );
}
