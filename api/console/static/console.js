// Agent console: sign in with an API key, watch the queue of conversations waiting for a human,
// take one over, follow and answer it live, hand it back to the assistant. Plain DOM, no
// framework; every text from the server goes in through textContent, never as HTML.
// Live means polling the REST routes: the queue every 2 s, the open thread every second.

const KEY_ITEM = 'metachat.console.apiKey';
const AGENT_ITEM = 'metachat.console.agentId';
const QUEUE_EVERY_MS = 2000;
const THREAD_EVERY_MS = 1000;

const $ = (selector) => document.querySelector(selector);
const els = {
  login: $('#login'),
  desk: $('#desk'),
  error: $('#error'),
  whoami: $('#whoami'),
  signout: $('#signout'),
  queue: $('#queue'),
  queueEmpty: $('#queue-empty'),
  mine: $('#mine'),
  conversation: $('#conversation'),
  title: $('#title'),
  thread: $('#thread'),
  reply: $('#reply'),
  release: $('#release'),
};

let session = null; // { key, agentId }
let current = null; // { id, messages: Map<id, message>, rendered: string }
let timers = [];

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body, headers = {}) {
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${session.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const data = await res.json().catch(() => ({}));
  if (res.ok) return data;
  const error = new ApiError(res.status, data.error?.code ?? 'error', data.error?.message ?? `HTTP ${res.status}`);
  if (res.status === 401) signOut('The API key was refused (unknown, revoked or expired): sign in again.');
  throw error;
}

/** `source` 'refresh' marks an error that the next successful refresh clears by itself. */
function showError(message, source = 'action') {
  els.error.textContent = message;
  els.error.dataset.source = source;
  els.error.hidden = false;
}

function clearError() {
  els.error.hidden = true;
  els.error.textContent = '';
  delete els.error.dataset.source;
}

/** A failed call's message for the agent; a 401 already sent them back to the login form. */
function report(err, what, source) {
  if (err instanceof ApiError && err.status === 401) return;
  if (err instanceof ApiError && err.status === 429) return showError(`${what}: too many requests, slowing down. ${err.message}`, source);
  if (err instanceof ApiError && err.code === 'agent_mismatch') return showError(`${what}: this key acts for its own agent only: sign in again with the agent id it was created for.`, source);
  showError(`${what}: ${err.message}`, source);
}

/** When the API says too many requests, polling waits this long before the next try. */
const RATE_LIMITED_PAUSE_MS = 10_000;

/** Runs `step` now and then `ms` after each run ends, until stop(timer); runs never overlap. */
function every(ms, step) {
  const timer = { handle: 0, stopped: false };
  const tick = async () => {
    let wait = ms;
    try {
      await step();
      if (els.error.dataset.source === 'refresh') clearError();
    } catch (err) {
      report(err, 'Refresh failed', 'refresh');
      if (err instanceof ApiError && err.status === 429) wait = RATE_LIMITED_PAUSE_MS;
    }
    if (!timer.stopped) timer.handle = setTimeout(tick, wait);
  };
  timers.push(timer);
  tick();
  return timer;
}

function stop(timer) {
  timer.stopped = true;
  clearTimeout(timer.handle);
  timers = timers.filter((t) => t !== timer);
}

const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');

// ---- sign in / out ----

function defaultAgentId(key) {
  // Keys look like mcp_<prefix>_<secret>; the prefix is public and names the key.
  const prefix = /^mcp_([A-Za-z0-9]+)_/.exec(key)?.[1];
  return prefix ? `agent-${prefix}` : 'agent';
}

async function signIn(key, agentId) {
  session = { key, agentId: agentId || defaultAgentId(key) };
  // One cheap call proves the key before anything is kept.
  await api('GET', '/conversations?status=handoff_requested&limit=1');
  sessionStorage.setItem(KEY_ITEM, session.key);
  sessionStorage.setItem(AGENT_ITEM, session.agentId);
  document.body.dataset.state = 'signed-in';
  els.login.hidden = true;
  els.desk.hidden = false;
  els.signout.hidden = false;
  els.whoami.hidden = false;
  els.whoami.textContent = `Signed in as ${session.agentId}`;
  every(QUEUE_EVERY_MS, refreshQueue);
}

function signOut(message) {
  for (const t of [...timers]) stop(t);
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(AGENT_ITEM);
  session = null;
  current = null;
  document.body.dataset.state = 'signed-out';
  els.desk.hidden = true;
  els.conversation.hidden = true;
  els.signout.hidden = true;
  els.whoami.hidden = true;
  els.login.hidden = false;
  els.login.elements.apiKey.value = '';
  els.queue.replaceChildren();
  els.mine.replaceChildren();
  els.thread.replaceChildren();
  if (message) showError(message);
  else clearError();
}

els.login.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError();
  const key = els.login.elements.apiKey.value.trim();
  const agentId = els.login.elements.agentId.value.trim();
  const button = els.login.querySelector('button');
  button.disabled = true;
  try {
    await signIn(key, agentId);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      session = null;
      showError(err instanceof ApiError && err.status === 403 ? 'This key may not read conversations: use a key of scope agent or tenant.' : `Could not sign in: ${err.message}`);
    }
  } finally {
    button.disabled = false;
  }
});

els.signout.addEventListener('click', () => signOut());

// ---- the queue ----

function conversationItem(c, action) {
  const li = document.createElement('li');
  li.className = 'conversation';
  li.dataset.id = c.id;
  li.dataset.status = c.status;
  if (current?.id === c.id) li.classList.add('current');
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = `${c.channel} · ${c.externalUserId}`;
  const when = document.createElement('span');
  when.className = 'when';
  when.textContent = time(c.lastMessageAt ?? c.updatedAt);
  who.append(when);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = action;
  button.textContent = action === 'take' ? 'Take' : 'Open';
  button.addEventListener('click', () => (action === 'take' ? take(c.id, button) : open(c)));
  li.append(who, button);
  return li;
}

/** Replaces a list's items only when what it shows changed, so a click is never lost to a redraw. */
function renderList(list, items, action) {
  const signature = JSON.stringify(items.map((c) => [c.id, c.lastMessageAt, c.id === current?.id]));
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  list.replaceChildren(...items.map((c) => conversationItem(c, action)));
}

async function refreshQueue() {
  const agent = encodeURIComponent(session.agentId);
  const [waiting, mine] = await Promise.all([
    api('GET', '/conversations?status=handoff_requested&limit=100'),
    api('GET', `/conversations?status=assigned_human&assignee=${agent}&limit=100`),
  ]);
  if (!session) return;
  renderList(els.queue, waiting.items, 'take');
  els.queueEmpty.hidden = waiting.items.length > 0;
  renderList(els.mine, mine.items, 'open');
  if (!current) return;
  const held = mine.items.find((c) => c.id === current.id);
  if (held) {
    els.title.textContent = `${held.channel} · ${held.externalUserId}`;
    return;
  }
  // Released elsewhere, handed back after the agent's inactivity, or closed.
  const c = await api('GET', `/conversations/${current.id}`).catch(() => null);
  if (c && current?.id === c.id && c.status !== 'assigned_human') els.title.textContent = `${c.channel} · ${c.externalUserId} (${c.status.replace('_', ' ')}; not yours)`;
}

async function take(id, button) {
  clearError();
  button.disabled = true;
  try {
    await api('POST', `/conversations/${id}/take`, { agentId: session.agentId });
    const c = await api('GET', `/conversations/${id}`);
    open(c);
  } catch (err) {
    report(err, 'Could not take the conversation');
  } finally {
    button.disabled = false;
    if (session) refreshQueue().catch((err) => report(err, 'Refresh failed', 'refresh'));
  }
}

// ---- one conversation ----

function authorOf(m) {
  if (m.direction === 'inbound') return 'visitor';
  return m.content?.author === 'agent' ? 'agent' : 'assistant';
}

function textOf(m) {
  return typeof m.content?.text === 'string' && m.content.text ? m.content.text : `[${m.type}]`;
}

const ordered = (a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1);

function messageItem(m) {
  const li = document.createElement('li');
  const author = authorOf(m);
  li.className = 'message';
  li.dataset.id = m.id;
  li.dataset.author = author;
  if (m.status === 'failed') li.classList.add('failed');
  const meta = document.createElement('span');
  meta.className = 'meta';
  const who = author === 'agent' ? (m.content?.agentId ?? 'agent') : author;
  meta.textContent = `${who} · ${time(m.createdAt)}${m.status === 'failed' ? ' · not delivered' : ''}`;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = textOf(m);
  li.append(meta, text);
  return li;
}

function renderThread() {
  const messages = [...current.messages.values()].sort(ordered);
  const signature = JSON.stringify(messages.map((m) => [m.id, m.status]));
  if (signature === current.rendered) return;
  current.rendered = signature;
  const atBottom = els.thread.scrollTop + els.thread.clientHeight >= els.thread.scrollHeight - 20;
  els.thread.replaceChildren(...messages.map(messageItem));
  if (atBottom) els.thread.scrollTop = els.thread.scrollHeight;
}

async function refreshThread() {
  const c = current;
  if (!c) return;
  // The newest 100, merged by id: a thread only grows, and a status may change.
  const page = await api('GET', `/conversations/${c.id}/messages?limit=100`);
  if (current !== c) return;
  for (const m of page.items) c.messages.set(m.id, m);
  renderThread();
}

function open(c) {
  if (current?.timer) stop(current.timer);
  current = { id: c.id, messages: new Map(), rendered: '' };
  els.title.textContent = `${c.channel} · ${c.externalUserId}`;
  els.thread.replaceChildren();
  els.conversation.hidden = false;
  els.conversation.dataset.id = c.id;
  for (const li of document.querySelectorAll('.conversation')) li.classList.toggle('current', li.dataset.id === c.id);
  current.timer = every(THREAD_EVERY_MS, refreshThread);
  els.reply.elements.text.focus();
}

function close() {
  if (current?.timer) stop(current.timer);
  current = null;
  els.conversation.hidden = true;
  delete els.conversation.dataset.id;
  els.thread.replaceChildren();
}

/** A random Idempotency-Key (getRandomValues works where randomUUID needs a secure context). */
function freshKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The reply being sent and its Idempotency-Key, kept until the API answers: pressing Send again
 * after an error (a timeout, a 503) retries the same message instead of sending it twice.
 */
let unsent = null; // { conversationId, text, key }

els.reply.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!current) return;
  const field = els.reply.elements.text;
  const text = field.value.trim();
  if (!text) return;
  clearError();
  const button = els.reply.querySelector('button');
  button.disabled = true;
  if (unsent?.conversationId !== current.id || unsent.text !== text) unsent = { conversationId: current.id, text, key: freshKey() };
  try {
    // 200: sent or failed; 202: accepted and still sending (the thread shows it when stored).
    const result = await api('POST', `/conversations/${current.id}/messages`, { agentId: session.agentId, text }, { 'idempotency-key': unsent.key });
    unsent = null;
    field.value = '';
    if (result.status === 'failed') showError(`The message was not delivered: ${result.reason ?? 'the channel refused it'}`);
    await refreshThread();
  } catch (err) {
    report(err, 'Could not send');
  } finally {
    button.disabled = false;
  }
});

els.reply.elements.text.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    els.reply.requestSubmit();
  }
});

els.release.addEventListener('click', async () => {
  if (!current) return;
  clearError();
  els.release.disabled = true;
  try {
    await api('POST', `/conversations/${current.id}/release`, { agentId: session.agentId });
    close();
    await refreshQueue();
  } catch (err) {
    report(err, 'Could not release');
  } finally {
    els.release.disabled = false;
  }
});

// A reload of the tab keeps the session (sessionStorage), nothing else does.
const savedKey = sessionStorage.getItem(KEY_ITEM);
if (savedKey) {
  signIn(savedKey, sessionStorage.getItem(AGENT_ITEM) ?? '').catch((err) => {
    if (!(err instanceof ApiError && err.status === 401)) showError(`Could not sign in: ${err.message}`);
  });
}
