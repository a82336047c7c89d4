// `npm run test:cluster`: the platform on a real Temporal server (built from go.temporal.io/server,
// Postgres persistence and SQL visibility) with two API processes behind a round-robin proxy, two
// conversations workers and one ingestion + maintenance worker (stack.ts). The topology and the
// server's set-up, conversations end to end through either API, a web chat reply reaching a
// visitor connected to the other API, then the fault-injection run (faults.ts): a conversations
// worker, an API and the Temporal server killed under load, with nothing lost or duplicated.
// Not part of npm test: the server build takes minutes cold, the run a few minutes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { signatureHeader } from '../../api/webhooks/signature.ts';
import { PROJECT_ROOT } from '../../scripts/provision/tools.ts';
import { HISTORY_SHARDS } from '../../scripts/provision/temporal-cluster-config.ts';
import { missingSearchAttributes } from '../../temporal-config/search-attributes.ts';
import { platformDuplicates, setUpTenant, type ChaosTenant } from '../chaos/run.ts';
import { whatsappTextBody } from '../support/meta-webhooks.ts';
import { runClusterFaults } from './faults.ts';
import { ClusterStack, killEverything, NAMESPACE } from './stack.ts';

const root = mkdtempSync(join(tmpdir(), 'metachat-cluster-'));
const log = (m: string) => process.stdout.write(`[cluster ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
let stack: ClusterStack;
let tenant: ChaosTenant;
let passed = true;

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sendWhatsApp(apiUrl: string, from: string, text: string): Promise<void> {
  const body = whatsappTextBody({ phoneNumberId: tenant.whatsapp.phoneNumberId, from, id: `wamid.${randomBytes(12).toString('base64url')}`, text });
  const res = await fetch(`${apiUrl}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, tenant.whatsapp.appSecret) },
    body,
  });
  expect(res.status).toBe(200);
}

/** A web chat socket: the frames it received, and a promise for the first frame matching. */
function openSocket(apiUrl: string, token: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[]; next(match: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>> }> {
  const params = new URLSearchParams({ widgetId: tenant.webchat.widgetId, token });
  const ws = new WebSocket(`${apiUrl.replace(/^http/, 'ws')}/webchat?${params}`, { origin: apiUrl });
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  const next = (match: (f: Record<string, unknown>) => boolean, timeoutMs = 30_000) => until('no matching frame', timeoutMs, () => frames.find(match));
  return next((f) => f.type === 'ready').then(() => ({ ws, frames, next }));
}

describe('the platform on a Temporal cluster', () => {
  beforeAll(async () => {
    const started = Date.now();
    stack = await ClusterStack.start({
      root, source: 'worktree', graphLatencyMs: 150, llmLatencyMinMs: 300, llmLatencyMaxMs: 1_500,
      suggestContinueAsNewAfter: 200, logLevel: 'info', log,
    });
    tenant = await setUpTenant(stack);
    log(`stack and tenant ready in ${((Date.now() - started) / 1000).toFixed(1)} s (run folder ${root})`);
  }, 900_000);

  afterAll(async () => {
    await stack?.close();
    killEverything();
    if (passed) rmSync(root, { recursive: true, force: true });
    else log(`run folder kept: ${root} (logs in ${join(root, 'logs')})`);
  }, 120_000);

  const track = <T>(p: Promise<T>) => p.catch((err: unknown) => {
    passed = false;
    throw err;
  });

  it('runs on its own databases and role, with the chosen shards, the namespace and its search attributes', () => track((async () => {
    const [shards] = await stack.temporalDb<{ n: string }>('SELECT count(*) AS n FROM shards');
    expect(Number(shards!.n)).toBe(HISTORY_SHARDS);
    const [visibility] = await stack.temporalDb<{ found: boolean }>("SELECT to_regclass('public.executions_visibility') IS NOT NULL AS found", 'temporal_visibility');
    expect(visibility!.found).toBe(true);
    // Postgres checks the role's password although the embedded server trusts local connections.
    await expect(stack.temporalDb('SELECT 1', 'temporal', 'not-the-password')).rejects.toThrow(/password authentication failed/);
    expect(await missingSearchAttributes(stack.client, NAMESPACE)).toEqual([]);
    const namespace = await stack.client.workflowService.describeNamespace({ namespace: NAMESPACE });
    expect(Number(namespace.config?.workflowExecutionRetentionTtl?.seconds)).toBe(72 * 3600);
  })()));

  it('has two conversations workers and one for ingestion and maintenance polling, and both APIs ready', () => track((async () => {
    const conversations = await stack.pollers('conversations');
    const pids = ['conversations-1', 'conversations-2'].map((name) => stack.workers.get(name)!.pid);
    for (const pid of pids) expect(conversations.some((id) => id.startsWith(`${pid}@`))).toBe(true);
    const other = stack.workers.get('ingestion+maintenance')!.pid;
    for (const queue of ['ingestion', 'maintenance']) expect((await stack.pollers(queue)).some((id) => id.startsWith(`${other}@`))).toBe(true);
    expect(conversations.some((id) => id.startsWith(`${other}@`))).toBe(false);
    for (const i of [0, 1]) expect(await stack.apiReady(i)).toBe(true);
  })()));

  it('answers WhatsApp conversations through either API, in order, and finds them by search attribute', () => track((async () => {
    const users = ['31600000001', '31600000002'];
    const tokens = users.map((_, i) => [`w9${i}-0001-aaaa`, `w9${i}-0002-bbbb`]);
    // User 1 writes to API 1 then API 2, user 2 the other way round: one conversation each, whichever API took the delivery.
    for (const [i, from] of users.entries()) {
      for (const [j, token] of tokens[i]!.entries()) {
        await sendWhatsApp(stack.apiUrls[(i + j) % 2]!, from, `question ${token}`);
        await until(`no reply naming ${token}`, 60_000, () => stack.graph.delivered.find((d) => d.to === from && d.text.includes(token)));
      }
    }
    for (const [i, from] of users.entries()) {
      const replies = stack.graph.delivered.filter((d) => d.to === from).map((d) => d.text);
      expect(replies).toEqual(tokens[i]!.map((t) => `Answering ${t}.`));
    }
    // SQL visibility with the custom search attributes: one conversation workflow per user.
    const found = await until('conversations not visible', 30_000, async () => {
      const ids: string[] = [];
      for await (const w of stack.client.workflow.list({ query: `TenantId = '${tenant.tenantId}' AND Channel = 'whatsapp'` })) ids.push(w.workflowId);
      return ids.length >= users.length ? ids : undefined;
    });
    expect(found).toHaveLength(users.length);
  })()));

  it('delivers a web chat reply to the visitor on the other API instance', () => track((async () => {
    const joined = await fetch(`${stack.apiUrls[0]}/webchat/visitors`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: stack.apiUrls[0]! },
      body: JSON.stringify({ widgetId: tenant.webchat.widgetId }),
    });
    expect(joined.status).toBe(201);
    const { token } = (await joined.json()) as { token: string };
    // The same visitor in two tabs, each on its own API process; the message goes in through API 1.
    const [one, two] = await Promise.all([openSocket(stack.apiUrls[0]!, token), openSocket(stack.apiUrls[1]!, token)]);
    try {
      const clientMessageId = randomBytes(8).toString('hex');
      one.ws.send(JSON.stringify({ type: 'message', clientMessageId, text: 'hello v91-0001-cccc' }));
      await one.next((f) => f.type === 'accepted' && f.clientMessageId === clientMessageId);
      const isReply = (f: Record<string, unknown>) => f.type === 'message' && f.author !== 'visitor' && String(f.text).includes('v91-0001-cccc');
      const [onTwo, onOne] = await Promise.all([two.next(isReply, 60_000), one.next(isReply, 60_000)]);
      expect(onTwo.text).toBe('Answering v91-0001-cccc.');
      expect(onTwo.id).toBe(onOne.id);
      // Each tab got the reply once, though two API processes LISTEN for it.
      expect(two.frames.filter(isReply)).toHaveLength(1);
      expect(one.frames.filter(isReply)).toHaveLength(1);
    } finally {
      one.ws.close();
      two.ws.close();
    }
  })()));

  it('loses no message and answers none twice while a conversations worker, an API and the Temporal server are killed', { timeout: 900_000 }, () => track((async () => {
    const result = await runClusterFaults(stack, {
      durationMs: 90_000, whatsappUsers: 4, webchatVisitors: 3, downtimeMs: 4_000,
      thinkMs: 1_000, replyTimeoutMs: 20_000, attemptTimeoutMs: 10_000, duplicateRate: 0.05,
      drainMs: 60_000, settleMs: 3_000, artifactDir: join(PROJECT_ROOT, 'test-artifacts'), log,
    });
    process.stdout.write(`\n${result.report}\n`);
    log(`report written to ${result.reportPath}`);
    expect(result.faults.map((f) => f.kind)).toEqual(['worker-conversations-1', 'api-1', 'temporal']);
    // The surviving API and worker carry on: only the Temporal kill may take the platform down.
    expect(result.faults.filter((f) => f.kind !== 'temporal').every((f) => f.servedWhileDown)).toBe(true);
    const t = result.totals;
    expect(t.sent).toBeGreaterThan(0);
    expect({ lost: t.lost, storedTwice: t.storedTwice, answeredTwice: t.answeredTwice - t.answeredTwiceGraphWindow, outboundRowsTwice: t.outboundRowsTwice }, result.reportPath)
      .toEqual({ lost: 0, storedTwice: 0, answeredTwice: 0, outboundRowsTwice: 0 });
    expect(platformDuplicates(t)).toBe(0);
    expect(result.problems).toEqual([]);
  })()));
});
