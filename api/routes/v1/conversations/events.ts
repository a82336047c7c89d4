// GET /api/v1/conversations/events: the inbox's live feed, as server-sent events. The workers
// publish what changed (lib/inbox-bus.ts, Postgres NOTIFY, like the web chat's replies); this
// instance's one LISTEN connection hands each event to the open streams of its tenant. An event
// names the conversation (and message) that changed, never a message's text: the page reads
// those through the REST routes, with the caller's own rights.
//
// Nothing is replayed: NOTIFY keeps no history, so a stream starts with `ready`, sent again on
// every reconnect (EventSource reconnects by itself, after `retry`), and the page refetches what
// it shows on each `ready`; Last-Event-ID is therefore not needed. The same `ready` follows the
// listener's own reconnect, when events may have been missed. A comment line every
// INBOX_HEARTBEAT_MS keeps proxies from closing an idle stream and lets a dead connection be noticed.
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InboxListener, type InboxEvent } from '../../../../lib/inbox-bus.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses } from '../../../schemas/common.ts';

/** How long a browser waits before it reconnects a dropped stream. */
export const RETRY_MS = 3_000;

const EVENTS_DESCRIPTION = [
  'Server-sent events about the tenant\'s conversations, for as long as the connection stays open.',
  '`ready` (data `{}`): sent first and after any gap in which events may have been missed; refetch what you show.',
  '`message` (data `{"conversationId","messageId"}`): a message was stored (from the customer, the assistant or an agent).',
  '`conversation` (data `{"conversationId","status","assignee"}`): its status or assignee changed.',
  'Lines starting with `:` are heartbeats (every INBOX_HEARTBEAT_MS, 20 s by default). At most INBOX_STREAMS_PER_TENANT streams per tenant are open on one API instance (429 beyond).',
].join('\n\n');

/** What a stream may hold unread before it is closed (its client reconnects and refetches). */
export const MAX_BUFFERED_BYTES = 256 * 1024;

const SSE_EVENT = z.object({
  event: z.enum(['ready', 'message', 'conversation']),
  data: z.string(),
  retry: z.number().int().optional(),
});

/** One SSE frame. */
const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Writes to one stream; a client that stopped reading is let go rather than buffered for. */
function send(stream: PassThrough, text: string): void {
  if (stream.writableLength > MAX_BUFFERED_BYTES) stream.end();
  else stream.write(text);
}

const eventRoutes: FastifyPluginAsyncZod = async (app) => {
  const streams = new Map<string, Set<PassThrough>>();
  const log = app.log.child({ component: 'inbox-events' });
  const each = (fn: (stream: PassThrough) => void, tenantId?: string) => {
    for (const [tenant, set] of streams) if (tenantId === undefined || tenant === tenantId) for (const s of set) fn(s);
  };
  const dispatch = (event: InboxEvent) => {
    const data = event.kind === 'message'
      ? { conversationId: event.conversationId, messageId: event.messageId }
      : { conversationId: event.conversationId, status: event.status, assignee: event.assignee };
    each((s) => send(s, frame(event.kind, data)), event.tenantId);
  };
  const listener = new InboxListener({
    connectionString: app.config.DATABASE_URL,
    logger: log,
    connectTimeoutMs: app.config.DATABASE_CONNECT_TIMEOUT_MS,
    onEvent: dispatch,
    onResubscribed: () => each((s) => send(s, frame('ready', {}))),
  });
  let heartbeat: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    // As the web chat's: awaited once, then retried in the background while Postgres is away.
    await listener.start();
    heartbeat = setInterval(() => each((s) => send(s, ': heartbeat\n\n')), app.config.INBOX_HEARTBEAT_MS);
    heartbeat.unref();
  });
  // Before the server stops taking connections: open streams would hold its close forever.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    each((s) => s.end());
  });
  app.addHook('onClose', async () => {
    await listener.close();
  });

  app.get(
    '/events',
    {
      config: { allowAgentKey: true },
      schema: {
        tags: ['conversations'],
        summary: "Live changes to the tenant's conversations (server-sent events)",
        description: EVENTS_DESCRIPTION,
        response: {
          // Each event as an SSE parser hands it over (its `data` is JSON text); heartbeats are comments.
          200: { description: 'An event stream', content: { 'text/event-stream': { schema: SSE_EVENT } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const tenantId = request.tenantId;
      const open = streams.get(tenantId) ?? new Set<PassThrough>();
      if (open.size >= app.config.INBOX_STREAMS_PER_TENANT) {
        throw new HttpError(429, 'too_many_streams', `At most ${app.config.INBOX_STREAMS_PER_TENANT} event streams per tenant may be open; close one first`);
      }
      const stream = new PassThrough();
      open.add(stream);
      streams.set(tenantId, open);
      const done = () => {
        open.delete(stream);
        if (open.size === 0 && streams.get(tenantId) === open) streams.delete(tenantId);
        stream.end();
      };
      reply.raw.once('close', done);
      stream.once('close', done);
      // The reconnect delay rides on the first event, so that every block of the stream is an event.
      stream.write(`retry: ${RETRY_MS}\n${frame('ready', {})}`);
      request.log.info({ streams: open.size }, 'inbox event stream opened');
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        // A buffering proxy (nginx) would hold the events back.
        .header('x-accel-buffering', 'no')
        // The type provider types a body by the JSON schemas; an event stream is sent as a stream.
        .send(stream as unknown as z.infer<typeof SSE_EVENT>);
    },
  );
};

export default eventRoutes;
