// A worker process killed (SIGKILL) in the middle of answering, then started again: the
// conversation resumes where Temporal recorded it and the user gets exactly one reply.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { forTenant } from '../lib/tenant-db.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('worker killed mid-reply', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  const workers: ChildProcess[] = [];

  function startWorkerProcess(): ChildProcess {
    const { PATH, HOME } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      env: {
        PATH, HOME,
        LOG_LEVEL: 'warn',
        DATABASE_URL: rig.config.DATABASE_URL,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE_PREFIX: rig.config.TEMPORAL_TASK_QUEUE_PREFIX,
        WORKER_TASK_QUEUES: 'conversations',
        META_GRAPH_API_URL: rig.graph.url,
        ADMIN_API_KEY: rig.config.ADMIN_API_KEY,
        SECRETS_KEYS: rig.config.SECRETS_KEYS.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.push(child);
    return child;
  }

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client); // no in-process worker: only the child processes poll
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await rig?.close();
    await temporal?.close();
  });

  it('sends the reply exactly once after a restart', { timeout: 120_000 }, async () => {
    const u = '15557770000';
    const first = startWorkerProcess();
    rig.graph.delay(60_000); // the read receipt hangs: the worker dies while it waits
    await rig.deliver('whatsapp', u, [text('hello')]);
    await rig.graph.waitForRequests(1, 60_000);
    expect(rig.graph.requests[0]?.kind).toBe('whatsapp.read');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    rig.graph.reset();
    startWorkerProcess();
    await eventually(() => rig.graph.delivered.length > 0, 90_000, 'the reply after the restart');
    await new Promise((r) => setTimeout(r, 2000)); // time for a duplicate to show up, if any
    expect(rig.graph.delivered.map((d) => d.text)).toEqual(['Hello! How can I help you today?']);
    const rows = await forTenant(rig.db, rig.tenantId).message.findMany({ where: { direction: 'outbound', conversation: { externalUserId: u } } });
    expect(rows.map((r) => r.status)).toEqual(['sent']);
  });
});
