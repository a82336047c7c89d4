// Documents end to end: upload through the API, the ingestion workflow on a real worker and
// Temporal server, chunks in the real Postgres + pgvector, hybrid retrieval, and a WhatsApp
// question answered by the conversation workflow with a citation of the uploaded document.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedderRegistry, type EmbedderRegistry } from '../activities/embeddings/index.ts';
import { createRagActivities, type Passage } from '../activities/rag.ts';
import { buildApp, type App } from '../api/app.ts';
import { createDocumentStorage } from '../lib/storage.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createApiKey, createTenant } from '../lib/tenants.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { createTestWorkers } from './support/workers.ts';
import { ingestionProgressQuery, type IngestionProgress } from '../workflows/ingestion.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { docxFile, pdfFile } from './support/document-files.ts';
import { connectTestTemporal } from './support/temporal.ts';

interface DocumentBody {
  id: string;
  documentKey: string;
  version: number;
  title: string;
  status: string;
  stage: string | null;
  error: string | null;
  chunkCount: number;
  chunksEmbedded: number;
  progress: number;
  workflowId: string;
  format: string;
  tags: string[];
  deletedAt: string | null;
}

async function multipart(bytes: Uint8Array, filename: string, type: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type }), filename);
  const res = new Response(form);
  return { payload: Buffer.from(await res.arrayBuffer()), headers: { 'content-type': res.headers.get('content-type')! } };
}

/** Paragraphs of distinct made-up text, about `n` chunks' worth of Markdown. */
function longMarkdown(n: number, seed: string): string {
  const words = ['gear', 'chain', 'saddle', 'spoke', 'brake', 'pedal', 'tyre', 'valve', 'frame', 'crank', 'hub', 'rim', 'fork', 'stem', 'grip'];
  const paragraphs: string[] = [];
  for (let i = 0; i < n; i++) {
    const body = Array.from({ length: 140 }, (_, j) => words[(i * 7 + j * 3 + j * j) % words.length]).join(' ');
    paragraphs.push(`## Part ${seed} ${i}\n\nSection ${seed}${i} notes: ${body}.`);
  }
  return paragraphs.join('\n\n');
}

describe('documents and retrieval', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let key: string;
  let ingestionWorkers: Worker[] = [];
  let running: Promise<unknown>;
  /** Milliseconds each embedding call waits (slows ingestion down where a test watches it). */
  const embedDelay = { ms: 0 };
  let rag: ReturnType<typeof createRagActivities>;

  const api = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, k = key) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${k}` }, ...(body === undefined ? {} : { payload: body as object }) });
  const upload = async (file: Awaited<ReturnType<typeof multipart>>, url = '/api/v1/documents', k = key) =>
    app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${k}`, ...file.headers }, payload: file.payload });
  const get = async (id: string, k = key) => (await api('GET', `/api/v1/documents/${id}`, undefined, k)).json() as DocumentBody;
  const ready = (id: string, k = key, timeoutMs = 30_000) =>
    eventually(async () => {
      const d = await get(id, k);
      if (d.status === 'failed') throw new Error(`ingestion failed: ${d.error}`);
      return d.status === 'ready' && d;
    }, timeoutMs, `document ${id} ready`);

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    const base = createEmbedderRegistry();
    const embedders: EmbedderRegistry = (model) => {
      const provider = base(model);
      return {
        ...provider,
        embed: async (texts) => {
          if (embedDelay.ms) await new Promise((r) => setTimeout(r, embedDelay.ms));
          return provider.embed(texts);
        },
      };
    };
    const logger = pino({ level: 'silent' });
    ingestionWorkers = await createTestWorkers({
      connection: temporal.nativeConnection,
      namespace: 'default',
      taskQueues: ['ingestion'],
      tuning: rig.config,
      deps: {
        db: rig.db, logger, keyring: rig.config.SECRETS_KEYS, temporal: temporal.client, graphApiUrl: rig.graph.url,
        documentStorage: createDocumentStorage(rig.config), embedders, chunkQuota: rig.config.CHUNK_QUOTA_PER_TENANT,
      },
      queueName: (q) => taskQueueName(rig.config, q),
    });
    running = Promise.all(ingestionWorkers.map((w) => w.run()));
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: { ...rig.config, DOCUMENT_MAX_BYTES: 4 * 1024 * 1024 }, db: rig.db, temporal: temporal.client, logger });
    await app.ready();
    key = (await createApiKey(forTenant(rig.db, rig.tenantId), { name: 'docs', scope: 'tenant' })).key;
    rag = createRagActivities(rig.db);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    for (const w of ingestionWorkers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await rig?.close();
    await temporal?.close();
  });

  it('ingests a PDF: every chunk knows its page, and passages cite it', async () => {
    const bytes = await pdfFile([
      'Acme Bikes service manual.\nChapter one introduces the workshop.',
      'Tyre pressure for city bikes is 4.5 bar.\nCheck it every two weeks.',
      'Chain lubrication: clean the chain, then apply two drops of oil per link.',
    ]);
    const res = await upload(await multipart(bytes, 'manual.pdf', 'application/pdf', { title: 'Service manual', tags: 'manuals,workshop' }));
    expect(res.statusCode, res.body).toBe(202);
    const created = res.json() as DocumentBody;
    expect(created).toMatchObject({ title: 'Service manual', format: 'pdf', status: 'pending', version: 1, tags: ['manuals', 'workshop'] });
    expect(created.workflowId).toBe(`ingest:${created.id}:v1`);
    const doc = await ready(created.id);
    expect(doc).toMatchObject({ chunkCount: 3, chunksEmbedded: 3, progress: 1, stage: null });

    const chunks = await forTenant(rig.db, rig.tenantId).chunk.findMany({ where: { documentId: created.id }, orderBy: { ordinal: 'asc' } });
    expect(chunks.map((c) => (c.metadata as { page?: number }).page)).toEqual([1, 2, 3]);
    expect(chunks.every((c) => c.embeddingModel === 'local-hash-384')).toBe(true);

    const passages = await rag.retrieveContext({ tenantId: rig.tenantId, question: 'What tyre pressure for a city bike?' });
    expect(passages[0]).toMatchObject({ documentId: created.id, title: 'Service manual', page: 2 });
    expect(passages[0]!.content).toContain('4.5 bar');
    // Tag filters: documents carrying any of the tags.
    expect(await rag.retrieveContext({ tenantId: rig.tenantId, question: 'tyre pressure', tags: ['workshop'] })).not.toHaveLength(0);
    expect(await rag.retrieveContext({ tenantId: rig.tenantId, question: 'tyre pressure', tags: ['marketing'] })).toHaveLength(0);
  });

  it('ingests a DOCX with its headings as sections', async () => {
    const res = await upload(await multipart(await docxFile(), 'warranty.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'));
    expect(res.statusCode, res.body).toBe(202);
    const doc = await ready((res.json() as DocumentBody).id);
    expect(doc).toMatchObject({ title: 'warranty', format: 'docx' });
    const [passage] = await rag.retrieveContext({ tenantId: rig.tenantId, question: 'How long are e-bike batteries covered?', limit: 1 });
    expect(passage).toMatchObject({ documentId: doc.id, page: null });
    expect(passage!.content).toContain('800 charge cycles');
    expect(passage!.section).toMatch(/Warranty/);
  });

  it('ingests HTML and JSON text, returns exactly top-K, and refuses what it cannot take', async () => {
    const html = '<!doctype html><html><body><h1>Delivery</h1><p>Orders ship within two working days.</p><script>alert(1)</script></body></html>';
    const h = await upload(await multipart(Buffer.from(html), 'delivery.html', 'text/html'));
    expect(h.statusCode, h.body).toBe(202);
    const htmlDoc = await ready((h.json() as DocumentBody).id);
    expect(htmlDoc.format).toBe('html');
    const chunk = await forTenant(rig.db, rig.tenantId).chunk.findFirstOrThrow({ where: { documentId: htmlDoc.id } });
    expect(chunk.content).not.toContain('alert');

    const j = await api('POST', '/api/v1/documents', { title: 'Shipping FAQ', content: '# Shipping\n\nOrders over 50 EUR ship free of charge.', format: 'markdown', tags: ['faq'] });
    expect(j.statusCode, j.body).toBe(202);
    await ready((j.json() as DocumentBody).id);
    const passages = await rag.retrieveContext({ tenantId: rig.tenantId, question: 'orders ship bikes tyre chain warranty', limit: 4 });
    expect(passages).toHaveLength(4);
    expect(passages.map((p) => p.score)).toEqual([...passages.map((p) => p.score)].sort((a, b) => b - a));

    // Declared type or extension against the bytes.
    const textAsPdf = await upload(await multipart(Buffer.from('just text'), 'notes.pdf', 'application/pdf'));
    expect(textAsPdf.statusCode).toBe(415);
    expect(textAsPdf.json().error).toMatchObject({ code: 'unsupported_media_type' });
    const docxAsPdf = await upload(await multipart(await docxFile(), 'w.pdf', 'application/pdf'));
    expect(docxAsPdf.statusCode).toBe(415);
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4f60000000049454e44ae426082', 'hex');
    expect((await upload(await multipart(png, 'logo.png', 'image/png'))).statusCode).toBe(415);
    // Size limit (4 MiB in this app): the error envelope with 413.
    const big = await upload(await multipart(Buffer.alloc(4 * 1024 * 1024 + 10, 'a'), 'big.txt', 'text/plain'));
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatchObject({ code: 'payload_too_large', requestId: expect.any(String) });
    // Bad JSON upload.
    expect((await api('POST', '/api/v1/documents', { title: 'x', content: 'y', format: 'pdf' })).statusCode).toBe(400);
  });

  it('refuses uploads over the document quota with 409', async () => {
    const quotaApp = await buildApp({ config: { ...rig.config, DOCUMENT_QUOTA_PER_TENANT: 1 }, db: rig.db, temporal: temporal.client, logger: pino({ level: 'silent' }) });
    try {
      const res = await quotaApp.inject({ method: 'POST', url: '/api/v1/documents', headers: { authorization: `Bearer ${key}` }, payload: { title: 'One more', content: 'text', format: 'text' } });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'quota_exceeded', message: expect.stringContaining('Document quota') });
    } finally {
      await quotaApp.close();
    }
  });

  it('shows progress in the workflow query and on the document while embedding', async () => {
    // 700 chunks = 6 batches written two at a time, each round taking at least a second: an
    // activity (2 s of work at most) returns after two rounds, so the workflow sees progress part-way.
    embedDelay.ms = 1000;
    try {
      const res = await api('POST', '/api/v1/documents', { title: 'Parts catalogue', content: longMarkdown(700, 'P'), format: 'markdown' });
      expect(res.statusCode, res.body).toBe(202);
      const created = res.json() as DocumentBody;
      const seen: IngestionProgress[] = [];
      const handle = temporal.client.workflow.getHandle(created.workflowId);
      const midway = await eventually(async () => {
        const d = await get(created.id);
        const q = await handle.query(ingestionProgressQuery).catch(() => undefined);
        if (q) seen.push(q);
        return d.status === 'processing' && d.chunksEmbedded > 0 && d.chunksEmbedded < d.chunkCount && d;
      }, 30_000, 'a document part-way through embedding');
      expect(midway).toMatchObject({ stage: 'embedding' });
      expect(midway.progress).toBeGreaterThan(0);
      expect(midway.progress).toBeLessThan(1);
      await eventually(async () => {
        const q = await handle.query(ingestionProgressQuery);
        seen.push(q);
        return q.stage === 'embedding' && q.chunksEmbedded > 0 && q.chunksEmbedded < q.chunksTotal;
      }, 30_000, 'the query part-way');
      const done = await ready(created.id, key, 60_000);
      expect(done.progress).toBe(1);
      expect(await handle.result()).toMatchObject({ stage: 'ready', chunksEmbedded: done.chunkCount, chunksTotal: done.chunkCount });
    } finally {
      embedDelay.ms = 0;
    }
  });

  it('marks an unreadable document failed with the reason and removes its file, which a retry could not use', async () => {
    const broken = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2000)]);
    const res = await upload(await multipart(broken, 'broken.pdf', 'application/pdf'));
    expect(res.statusCode, res.body).toBe(202);
    const id = (res.json() as DocumentBody).id;
    const storageKey = (await rig.db.document.findUniqueOrThrow({ where: { id } })).storageKey!;
    const failed = await eventually(async () => {
      const d = await get(id);
      return d.status === 'failed' && d;
    }, 30_000, 'failed document');
    expect(failed.error).toMatch(/PDF file could not be read/);
    expect(await forTenant(rig.db, rig.tenantId).chunk.count({ where: { documentId: id } })).toBe(0);
    await eventually(async () => (await rig.db.document.findUniqueOrThrow({ where: { id } })).storageKey === null, 10_000, 'the file released');
    await expect(createDocumentStorage(rig.config).get(storageKey)).rejects.toMatchObject({ code: 'ENOENT' });

    const retry = await api('POST', `/api/v1/documents/${id}/retry`, {});
    expect(retry.statusCode, retry.body).toBe(409);
    expect(retry.json().error.message).toMatch(/^This version's file was removed when it failed \(The PDF file could not be read: .*\): upload a corrected file as a new version$/);
    expect(await get(id)).toMatchObject({ status: 'failed', error: failed.error });
  });

  it('reuses the embedding of identical chunk text instead of embedding it again', async () => {
    const shared = 'Our workshop is open Monday to Saturday. Bring your bike before noon for same-day repairs.';
    const first = (await api('POST', '/api/v1/documents', { title: 'Workshop A', content: shared, format: 'text' })).json() as DocumentBody;
    await ready(first.id);
    const second = (await api('POST', '/api/v1/documents', { title: 'Workshop B', content: shared, format: 'text' })).json() as DocumentBody;
    await ready(second.id);
    const result = (await temporal.client.workflow.getHandle(second.workflowId).result()) as IngestionProgress;
    expect(result).toMatchObject({ reused: 1, embedded: 0 });
    const [a, b] = await rig.db.$queryRaw<{ embedding: string }[]>`
      SELECT embedding::text FROM chunks WHERE document_id IN (${first.id}::uuid, ${second.id}::uuid) ORDER BY created_at`;
    expect(a!.embedding).toBe(b!.embedding);
  });

  it('swaps versions atomically while queries run: always exactly one version answers', async () => {
    const v1 = (await api('POST', '/api/v1/documents', { title: 'Store hours', content: 'The flagship store opens at nine. Marker ALPHAVERSION.', format: 'text', tags: ['hours'] })).json() as DocumentBody;
    await ready(v1.id);
    embedDelay.ms = 300;
    const question = 'When does the flagship store open? alphaversion bravoversion';
    const observed: string[] = [];
    let stop = false;
    const querying = (async () => {
      while (!stop) {
        const passages: Passage[] = await rag.retrieveContext({ tenantId: rig.tenantId, question, tags: ['hours'] });
        const versions = passages.map((p) => (p.content.includes('ALPHAVERSION') ? 'v1' : p.content.includes('BRAVOVERSION') ? 'v2' : 'other'));
        observed.push(versions.sort().join('+'));
      }
    })();
    try {
      const res = await api('POST', `/api/v1/documents/${v1.id}/versions`, { content: 'The flagship store opens at ten. Marker BRAVOVERSION.', format: 'text' });
      expect(res.statusCode, res.body).toBe(202);
      const v2 = res.json() as DocumentBody;
      expect(v2).toMatchObject({ documentKey: v1.documentKey, version: 2, title: 'Store hours', tags: ['hours'] });
      expect((await get(v1.id)).status).toBe('ready'); // the old version answers meanwhile
      await ready(v2.id);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      stop = true;
      await querying;
      embedDelay.ms = 0;
    }
    expect(observed.length).toBeGreaterThan(5);
    expect(new Set(observed)).toEqual(new Set(['v1', 'v2']));
    expect(observed.indexOf('v2')).toBeGreaterThan(observed.lastIndexOf('v1'));
    expect((await get(v1.id)).deletedAt).not.toBeNull();
  });

  it('excludes a deleted document from search at once', async () => {
    const doc = (await api('POST', '/api/v1/documents', { title: 'Old promo', content: 'Spring promotion: helmets half price until April.', format: 'text' })).json() as DocumentBody;
    await ready(doc.id);
    expect((await rag.retrieveContext({ tenantId: rig.tenantId, question: 'helmets promotion' }))[0]?.documentId).toBe(doc.id);
    expect((await api('DELETE', `/api/v1/documents/${doc.id}`)).statusCode).toBe(204);
    expect((await rag.retrieveContext({ tenantId: rig.tenantId, question: 'helmets promotion' })).map((p) => p.documentId)).not.toContain(doc.id);
    expect((await api('GET', '/api/v1/documents?limit=100')).json().items.map((d: DocumentBody) => d.id)).not.toContain(doc.id);
    expect((await api('DELETE', `/api/v1/documents/${doc.id}`)).statusCode).toBe(404);
  });

  it("never retrieves another tenant's chunks", async () => {
    const { tenant: other } = await createTenant(rig.db, { name: 'Other Bikes', slug: `other-${randomBytes(4).toString('hex')}` });
    const otherKey = (await createApiKey(forTenant(rig.db, other.id), { name: 'k', scope: 'tenant' })).key;
    const secret = 'Secret supplier price list: titanium frames cost 900 EUR wholesale.';
    const theirs = (await api('POST', '/api/v1/documents', { title: 'Supplier prices', content: secret, format: 'text' }, otherKey)).json() as DocumentBody;
    await ready(theirs.id, otherKey);
    const ours = await rag.retrieveContext({ tenantId: rig.tenantId, question: 'titanium frames wholesale supplier price', limit: 20 });
    expect(ours.map((p) => p.documentId)).not.toContain(theirs.id);
    expect(ours.some((p) => p.content.includes('titanium'))).toBe(false);
    const theirPassages = await rag.retrieveContext({ tenantId: other.id, question: 'titanium frames wholesale supplier price', limit: 20 });
    expect(theirPassages.map((p) => p.documentId)).toEqual([theirs.id]);
    expect((await api('GET', `/api/v1/documents/${theirs.id}`)).statusCode).toBe(404);
  });

  it('answers a WhatsApp question with a citation of the uploaded document', async () => {
    const guide = '# Opening hours\n\nThe Acme Bikes store opens at 9 am on weekdays and at 11 am on Sundays.\n\n# Returns\n\nBikes can be returned within 30 days with the receipt.';
    const doc = (await api('POST', '/api/v1/documents', { title: 'Acme store guide', content: guide, format: 'markdown' })).json() as DocumentBody;
    await ready(doc.id);
    const user = `1555${Math.floor(Math.random() * 1e7)}`;
    await rig.deliver('whatsapp', user, [text('When does the store open on Sundays?')]);
    const [reply] = await eventually(() => {
      const sent = rig.graph.delivered.filter((d) => d.to === user);
      return sent.length > 0 && sent;
    }, 30_000, 'a reply');
    expect(reply!.text).toContain('11 am on Sundays');
    expect(reply!.text).toMatch(/Sources:\n\[1\] Acme store guide/);
  });

  it('keeps answering from the old model when a model switch cannot complete (no vectors dropped)', async () => {
    const before = await rig.db.chunk.count({ where: { tenantId: rig.tenantId, embeddingModel: 'local-hash-384' } });
    const patch = async (embeddingModel: string) => {
      const { version } = (await api('GET', '/api/v1/settings')).json() as { version: number };
      const res = await app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: { authorization: `Bearer ${key}`, 'if-match': `"${version}"` }, payload: { settings: { rag: { embeddingModel } } } });
      expect(res.statusCode, res.body).toBe(200);
    };
    await patch('text-embedding-3-small');
    try {
      // No OPENAI_API_KEY on this worker: the switch fails, non-retryably, and says why.
      await expect(temporal.client.workflow.getHandle(`embedding-model:${rig.tenantId}`).result()).rejects.toThrow();
      const tenant = await rig.db.tenant.findUniqueOrThrow({ where: { id: rig.tenantId } });
      expect(tenant.embeddingModel).toBe('local-hash-384');
      expect(await rig.db.chunk.count({ where: { tenantId: rig.tenantId, embeddingModel: 'local-hash-384' } })).toBe(before);
      expect(await rag.retrieveContext({ tenantId: rig.tenantId, question: 'tyre pressure city bike' })).not.toHaveLength(0);
    } finally {
      await patch('local-hash-384');
    }
  });
});
