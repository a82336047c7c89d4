// The web chat widget: one socket to /webchat (protocol in the README, "Web chat"), reconnecting
// with backoff. The visitor is the server's: a first visit asks POST /webchat/visitors for a
// visitor token, kept in localStorage, and every socket opens with it (a refused one, 4401, is
// dropped and a new one asked for). A fresh page asks for the recent thread; a reconnect asks for
// what came after the last message it saw (its cursor), so nothing is missed and nothing shows
// twice (messages are kept by id). Messages typed while offline wait in an outbox and are sent,
// with the same clientMessageId, once the socket is back: the server stores and answers each one
// once. One over a limit stays in the outbox and is sent again when the server says. Choices a
// message offers are buttons: a tap sends the choice's title with its id, as a message. A file
// sent to the visitor is a link (an image is shown), signed by the server for this message. A
// reply being streamed shows as a draft that grows piece by piece (`draft` frames, in order per
// attempt: a new attempt starts it afresh, a missing piece freezes it); the reply itself, under
// the same id, takes its place, and `draft_cleared` removes a draft that will not be the reply.
(() => {
  'use strict';

  const widgetId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  const TOKEN_KEY = `metachat.token.${widgetId}`;
  const CURSOR_KEY = `metachat.cursor.${widgetId}`;
  /** Where visitor ids chosen by earlier versions of this page were kept; they are not accepted any more. */
  const LEGACY_VISITOR_KEY = `metachat.visitor.${widgetId}`;
  const PING_MS = 25_000;
  const TYPING_IDLE_MS = 3_000;
  const TYPING_SHOWN_MAX_MS = 60_000;
  const RESEND_MIN_MS = 1_000;
  const INVALID_TOKEN = 4401;
  const NOT_AVAILABLE = { 4403: 'This chat cannot be opened from this page.', 4404: 'This chat is not available.' };

  // localStorage can throw (storage disabled, sandboxed frames): the chat then works for this page only.
  const store = {
    get(key) {
      try { return localStorage.getItem(key); } catch { return null; }
    },
    set(key, value) {
      try { localStorage.setItem(key, value); } catch { /* not kept */ }
    },
    remove(key) {
      try { localStorage.removeItem(key); } catch { /* nothing kept */ }
    },
  };

  function randomId(prefix) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // A visitor of an earlier version starts afresh: its cursor belonged to that visitor's thread.
  if (store.get(LEGACY_VISITOR_KEY) !== null) {
    store.remove(LEGACY_VISITOR_KEY);
    store.remove(CURSOR_KEY);
  }
  let token = store.get(TOKEN_KEY);

  const body = document.body;
  const list = document.getElementById('messages');
  const typing = document.getElementById('typing');
  const form = document.getElementById('composer');
  const input = form.elements.namedItem('text');
  const button = form.querySelector('button[type="submit"]');
  const status = document.getElementById('status');

  /** id → element, for every message shown with a server id. */
  const byId = new Map();
  /** Reply id → { el, textEl, attempt, next } for replies being streamed. */
  const drafts = new Map();
  /** clientMessageId → { text, el } for the visitor's messages the server has not accepted yet. */
  const outbox = new Map();

  let socket = null;
  let connecting = false;
  let ready = false;
  let cursor = null;
  let firstConnect = true;
  let attempts = 0;
  let stopped = false;
  let reconnectTimer = null;
  let pingTimer = null;
  let resendTimer = null;
  let typingHideTimer = null;
  let typingOffTimer = null;
  let typingSent = false;

  function setConnection(state, label) {
    body.dataset.connection = state;
    status.textContent = label;
  }

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
  }

  function render(author, text, id, extra) {
    const el = document.createElement('li');
    el.className = 'message';
    el.dataset.author = author;
    if (id) el.dataset.id = id;
    if (author === 'agent') {
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = 'Agent';
      el.append(who);
    }
    if (text) {
      const span = document.createElement('span');
      span.className = 'text';
      span.textContent = text;
      el.append(span);
    }
    if (extra && extra.file) el.append(renderFile(extra.file));
    if (extra && Array.isArray(extra.choices) && extra.choices.length > 0) el.append(renderChoices(extra.choices));
    return el;
  }

  function renderFile(file) {
    const link = document.createElement('a');
    link.className = 'file';
    link.href = file.url;
    link.target = '_blank';
    link.rel = 'noopener';
    if (file.kind === 'image') {
      const img = document.createElement('img');
      img.src = file.url;
      img.alt = file.filename;
      link.append(img);
    } else {
      link.download = file.filename;
      link.textContent = file.filename;
    }
    return link;
  }

  /** Buttons for the choices; a tap sends the pick (once: the set is then done). */
  function renderChoices(choices) {
    const group = document.createElement('div');
    group.className = 'choices';
    group.setAttribute('role', 'group');
    for (const choice of choices) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'choice';
      b.textContent = choice.title;
      if (choice.description) b.title = choice.description;
      b.addEventListener('click', () => {
        if (stopped) return;
        for (const other of group.querySelectorAll('button')) other.disabled = true;
        b.setAttribute('aria-pressed', 'true');
        submit(choice.title, choice.id);
      });
      group.append(b);
    }
    return group;
  }

  /** Choices offered before a message of the visitor's were answered or passed over: their buttons stay, disabled. */
  function settleChoices(visitorEl) {
    for (const b of list.querySelectorAll('.choices button')) {
      if (visitorEl.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_PRECEDING) b.disabled = true;
    }
  }

  /** Server messages go before the visitor's unaccepted ones, which were typed after them. */
  function insert(el) {
    const firstPending = list.querySelector('.message.pending');
    list.insertBefore(el, firstPending);
    scrollToEnd();
  }

  function notice(text) {
    const el = document.createElement('li');
    el.className = 'notice';
    el.textContent = text;
    list.append(el);
    scrollToEnd();
  }

  function showTyping(on) {
    clearTimeout(typingHideTimer);
    typing.hidden = !on;
    if (on) typingHideTimer = setTimeout(() => { typing.hidden = true; }, TYPING_SHOWN_MAX_MS);
  }

  function send(frame) {
    if (!socket || !ready || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function flushOutbox() {
    for (const [clientMessageId, entry] of outbox) send(messageFrame(clientMessageId, entry));
  }

  function accepted(frame) {
    const entry = outbox.get(frame.clientMessageId);
    if (!entry) return;
    outbox.delete(frame.clientMessageId);
    if (byId.has(frame.id)) {
      entry.el.remove(); // its replay got here first
      return;
    }
    entry.el.dataset.id = frame.id;
    entry.el.classList.remove('pending');
    byId.set(frame.id, entry.el);
  }

  function message(frame) {
    if (typeof frame.cursor === 'string' && frame.cursor) {
      cursor = frame.cursor;
      store.set(CURSOR_KEY, cursor);
    }
    if (frame.author !== 'visitor') showTyping(false);
    if (byId.has(frame.id)) return;
    const mine = frame.author === 'visitor' && frame.clientMessageId ? outbox.get(frame.clientMessageId) : undefined;
    if (mine) {
      accepted({ clientMessageId: frame.clientMessageId, id: frame.id });
      return;
    }
    const el = render(frame.author, frame.text, frame.id, frame);
    byId.set(frame.id, el);
    const shown = drafts.get(frame.id);
    if (shown) {
      drafts.delete(frame.id);
      shown.el.replaceWith(el);
      scrollToEnd();
    } else insert(el);
    if (frame.author === 'visitor') settleChoices(el);
  }

  function draft(frame) {
    if (typeof frame.id !== 'string' || typeof frame.text !== 'string' || byId.has(frame.id)) return;
    let shown = drafts.get(frame.id);
    if (shown && (shown.attempt !== frame.attempt || frame.seq === 0)) {
      shown.textEl.textContent = '';
      shown.attempt = frame.attempt;
      shown.next = 0;
    }
    if (!shown) {
      if (frame.seq !== 0) return; // joined half-way: the reply shows whole
      const el = render('assistant', '', null);
      el.classList.add('draft');
      el.dataset.draftId = frame.id;
      el.setAttribute('aria-busy', 'true');
      const textEl = document.createElement('span');
      textEl.className = 'text';
      el.append(textEl);
      shown = { el, textEl, attempt: frame.attempt, next: 0 };
      drafts.set(frame.id, shown);
      insert(el);
    }
    if (frame.seq !== shown.next) return; // a piece went missing: the reply will replace what is shown
    shown.textEl.textContent += frame.text;
    shown.next++;
    showTyping(false);
    scrollToEnd();
  }

  function draftCleared(frame) {
    const shown = drafts.get(frame.id);
    if (!shown) return;
    drafts.delete(frame.id);
    shown.el.remove();
  }

  function handle(frame) {
    switch (frame && frame.type) {
      case 'ready':
        if (typeof frame.token === 'string' && frame.token) {
          token = frame.token;
          store.set(TOKEN_KEY, token);
        }
        ready = true;
        attempts = 0;
        firstConnect = false;
        setConnection('open', 'Online');
        flushOutbox();
        clearInterval(pingTimer);
        pingTimer = setInterval(() => send({ type: 'ping' }), PING_MS);
        break;
      case 'accepted':
        accepted(frame);
        break;
      case 'message':
        message(frame);
        break;
      case 'typing':
        showTyping(frame.state === 'on');
        break;
      case 'draft':
        draft(frame);
        break;
      case 'draft_cleared':
        draftCleared(frame);
        break;
      case 'error':
        // A message refused for now (a limit, a hand-over failure) stays in the outbox: sent again when the server says, or shortly.
        if ((frame.code === 'rate_limited' || frame.code === 'unavailable') && outbox.size > 0) {
          clearTimeout(resendTimer);
          resendTimer = setTimeout(flushOutbox, Math.max(RESEND_MIN_MS, typeof frame.retryAfterMs === 'number' ? frame.retryAfterMs : 3_000));
        }
        break;
      default:
        break;
    }
  }

  /** A new visitor token (none kept, or the kept one refused); its thread starts empty. */
  async function newVisitor() {
    let res;
    try {
      res = await fetch('/webchat/visitors', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ widgetId }) });
    } catch {
      return { retryMs: null };
    }
    if (res.status === 201) {
      const body = await res.json().catch(() => null);
      if (!body || typeof body.token !== 'string') return { retryMs: null };
      token = body.token;
      store.set(TOKEN_KEY, token);
      store.remove(CURSOR_KEY);
      cursor = null;
      firstConnect = true;
      return { token };
    }
    if (res.status === 403) return { closeCode: 4403 };
    if (res.status === 400 || res.status === 404) return { closeCode: 4404 };
    const retryAfter = Number(res.headers.get('retry-after'));
    return { retryMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null };
  }

  async function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped || socket || connecting) return;
    setConnection('connecting', 'Connecting…');
    if (!token) {
      connecting = true;
      const got = await newVisitor();
      connecting = false;
      if (got.closeCode) return closed(got.closeCode);
      if (!got.token) return closed(null, got.retryMs);
    }
    const params = new URLSearchParams({ widgetId, token });
    const resume = firstConnect ? null : cursor || store.get(CURSOR_KEY);
    if (resume) params.set('after', resume);
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/webchat?${params}`);
    socket = ws;
    ws.addEventListener('message', (event) => {
      if (socket !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      handle(frame);
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return;
      socket = null;
      ready = false;
      clearInterval(pingTimer);
      closed(event.code);
    });
  }

  /** After a close (or a failed visitor request): stop for good, or try again with backoff (at least `waitMs`). */
  function closed(code, waitMs) {
    if (NOT_AVAILABLE[code]) {
      stopped = true;
      setConnection('closed', 'Unavailable');
      notice(NOT_AVAILABLE[code]);
      input.disabled = true;
      button.disabled = true;
      return;
    }
    if (code === INVALID_TOKEN) {
      token = null;
      store.remove(TOKEN_KEY);
    }
    setConnection('closed', 'Reconnecting…');
    const base = Math.min(10_000, 500 * 2 ** attempts);
    attempts++;
    const delay = Math.max(waitMs || 0, Math.round(base / 2 + Math.random() * (base / 2)));
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!socket && !stopped && !connecting) connect();
  }

  function sendTyping(on) {
    if (typingSent === on) return;
    if (send({ type: 'typing', state: on ? 'on' : 'off' })) typingSent = on;
  }

  function messageFrame(clientMessageId, entry) {
    return entry.choiceId ? { type: 'message', clientMessageId, text: entry.text, choiceId: entry.choiceId } : { type: 'message', clientMessageId, text: entry.text };
  }

  /** Shows the visitor's message at once and sends it (again after a reconnect, until accepted). */
  function submit(text, choiceId) {
    const clientMessageId = randomId('c_');
    const el = render('visitor', text, null);
    el.classList.add('pending');
    el.dataset.clientId = clientMessageId;
    list.append(el);
    settleChoices(el);
    scrollToEnd();
    const entry = choiceId ? { text, el, choiceId } : { text, el };
    outbox.set(clientMessageId, entry);
    send(messageFrame(clientMessageId, entry));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || stopped) return;
    input.value = '';
    clearTimeout(typingOffTimer);
    sendTyping(false);
    submit(text);
  });

  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  input.addEventListener('input', () => {
    if (!input.value.trim()) return;
    sendTyping(true);
    clearTimeout(typingOffTimer);
    typingOffTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
  });

  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  if (!/^[A-Za-z0-9_-]{4,64}$/.test(widgetId)) {
    closed(4404);
    return;
  }
  connect();
})();
