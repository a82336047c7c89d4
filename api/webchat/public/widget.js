// The web chat widget: one socket to /webchat (protocol in the README, "Web chat"), reconnecting
// with backoff. A fresh page asks for the recent thread; a reconnect asks for what came after the
// last message it saw (its cursor), so nothing is missed and nothing shows twice (messages are
// kept by id). Messages typed while offline wait in an outbox and are sent, with the same
// clientMessageId, once the socket is back: the server stores and answers each one once.
(() => {
  'use strict';

  const ID = /^[A-Za-z0-9_-]{8,64}$/;
  const widgetId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  const VISITOR_KEY = `metachat.visitor.${widgetId}`;
  const CURSOR_KEY = `metachat.cursor.${widgetId}`;
  const PING_MS = 25_000;
  const TYPING_IDLE_MS = 3_000;
  const TYPING_SHOWN_MAX_MS = 60_000;
  const NOT_AVAILABLE = { 4400: 'This chat link is not valid.', 4403: 'This chat cannot be opened from this page.', 4404: 'This chat is not available.' };

  // localStorage can throw (storage disabled, sandboxed frames): the chat then works for this page only.
  const store = {
    get(key) {
      try { return localStorage.getItem(key); } catch { return null; }
    },
    set(key, value) {
      try { localStorage.setItem(key, value); } catch { /* not kept */ }
    },
  };

  function randomId(prefix) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  let visitorId = store.get(VISITOR_KEY);
  if (!visitorId || !ID.test(visitorId)) {
    visitorId = randomId('v_');
    store.set(VISITOR_KEY, visitorId);
  }

  const body = document.body;
  const list = document.getElementById('messages');
  const typing = document.getElementById('typing');
  const form = document.getElementById('composer');
  const input = form.elements.namedItem('text');
  const button = form.querySelector('button[type="submit"]');
  const status = document.getElementById('status');

  /** id → element, for every message shown with a server id. */
  const byId = new Map();
  /** clientMessageId → { text, el } for the visitor's messages the server has not accepted yet. */
  const outbox = new Map();

  let socket = null;
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

  function render(author, text, id) {
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
    const span = document.createElement('span');
    span.className = 'text';
    span.textContent = text;
    el.append(span);
    return el;
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
    for (const [clientMessageId, entry] of outbox) send({ type: 'message', clientMessageId, text: entry.text });
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
    const el = render(frame.author, frame.text, frame.id);
    byId.set(frame.id, el);
    insert(el);
  }

  function handle(frame) {
    switch (frame && frame.type) {
      case 'ready':
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
      case 'error':
        // A message refused for now (rate limit, hand-over failure) stays in the outbox: try again shortly.
        if ((frame.code === 'rate_limited' || frame.code === 'unavailable') && outbox.size > 0) {
          clearTimeout(resendTimer);
          resendTimer = setTimeout(flushOutbox, 3_000);
        }
        break;
      default:
        break;
    }
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped || socket) return;
    setConnection('connecting', 'Connecting…');
    const params = new URLSearchParams({ widgetId, visitorId });
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

  function closed(code) {
    if (NOT_AVAILABLE[code]) {
      stopped = true;
      setConnection('closed', 'Unavailable');
      notice(NOT_AVAILABLE[code]);
      input.disabled = true;
      button.disabled = true;
      return;
    }
    setConnection('closed', 'Reconnecting…');
    const base = Math.min(10_000, 500 * 2 ** attempts);
    attempts++;
    reconnectTimer = setTimeout(connect, Math.round(base / 2 + Math.random() * (base / 2)));
  }

  function reconnectNow() {
    if (!socket && !stopped) connect();
  }

  function sendTyping(on) {
    if (typingSent === on) return;
    if (send({ type: 'typing', state: on ? 'on' : 'off' })) typingSent = on;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || stopped) return;
    const clientMessageId = randomId('c_');
    const el = render('visitor', text, null);
    el.classList.add('pending');
    el.dataset.clientId = clientMessageId;
    list.append(el);
    scrollToEnd();
    outbox.set(clientMessageId, { text, el });
    input.value = '';
    clearTimeout(typingOffTimer);
    sendTyping(false);
    send({ type: 'message', clientMessageId, text });
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

  if (!ID.test(widgetId) && !/^[A-Za-z0-9_-]{4,64}$/.test(widgetId)) {
    closed(4404);
    return;
  }
  connect();
})();
