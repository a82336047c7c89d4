// The inbox's API against a real Postgres and a real listening API: the list's filters (waiting
// for a person, assigned to me / anyone / nobody, text search), who wrote each message and the
// sources of an assistant's reply, the Temporal Web UI link for owners and admins only, and the
// event stream, fed through Postgres NOTIFY as the workers feed it.
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '../generated/prisma/client.ts';
import { conversationsMentioning } from '../lib/conversation-search.ts';
import { publishInboxEvent } from '../lib/inbox-bus.ts';
import { forTenant, tenantData } from '../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../lib/tenants.ts';
import { createChannel } from '../lib/channels.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { listen } from './support/browser.ts';
import { createUser, sessionFor, withSession, type TestSession } from './support/team.ts';

const UI = 'http://localhost:8233';

describe('inbox API', { timeout: 60_000 }, () => {
  let api: TestApi;
  let base: string;
  let tenantId: string;
  let key: string;
  let agentKey: string;
  let agent: TestSession;
  let agentUserId: string;
  let admin: TestSession;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    api = await startTestApi('inbox_api', { TEMPORAL_UI_URL: `${UI}/`, INBOX_STREAMS_PER_TENANT: '2', INBOX_HEARTBEAT_MS: '200' });
    base = await listen(api.app);
    const created = await createTenant(api.db, { name: 'Inbox', slug: `inbox-${Math.random().toString(36).slice(2, 8)}` });
    tenantId = created.tenant.id;
    key = created.apiKey.key;
    const tdb = forTenant(api.db, tenantId);
    agentKey = (await createApiKey(tdb, { name: 'ann', scope: 'agent', agentId: 'ann' })).key;
    const agentUser = await createUser(api.db, tenantId, { email: 'agent@example.com', role: 'agent' });
    agentUserId = agentUser.id;
    agent = await sessionFor(api.db, api.config, agentUser);
    admin = await sessionFor(api.db, api.config, await createUser(api.db, tenantId, { email: 'admin@example.com', role: 'admin' }));
    const wa = await createChannel(tdb, api.config.SECRETS_KEYS, { type: 'whatsapp', name: 'wa', phoneNumberId: `1${Date.now()}`, wabaId: '2', accessToken: 'EAAGinboxtoken', appSecret: 'inbox-app-secret', verifyToken: 'inbox-verify-token' });

    const at = (s: number) => new Date(Date.now() - 100_000 + s * 1000);
    const conversation = async (name: string, data: Partial<Prisma.ConversationUncheckedCreateInput>, messages: [direction: 'inbound' | 'outbound', content: Prisma.InputJsonValue][]) => {
      const c = await tdb.conversation.create({ data: tenantData<Prisma.ConversationUncheckedCreateInput>({ channelId: wa.id, externalUserId: `4915${name.length}${Math.floor(Math.random() * 1e6)}`, workflowId: `conversation:${name}`, ...data }) });
      ids[name] = c.id;
      for (const [i, [direction, content]] of messages.entries()) {
        await tdb.message.create({ data: tenantData<Prisma.MessageUncheckedCreateInput>({ conversationId: c.id, channel: 'whatsapp', direction, type: 'text', content, status: direction === 'inbound' ? 'received' : 'sent', createdAt: at(i) }) });
      }
    };
    // Handed over, nobody took it: waiting.
    // Its user id holds "100", which a search for "100%" must not match (the % is literal).
    await conversation('requested', { status: 'handoff_requested', externalUserId: `49151009${Math.floor(Math.random() * 1e6)}`, lastInboundAt: at(2), lastMessageAt: at(3) }, [
      ['inbound', { text: 'Where is my Order #A-100_7?' }],
      ['outbound', { text: 'It ships today.\n\nSources:\n[1] Shipping', author: 'assistant', sources: [{ documentId: 'doc-1', chunkId: 'chunk-1', title: 'Shipping', page: 2, section: 'Times', excerpt: 'Orders ship the same day.' }] }],
      ['inbound', { text: 'human' }],
    ]);
    // Held by the agent user, the customer spoke last: waiting.
    await conversation('heldWaiting', { status: 'assigned_human', assignee: agentUserId, lastInboundAt: at(5), lastMessageAt: at(5) }, [['inbound', { text: 'Still there?' }]]);
    // Held by ann, who answered last: not waiting.
    await conversation('heldAnswered', { status: 'assigned_human', assignee: 'ann', lastInboundAt: at(1), lastMessageAt: at(6) }, [
      ['inbound', { text: 'refund please' }],
      ['outbound', { text: 'Refund sent, 100% done', author: 'agent', agentId: 'ann' }],
    ]);
    await conversation('assistant', { status: 'active', lastInboundAt: at(7), lastMessageAt: at(8) }, [['inbound', { text: 'opening hours?' }]]);
  });
  afterAll(async () => {
    await api?.close();
  });

  const list = async (query: string, headers: Record<string, string> = bearer(key)) => {
    const res = await api.app.inject({ url: `/api/v1/conversations?${query}`, headers });
    expect(res.statusCode, res.body).toBe(200);
    const names = Object.fromEntries(Object.entries(ids).map(([n, id]) => [id, n]));
    return (res.json().items as { id: string }[]).map((c) => names[c.id]).sort();
  };

  it('filters by waiting for a person, and by who holds it', async () => {
    expect(await list('waiting=true')).toEqual(['heldWaiting', 'requested']);
    expect(await list('waiting=false')).toEqual(['assistant', 'heldAnswered']);
    expect(await list('assigned=anyone')).toEqual(['heldAnswered', 'heldWaiting']);
    expect(await list('assigned=unassigned')).toEqual(['assistant', 'requested']);
    expect(await list('assigned=me', bearer(agentKey))).toEqual(['heldAnswered']);
    expect(await list('assigned=me', withSession(agent))).toEqual(['heldWaiting']);
    expect(await list('assigned=me&waiting=true', withSession(agent))).toEqual(['heldWaiting']);
    expect(await list('channel=whatsapp&status=assigned_human&waiting=true')).toEqual(['heldWaiting']);

    // A tenant key is nobody's "me"; a value outside the lists is refused.
    const me = await api.app.inject({ url: '/api/v1/conversations?assigned=me', headers: bearer(key) });
    expect(me.statusCode).toBe(400);
    expect(me.json().error.message).toContain('assigned');
    for (const q of ['waiting=yes', 'assigned=someone', `q=${'x'.repeat(201)}`]) {
      const res = await api.app.inject({ url: `/api/v1/conversations?${q}`, headers: bearer(key) });
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error.code).toBe('validation_error');
    }
  });

  it('searches the text of messages in any case, taking % and _ literally, and the end user id', async () => {
    expect(await list('q=REFUND')).toEqual(['heldAnswered']);
    expect(await list(`q=${encodeURIComponent('#a-100_7')}`)).toEqual(['requested']);
    expect(await list(`q=${encodeURIComponent('100%')}`)).toEqual(['heldAnswered']);
    expect(await list(`q=${encodeURIComponent('A_100')}`)).toEqual([]); // "_" is no wildcard
    expect(await list('q=nothing-like-this')).toEqual([]);
    expect(await list('q=refund&waiting=true')).toEqual([]);
    const user = (await forTenant(api.db, tenantId).conversation.findUniqueOrThrow({ where: { id: ids.assistant! } })).externalUserId;
    expect(await list(`q=${user.slice(2, 9)}`)).toEqual(['assistant']);

    // The scan is bounded: with a window of the newest message only, older text is not found.
    expect(await conversationsMentioning(api.db, tenantId, 'refund')).toEqual([ids.heldAnswered]);
    expect(await conversationsMentioning(api.db, tenantId, 'refund', 1)).toEqual([]);
    expect(await conversationsMentioning(api.db, tenantId, 'HUMAN', 1)).toEqual([ids.requested]);
  });

  it('says who wrote each message, and which passages an assistant reply used', async () => {
    const res = await api.app.inject({ url: `/api/v1/conversations/${ids.requested}/messages?order=asc`, headers: withSession(agent) });
    expect(res.statusCode).toBe(200);
    const items = res.json().items as { author: string; text: string; sources: unknown[]; agentId: string | null }[];
    expect(items.map((m) => m.author)).toEqual(['customer', 'assistant', 'customer']);
    expect(items[1]!.sources).toEqual([{ documentId: 'doc-1', chunkId: 'chunk-1', title: 'Shipping', page: 2, section: 'Times', excerpt: 'Orders ship the same day.' }]);
    expect(items[0]!.sources).toEqual([]);
    const held = (await api.app.inject({ url: `/api/v1/conversations/${ids.heldAnswered}/messages?order=asc`, headers: bearer(agentKey) })).json().items;
    expect(held.map((m: { author: string; agentId: string | null; text: string }) => [m.author, m.agentId, m.text])).toEqual([['customer', null, 'refund please'], ['agent', 'ann', 'Refund sent, 100% done']]);
  });

  it('links a conversation to its workflow in the Temporal Web UI for owners, admins and tenant keys, never for agents', async () => {
    const url = `${UI}/namespaces/default/workflows/${encodeURIComponent('conversation:requested')}`;
    for (const headers of [bearer(key), withSession(admin)]) {
      const one = await api.app.inject({ url: `/api/v1/conversations/${ids.requested}`, headers });
      expect(one.json().workflowUrl).toBe(url);
    }
    for (const headers of [bearer(agentKey), withSession(agent)]) {
      const one = await api.app.inject({ url: `/api/v1/conversations/${ids.requested}`, headers });
      expect(one.json()).toMatchObject({ workflowId: 'conversation:requested', workflowUrl: null });
      const items = (await api.app.inject({ url: '/api/v1/conversations', headers })).json().items as { workflowUrl: string | null }[];
      expect(items.every((c) => c.workflowUrl === null)).toBe(true);
    }
  });

  it('documents the event stream as text/event-stream', async () => {
    const spec = (await api.app.inject({ url: '/docs/json' })).json();
    const op = spec.paths['/api/v1/conversations/events'].get;
    expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream']);
    // Each event as an SSE parser hands it over: its name and its JSON text.
    const event = op.responses['200'].content['text/event-stream'].schema;
    expect(event.properties.event.enum).toEqual(['ready', 'message', 'conversation']);
    expect(event.required).toEqual(['event', 'data']);
    expect(op.responses['429']).toBeDefined();
  });

  it('streams the tenant’s own changes as server-sent events, with a cap on open streams', async () => {
    const other = await createTenant(api.db, { name: 'Other', slug: `other-${Math.random().toString(36).slice(2, 8)}` });
    // Its own connections, closed at the end: kept-alive ones would hold the API's close.
    const client = new Agent();
    const fetch = (url: string, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}) => undiciFetch(url, { ...init, dispatcher: client });
    const first = new AbortController();
    const res = await fetch(`${base}/api/v1/conversations/events`, { headers: bearer(agentKey), signal: first.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${text}`);
        text += value;
      }
    };
    await until('event: ready\ndata: {}\n\n');
    expect(text).toMatch(/^retry: \d+\nevent: ready\ndata: \{\}\n\n/); // every block is an event

    const fail = (e: string) => {
      throw new Error(e);
    };
    // Another tenant's change first: it must not reach this stream.
    await publishInboxEvent(api.db, { kind: 'message', tenantId: other.tenant.id, conversationId: ids.assistant!, messageId: '00000000-0000-4000-8000-00000000000a' }, fail);
    await publishInboxEvent(api.db, { kind: 'message', tenantId, conversationId: ids.requested!, messageId: '00000000-0000-4000-8000-00000000000b' }, fail);
    await publishInboxEvent(api.db, { kind: 'conversation', tenantId, conversationId: ids.requested!, status: 'assigned_human', assignee: 'ann' }, fail);
    await until('"assignee":"ann"}\n\n');
    expect(text).toContain(`event: message\ndata: {"conversationId":"${ids.requested}","messageId":"00000000-0000-4000-8000-00000000000b"}\n\n`);
    expect(text).toContain(`event: conversation\ndata: {"conversationId":"${ids.requested}","status":"assigned_human","assignee":"ann"}`);
    expect(text).not.toContain('00000000-0000-4000-8000-00000000000a');
    await until(': heartbeat\n\n');

    // Two per tenant here: the third is refused until one closes.
    const second = new AbortController();
    expect((await fetch(`${base}/api/v1/conversations/events`, { headers: withSession(admin), signal: second.signal })).status).toBe(200);
    const third = await fetch(`${base}/api/v1/conversations/events`, { headers: bearer(key) });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
    const elsewhere = new AbortController();
    expect((await fetch(`${base}/api/v1/conversations/events`, { headers: bearer(other.apiKey.key), signal: elsewhere.signal })).status).toBe(200); // another tenant's cap
    elsewhere.abort();
    first.abort();
    let reopened = 0;
    for (let i = 0; i < 50 && reopened !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const leave = new AbortController();
      const again = await fetch(`${base}/api/v1/conversations/events`, { headers: bearer(key), signal: leave.signal });
      reopened = again.status;
      leave.abort();
    }
    expect(reopened).toBe(200);
    second.abort();
    const anonymous = await fetch(`${base}/api/v1/conversations/events`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    await client.destroy();
  });
});
