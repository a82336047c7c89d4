// SIGTERM as a container runtime sends it (`docker stop`): to the compiled API and worker, started
// with plain node from dist/ as the image starts them, each in a process group of its own. Work in
// flight completes, the process exits 0 within its grace period, and nothing of it is left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createChannel } from '../lib/channels.ts';
import { PROJECT_ROOT } from '../lib/project-root.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { ensureServerBuild } from '../scripts/provision/server-build.ts';
import { CANCELLATION_ACK_MS } from '../workers/create-workers.ts';
import { shutdownDeadlineMs } from '../workers/shutdown-signals.ts';
import { createConversationRig, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';
import { requestVisitor, Visitor } from './support/webchat.ts';

interface Service {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Everything it wrote (pino's JSON lines on stdout, anything else on stderr). */
  output: string[];
}

/** `node dist/<entry>`: no npm, no tsx; detached, so that the child leads a process group of its own. */
function startCompiled(entry: string, env: Record<string, string>): Service {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', entry)], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => output.push(String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, exited, output };
}

/** Whether any process of the group `pgid` is still alive (signal 0 only checks). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** How many POST /api/v1/tenants requests the service has logged as incoming. */
const tenantPosts = (service: Service) =>
  service.output.join('').split('\n').filter((l) => l.includes('"msg":"incoming request"') && l.includes('"method":"POST"') && l.includes('"url":"/api/v1/tenants"')).length;

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('SIGTERM to the compiled services', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  const services: Service[] = [];

  const env = () => ({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: rig.config.DATABASE_URL,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE_PREFIX: rig.config.TEMPORAL_TASK_QUEUE_PREFIX,
    META_GRAPH_API_URL: rig.graph.url,
    ADMIN_API_KEY: rig.config.ADMIN_API_KEY,
    SECRETS_KEYS: rig.config.SECRETS_KEYS.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    DOCUMENT_STORAGE_DIR: rig.config.DOCUMENT_STORAGE_DIR,
  });

  beforeAll(async () => {
    // What `npm test`'s setup step has already done; milliseconds when the build is current.
    await ensureServerBuild();
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client); // no in-process worker: only the child process polls
  }, 300_000);
  afterAll(async () => {
    for (const s of services) if (s.child.pid && groupAlive(s.child.pid)) process.kill(-s.child.pid, 'SIGKILL');
    await rig?.close();
    await temporal?.close();
  });

  it('the API finishes the request in flight, closes web chat sockets and event streams, and exits 0', { timeout: 120_000 }, async () => {
    const port = await getPort();
    const base = `http://127.0.0.1:${port}`;
    const graceMs = 10_000;
    const api = startCompiled('api/server.js', { ...env(), PORT: String(port), SHUTDOWN_GRACE_MS: String(graceMs) });
    services.push(api);
    await until(async () => ((await fetch(`${base}/health/live`)).ok ? true : undefined), 60_000, 'the API to listen');
    const admin = { authorization: `Bearer ${rig.config.ADMIN_API_KEY}`, 'content-type': 'application/json' };

    // A tenant key for an inbox event stream, and a web chat visitor's socket.
    const created = await fetch(`${base}/api/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'Stream', slug: `stream-${port}` }) });
    expect(created.status).toBe(201);
    const { apiKey } = (await created.json()) as { apiKey: { key: string } };
    const events = await fetch(`${base}/api/v1/conversations/events`, { headers: { authorization: `Bearer ${apiKey.key}` } });
    expect(events.status).toBe(200);
    const reader = events.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: ready');
    const streamEnded = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })();

    const channel = await createChannel(forTenant(rig.db, rig.tenantId), rig.config.SECRETS_KEYS, { type: 'webchat', name: 'Site' });
    const { body: visitor } = await requestVisitor(base, channel.widgetId!);
    const socket = await Visitor.connect(base, { widgetId: channel.widgetId!, token: visitor.token }, base);
    await socket.next((f) => f.type === 'ready', 'the socket to be ready');

    // A request in flight: its headers and half of its body are in when the signal arrives.
    const body = JSON.stringify({ name: 'In flight', slug: `in-flight-${port}` });
    const inFlight: ClientRequest = request(`${base}/api/v1/tenants`, {
      method: 'POST',
      headers: { ...admin, 'content-length': Buffer.byteLength(body) },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      inFlight.once('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      inFlight.once('error', reject);
    });
    inFlight.write(body.slice(0, 10));
    // Fastify answers 503 to a request it routes after closing began: the signal waits until the
    // API has logged this one in (a fixed pause was too short on a loaded machine).
    await until(async () => (tenantPosts(api) > 1 ? true : undefined), 10_000, 'the API to take the request in flight');

    const signalled = Date.now();
    process.kill(api.child.pid!, 'SIGTERM');
    // Streams and sockets are closed first; the server stops taking connections.
    expect(await socket.closed()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await streamEnded).toBe('ended');
    await until(async () => (await fetch(`${base}/health/live`).then(() => undefined, () => 'refused')), 5_000, 'new connections to be refused');
    expect(groupAlive(api.child.pid!)).toBe(true); // still draining

    inFlight.end(body.slice(10));
    const answered = await response;
    expect(answered.status).toBe(201);
    expect(JSON.parse(answered.body)).toMatchObject({ tenant: { name: 'In flight' } });

    const exit = await api.exited;
    expect(exit, api.output.join('')).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalled).toBeLessThan(graceMs);
    expect(groupAlive(api.child.pid!)).toBe(false);
    expect(api.output.join('')).toContain('"msg":"shutting down"');
    expect(await rig.db.tenant.count({ where: { slug: `in-flight-${port}` } })).toBe(1);
  });

  it('a second SIGTERM ends the API at once, with 1, though a request is still in flight', { timeout: 90_000 }, async () => {
    const port = await getPort();
    const base = `http://127.0.0.1:${port}`;
    const api = startCompiled('api/server.js', { ...env(), PORT: String(port), SHUTDOWN_GRACE_MS: '30000' });
    services.push(api);
    await until(async () => ((await fetch(`${base}/health/live`)).ok ? true : undefined), 60_000, 'the API to listen');
    const stalled = request(`${base}/api/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${rig.config.ADMIN_API_KEY}`, 'content-type': 'application/json', 'content-length': 100 } });
    stalled.on('error', () => undefined); // the connection dies with the process
    stalled.write('{"name":');
    await new Promise((r) => setTimeout(r, 300));

    process.kill(api.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(groupAlive(api.child.pid!)).toBe(true); // draining: the request holds it
    const signalled = Date.now();
    process.kill(api.child.pid!, 'SIGTERM');
    const exit = await api.exited;
    expect(exit, api.output.join('')).toMatchObject({ code: 1, signal: null });
    expect(exit.at - signalled).toBeLessThan(2_000);
    expect(groupAlive(api.child.pid!)).toBe(false);
    stalled.destroy();
  });

  it('the worker lets the activity in flight finish its Graph API call, then exits 0', { timeout: 180_000 }, async () => {
    const graceMs = 15_000;
    const worker = startCompiled('workers/main.js', { ...env(), WORKER_TASK_QUEUES: 'conversations', WORKER_SHUTDOWN_GRACE_MS: String(graceMs) });
    services.push(worker);
    const user = '15557771111';
    const sendMs = 4_000;
    rig.graph.delay(sendMs); // the read receipt takes 4 s to be answered
    await rig.deliver('whatsapp', user, [text('hello')]);
    await rig.graph.waitForRequests(1, 90_000);
    expect(rig.graph.requests[0]?.kind).toBe('whatsapp.read');

    const signalled = Date.now();
    process.kill(worker.child.pid!, 'SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.output.join('')).toMatchObject({ code: 0, signal: null });
    // It waited for the send (not cancelled at once), and no longer than its grace time.
    expect(exit.at - signalled).toBeGreaterThan(sendMs - 1_500);
    expect(exit.at - signalled).toBeLessThan(graceMs);
    expect(groupAlive(worker.child.pid!)).toBe(false);
    expect(worker.output.join('')).toContain('"msg":"shutting down: finishing in-flight activities"');

    // The activity that was sending completed, and Temporal recorded it so: nothing to redo.
    const history = await temporal.client.workflow.getHandle(rig.workflowId('whatsapp', user)).fetchHistory();
    const kinds = (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e]));
    const started = kinds.filter((k) => k === 'activityTaskStartedEventAttributes').length;
    expect(started).toBeGreaterThan(0);
    expect(kinds.filter((k) => k === 'activityTaskCompletedEventAttributes').length).toBe(started);
    expect(kinds.filter((k) => k === 'activityTaskFailedEventAttributes' || k === 'activityTaskTimedOutEventAttributes' || k === 'activityTaskCanceledEventAttributes')).toEqual([]);
  });

  it('the worker cancels a send still running at the end of its grace time and exits within its deadline', { timeout: 180_000 }, async () => {
    const graceMs = 2_000;
    // A grace this short needs a shorter webhook timeout (the config refuses one shorter than it).
    const worker = startCompiled('workers/main.js', { ...env(), WORKER_TASK_QUEUES: 'conversations', WORKER_SHUTDOWN_GRACE_MS: String(graceMs), WEBHOOK_TIMEOUT_MS: '1000' });
    services.push(worker);
    rig.graph.reset();
    rig.graph.delay(60_000); // the Graph API does not answer within the grace time
    const user = '15557772222';
    await rig.deliver('whatsapp', user, [text('hello')]);
    await rig.graph.waitForRequests(1, 90_000);

    const signalled = Date.now();
    process.kill(worker.child.pid!, 'SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.output.join('')).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalled).toBeGreaterThan(graceMs - 500);
    expect(exit.at - signalled).toBeLessThan(shutdownDeadlineMs(graceMs, CANCELLATION_ACK_MS));
    expect(groupAlive(worker.child.pid!)).toBe(false);
    rig.graph.reset();
  });

  it('a second SIGTERM ends the worker at once, with 1, though a send is in flight', { timeout: 180_000 }, async () => {
    const worker = startCompiled('workers/main.js', { ...env(), WORKER_TASK_QUEUES: 'conversations' });
    services.push(worker);
    rig.graph.reset();
    rig.graph.delay(60_000);
    const user = '15557773333';
    await rig.deliver('whatsapp', user, [text('hello')]);
    await rig.graph.waitForRequests(1, 90_000);

    process.kill(worker.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(groupAlive(worker.child.pid!)).toBe(true); // draining: the send holds it
    const signalled = Date.now();
    process.kill(worker.child.pid!, 'SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.output.join('')).toMatchObject({ code: 1, signal: null });
    expect(exit.at - signalled).toBeLessThan(2_000);
    expect(groupAlive(worker.child.pid!)).toBe(false);
    rig.graph.reset();
  });

  it("the compiled one-shot steps find prisma/migrations and the namespace's search attributes", { timeout: 60_000 }, async () => {
    const migrate = startCompiled('scripts/db-migrate.js', { DATABASE_URL: rig.config.DATABASE_URL });
    const setup = startCompiled('scripts/temporal-setup.js', { TEMPORAL_ADDRESS: inject('temporalAddress') });
    services.push(migrate, setup);
    expect(await migrate.exited, migrate.output.join('')).toMatchObject({ code: 0 });
    expect(migrate.output.join('')).toContain('Database is up to date.');
    expect(await setup.exited, setup.output.join('')).toMatchObject({ code: 0 });
    expect(setup.output.join('')).toContain('Namespace "default": search attributes already in place.');
  });
});
