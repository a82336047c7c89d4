// The inbox (owners, admins and agents): the tenant's conversations filtered by status, channel,
// who holds them and whether they wait for a person, searchable by text; one conversation's
// thread with the sources of the assistant's replies; take over, reply and release. Changes
// arrive by push (components/live-events.ts), never by polling. The agent acting is the signed-in
// user: the API takes the agent id from the session. Owners and admins get a link to the
// conversation's workflow in the Temporal Web UI when the API has one configured. Once a WhatsApp
// customer's 24-hour window has closed, the composer offers the number's approved templates. A
// reply may carry a file, within what the channel takes (components/reply-attachment.tsx).
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api, codeOf, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { ConversationThread, type ThreadMessage } from '../components/conversation-thread';
import { useCoalesced, useConversationEvents, type ConversationEvent } from '../components/live-events';
import { AttachmentPicker, attachmentOf, attachmentProblem } from '../components/reply-attachment';
import { serviceWindowClosed, TemplateComposer } from '../components/template-composer';
import { Problem } from '../forms';
import './inbox.css';

type ListQuery = NonNullable<paths['/api/v1/conversations/']['get']['parameters']['query']>;
type Conversation = paths['/api/v1/conversations/']['get']['responses'][200]['content']['application/json']['items'][number];
type ConversationDetail = paths['/api/v1/conversations/{id}']['get']['responses'][200]['content']['application/json'];

interface Filters {
  status: ListQuery['status'] | '';
  channel: ListQuery['channel'] | '';
  assigned: ListQuery['assigned'] | '';
  waiting: boolean;
  q: string;
}

const NO_FILTERS: Filters = { status: '', channel: '', assigned: '', waiting: false, q: '' };
const STATUS_TEXT: Record<Conversation['status'], string> = { active: 'With the assistant', handoff_requested: 'Waiting for a person', assigned_human: 'With an agent', closed: 'Closed' };
const CHANNEL_TEXT: Record<Conversation['channel'], string> = { whatsapp: 'WhatsApp', messenger: 'Messenger', instagram: 'Instagram', webchat: 'Web chat' };

/** What a refused reply means to the agent. */
const SEND_FAILURE: Record<string, string> = {
  outside_customer_service_window: "Not sent: the customer last wrote more than 24 hours ago, so the channel no longer accepts a free-form reply until they write again.",
};

const newKey = () => crypto.randomUUID();

export function InboxPage({ me }: { me: Me }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [search, setSearch] = useState('');
  const [conversations, setConversations] = useState<Conversation[]>();
  const [openId, setOpenId] = useState<string>();
  const [conversation, setConversation] = useState<ConversationDetail>();
  const [messages, setMessages] = useState<ThreadMessage[]>([]);
  const [problem, setProblem] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const [draft, setDraft] = useState('');
  const [file, setFile] = useState<File>();
  const [fileProblem, setFileProblem] = useState('');
  // One key per message until the API answers it, so that sending again after an error retries
  // that message instead of sending it twice.
  const replyKey = useRef(newKey());
  const listRef = useRef<HTMLUListElement>(null);
  const threadHeading = useRef<HTMLHeadingElement>(null);
  const listAsked = useRef(0);
  const threadAsked = useRef(0);

  const loadList = useCallback(async () => {
    const query: ListQuery = {
      limit: 50,
      ...(filters.status && { status: filters.status }),
      ...(filters.channel && { channel: filters.channel }),
      ...(filters.assigned && { assigned: filters.assigned }),
      ...(filters.waiting && { waiting: 'true' as const }),
      ...(filters.q && { q: filters.q }),
    };
    const asked = ++listAsked.current;
    const { data, error, response } = await api.GET('/api/v1/conversations/', { params: { query } });
    // An answer to an earlier question (other filters, or overtaken by an event's refetch) is dropped.
    if (asked !== listAsked.current) return;
    if (data) setConversations(data.items);
    else setProblem(problemOf(error, response));
  }, [filters]);

  const loadThread = useCallback(async (id: string) => {
    const asked = ++threadAsked.current;
    const [c, m] = await Promise.all([
      api.GET('/api/v1/conversations/{id}', { params: { path: { id } } }),
      api.GET('/api/v1/conversations/{id}/messages', { params: { path: { id }, query: { order: 'asc', limit: 100 } } }),
    ]);
    if (asked !== threadAsked.current) return;
    if (c.data) setConversation(c.data);
    else setProblem(problemOf(c.error, c.response));
    if (m.data) setMessages(m.data.items);
    else setProblem(problemOf(m.error, m.response));
  }, []);

  useEffect(() => void loadList(), [loadList]);
  useEffect(() => {
    if (openId) void loadThread(openId);
  }, [openId, loadThread]);

  const refreshList = useCoalesced(loadList);
  const refreshThread = useCoalesced(async () => {
    if (openId) await loadThread(openId);
  });
  useConversationEvents((event: ConversationEvent) => {
    refreshList();
    if (openId && (event.kind === 'ready' || event.conversationId === openId)) refreshThread();
  });

  function open(id: string) {
    setProblem('');
    setNotice('');
    setDraft('');
    setFile(undefined);
    setFileProblem('');
    replyKey.current = newKey();
    if (id === openId) void loadThread(id);
    setOpenId(id);
    // The thread is where the agent goes next: its heading takes the focus.
    requestAnimationFrame(() => threadHeading.current?.focus());
  }

  /** Up and down move between the conversations of the list (Tab leaves it). */
  function moveInList(event: KeyboardEvent<HTMLUListElement>) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const buttons = [...(listRef.current?.querySelectorAll<HTMLButtonElement>('button.conversation') ?? [])];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next = buttons[Math.min(buttons.length - 1, Math.max(0, at + (event.key === 'ArrowDown' ? 1 : -1)))];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }

  function applySearch(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFilters((f) => ({ ...f, q: search.trim() }));
  }

  async function act(action: 'take' | 'release') {
    if (!conversation) return;
    setBusy(true);
    setProblem('');
    setNotice('');
    const path = action === 'take' ? '/api/v1/conversations/{id}/take' : '/api/v1/conversations/{id}/release';
    const { error, response } = await api.POST(path, { params: { path: { id: conversation.id } }, body: {} });
    setBusy(false);
    if (!response.ok) {
      const why = problemOf(error, response);
      setProblem(action === 'take' ? `Could not take the conversation over: ${why}` : `Could not release the conversation: ${why}`);
    } else {
      setNotice(action === 'take' ? 'You hold this conversation: the assistant stays quiet until you release it.' : 'Released: the assistant answers again.');
    }
    await Promise.all([loadThread(conversation.id), loadList()]);
  }

  async function reply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = draft.trim();
    if (!conversation || (!text && !file) || busy) return;
    setBusy(true);
    setProblem('');
    setNotice('');
    let attachment;
    try {
      attachment = file && (await attachmentOf(file));
    } catch {
      setBusy(false);
      setFileProblem(`${file!.name} could not be read: choose it again.`);
      return;
    }
    const { data, error, response } = await api.POST('/api/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id }, header: { 'idempotency-key': replyKey.current } },
      body: { text, ...(attachment && { attachment }) },
    });
    setBusy(false);
    if (!data) {
      setProblem(`Not sent: ${problemOf(error, response)}${codeOf(error) === 'handoff_conflict' ? '' : ' Press Send to try again.'}`);
      return;
    }
    replyKey.current = newKey();
    setDraft('');
    setFile(undefined);
    if (data.status === 'failed') setProblem(SEND_FAILURE[data.reason ?? ''] ?? `Not sent: the channel refused the message (${data.reason ?? 'failed'}).`);
    else if (data.status === 'pending') setNotice('Sending… the message shows in the thread once the channel has it.');
    await loadThread(conversation.id);
  }

  function chooseFile(chosen: File) {
    const why = conversation?.attachmentLimits ? attachmentProblem(chosen, conversation.attachmentLimits, CHANNEL_TEXT[conversation.channel]) : 'This channel takes no files.';
    setFileProblem(why ?? '');
    setFile(why ? undefined : chosen);
    // Another file is another message: a retry key belongs to what was tried before.
    replyKey.current = newKey();
  }

  /** Enter sends; Shift+Enter starts a new line. */
  function replyKeys(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      event.currentTarget.form?.requestSubmit();
    }
  }

  const mine = conversation?.status === 'assigned_human' && conversation.assignee === me.user.id;
  const holder = (id: string | null) => (id === me.user.id ? 'you' : (id ?? 'nobody'));

  return (
    <div className="inbox">
      <h1>Inbox</h1>
      <Problem>{problem}</Problem>
      {notice && <p className="inbox-notice" role="status">{notice}</p>}

      <div className="inbox-layout">
        <section className="inbox-list" aria-labelledby="inbox-list-title">
          <h2 id="inbox-list-title" className="visually-hidden">Conversations</h2>
          <form className="inbox-filters" role="search" aria-label="Filter conversations" onSubmit={applySearch}>
            <div className="field">
              <label htmlFor="inbox-q">Search</label>
              <div className="inbox-search">
                <input id="inbox-q" name="q" type="search" value={search} maxLength={200} placeholder="Text or customer id" onChange={(e) => setSearch(e.target.value)} />
                <button type="submit" className="secondary">Search</button>
              </div>
            </div>
            <div className="inbox-selects">
              <div className="field">
                <label htmlFor="inbox-status">Status</label>
                <select id="inbox-status" value={filters.status} onChange={(e) => setFilters((f) => ({ ...f, status: e.target.value as Filters['status'] }))}>
                  <option value="">Any</option>
                  {(Object.keys(STATUS_TEXT) as Conversation['status'][]).map((s) => <option key={s} value={s}>{STATUS_TEXT[s]}</option>)}
                </select>
              </div>
              <div className="field">
                <label htmlFor="inbox-channel">Channel</label>
                <select id="inbox-channel" value={filters.channel} onChange={(e) => setFilters((f) => ({ ...f, channel: e.target.value as Filters['channel'] }))}>
                  <option value="">Any</option>
                  {(Object.keys(CHANNEL_TEXT) as Conversation['channel'][]).map((c) => <option key={c} value={c}>{CHANNEL_TEXT[c]}</option>)}
                </select>
              </div>
              <div className="field">
                <label htmlFor="inbox-assigned">Held by</label>
                <select id="inbox-assigned" value={filters.assigned} onChange={(e) => setFilters((f) => ({ ...f, assigned: e.target.value as Filters['assigned'] }))}>
                  <option value="">Any or none</option>
                  <option value="me">Me</option>
                  <option value="anyone">Any agent</option>
                  <option value="unassigned">Nobody</option>
                </select>
              </div>
            </div>
            <label className="inbox-check">
              <input id="inbox-waiting" type="checkbox" checked={filters.waiting} onChange={(e) => setFilters((f) => ({ ...f, waiting: e.target.checked }))} />
              Waiting for a person
            </label>
          </form>

          {!conversations ? (
            <p>Loading…</p>
          ) : conversations.length === 0 ? (
            <p className="muted" id="inbox-empty">No conversations match.</p>
          ) : (
            <ul id="conversation-list" className="conversation-list" ref={listRef} onKeyDown={moveInList} aria-label="Conversations (up and down arrows move)">
              {conversations.map((c) => (
                <li key={c.id}>
                  <button type="button" className="conversation" data-id={c.id} aria-current={c.id === openId ? 'true' : undefined} onClick={() => open(c.id)}>
                    <span className="conversation-user">{c.externalUserId}</span>
                    <span className="conversation-facts">
                      {CHANNEL_TEXT[c.channel]} · <span className={`status status-${c.status}`}>{STATUS_TEXT[c.status]}</span>
                      {c.assignee && ` · ${holder(c.assignee)}`}
                    </span>
                    {c.lastMessageAt && <time className="conversation-time" dateTime={c.lastMessageAt}>{new Date(c.lastMessageAt).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' })}</time>}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>

        <section className="inbox-thread" aria-labelledby="thread-title" id="conversation" data-id={conversation?.id}>
          {!conversation ? (
            <h2 id="thread-title" className="muted" ref={threadHeading} tabIndex={-1}>Choose a conversation</h2>
          ) : (
            <>
              <h2 id="thread-title" ref={threadHeading} tabIndex={-1}>{conversation.externalUserId}</h2>
              <p className="thread-facts">
                {CHANNEL_TEXT[conversation.channel]} · <span className={`status status-${conversation.status}`}>{STATUS_TEXT[conversation.status]}</span>
                {conversation.assignee && ` · held by ${holder(conversation.assignee)}`}
                {conversation.workflowUrl && (
                  <>
                    {' · '}
                    <a id="workflow-link" href={conversation.workflowUrl} target="_blank" rel="noreferrer">Workflow in Temporal</a>
                  </>
                )}
              </p>
              <div className="thread-actions">
                {!mine && conversation.status !== 'closed' && (
                  <button type="button" id="take" disabled={busy} onClick={() => void act('take')}>Take over</button>
                )}
                {mine && <button type="button" id="release" className="secondary" disabled={busy} onClick={() => void act('release')}>Release to the assistant</button>}
              </div>
              <ConversationThread messages={messages} agentName={holder} />
              {serviceWindowClosed(conversation) ? (
                <TemplateComposer conversationId={conversation.id} channelId={conversation.channelId} onSent={() => loadThread(conversation.id)} />
              ) : mine && (
                <form id="reply" className="reply" onSubmit={(e) => void reply(e)}>
                  <label htmlFor="reply-text">Reply to the customer</label>
                  <textarea id="reply-text" name="text" rows={3} maxLength={4096} value={draft} aria-describedby="reply-hint" onChange={(e) => setDraft(e.target.value)} onKeyDown={replyKeys} />
                  <p className="hint" id="reply-hint">Enter sends, Shift+Enter starts a new line.</p>
                  {conversation.attachmentLimits && (
                    <AttachmentPicker
                      limits={conversation.attachmentLimits}
                      file={file}
                      problem={fileProblem}
                      disabled={busy}
                      onChoose={chooseFile}
                      onRemove={() => {
                        setFile(undefined);
                        replyKey.current = newKey();
                      }}
                    />
                  )}
                  <button type="submit" disabled={busy || (!draft.trim() && !file)}>Send</button>
                </form>
              )}
            </>
          )}
        </section>
      </div>
    </div>
  );
}
