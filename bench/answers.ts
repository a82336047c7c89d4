// Answer quality benchmark (`npm run bench:answers`, or `npm run bench -- answers`): the labelled
// evaluation set in bench/eval/ (a bike shop's documents, questions worded otherwise than the
// documents, each with the fact its answer must contain, and questions nothing in the documents
// answers) through the platform's own code on its own Postgres + pgvector and Temporal dev server
// (scripts/provision/isolated-stack.ts):
//   - the documents are uploaded through the API (POST /api/v1/documents) and ingested by the
//     ingestion workflow on a real worker;
//   - every question is answered by the `generateReply` activity as the conversation workflow
//     calls it (retrieval inside, then the tenant's provider), in a mock activity context;
//   - per embedder (local-hash-384; text-embedding-3-small behind the fake OpenAI server, whose
//     vectors are the same lexical hashing at 1536 dimensions) and provider (local; OpenAI behind
//     the fake, whose answers are canned: the first sentence of passage [1]):
//     recall@5 (the expected document among the passages handed to the provider), answer accuracy
//     (the expected fact in the reply, not counting its Sources list) on answerable questions, and
//     the correct-decline rate on unanswerable ones (the reply says it does not know and offers a
//     person with the tenant's handoff keyword).
// The questions are split in two halves by position (even: tuning, odd: held out) and accuracy
// and declines are reported for each: the offline provider's constants are chosen on the tuning
// half, so the held-out half shows how much of a gain is overfitting.
// Results are printed and appended to bench/RESULTS.md.
// `-- --embedder <model>` (repeatable) limits the run to those embedding models; each model's
// speed is measured too: the eval set's chunk texts embedded in batches (texts/s) and each
// question embedded alone (the latency a customer's question pays before retrieval).
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { createEmbedderRegistry } from '../activities/embeddings/index.ts';
import { createLlmActivities, type GeneratedReply, type GenerateReplyInput } from '../activities/llm/index.ts';
import { createRagActivities } from '../activities/rag.ts';
import { buildApp } from '../api/app.ts';
import { loadConfig } from '../lib/config.ts';
import { createDb } from '../lib/db.ts';
import { EMBEDDING_MODEL_NAMES, isEmbeddingModel, type EmbeddingModelName } from '../lib/embedding-models.ts';
import { createDocumentStorage } from '../lib/storage.ts';
import { createTenant } from '../lib/tenants.ts';
import { connectWorkerConnection, createTemporalClient, taskQueueName } from '../lib/temporal.ts';
import { PROJECT_ROOT } from '../scripts/provision/tools.ts';
import { startStack } from '../scripts/provision/isolated-stack.ts';
import { FAKE_OPENAI_KEY, startFakeOpenAi } from '../test/fakes/openai.ts';
import { createWorkers } from '../workers/create-workers.ts';
import { fmt, sleep, summarize } from './lib/stats.ts';

const EVAL_DIR = join(PROJECT_ROOT, 'bench', 'eval');
const HANDOFF_KEYWORD = 'human';

interface EvalSet {
  answerable: { q: string; expect: string[]; source: string }[];
  unanswerable: { q: string }[];
}

interface Combination {
  embedder: EmbeddingModelName;
  provider: 'local' | 'openai';
}

/** Right answers and correct declines in each half of the evaluation set (see halfOf). */
interface Halves {
  right: [number, number];
  declines: [number, number];
}

/** 0: the tuning half (even positions), 1: the held-out half (odd positions). */
const halfOf = (position: number): 0 | 1 => (position % 2 === 0 ? 0 : 1);
const halfSize = (n: number, half: 0 | 1) => (half === 0 ? Math.ceil(n / 2) : Math.floor(n / 2));

interface Outcome {
  combination: Combination;
  recall: number;
  /** The expected document is the first passage. */
  recallAt1: number;
  accuracy: number;
  declinedAnswerable: number;
  correctDeclines: number;
  halves: Halves;
  misses: string[];
  wrongAnswers: string[];
}

const combinationsOf = (embedders: readonly EmbeddingModelName[]): Combination[] =>
  (['local', 'openai'] as const).flatMap((provider) => embedders.map((embedder) => ({ embedder, provider })));

/** The embedders named by `--embedder <model>` arguments; every known model when there are none. */
export function embeddersFromArgs(args: readonly string[]): EmbeddingModelName[] {
  const named = args.flatMap((arg, i) => (args[i - 1] === '--embedder' ? [arg] : []));
  const unknown = named.filter((name) => !isEmbeddingModel(name));
  if (unknown.length) throw new Error(`unknown embedder ${unknown.join(', ')}; choose from ${EMBEDDING_MODEL_NAMES.join(', ')}`);
  return named.length ? (named as EmbeddingModelName[]) : [...EMBEDDING_MODEL_NAMES];
}

interface EmbedderSpeed {
  model: EmbeddingModelName;
  textsPerSecond: number;
  queryP50Ms: number;
  queryP99Ms: number;
}

/** Batch throughput over the chunk texts (repeated to at least 64) and single-question latency. */
async function embedderSpeed(embedders: ReturnType<typeof createEmbedderRegistry>, model: EmbeddingModelName, chunkTexts: string[], questions: string[]): Promise<EmbedderSpeed> {
  const provider = embedders(model);
  await provider.embed([questions[0]!]); // loads a local model's files before the clock starts
  const texts = Array.from({ length: Math.max(64, chunkTexts.length) }, (_, i) => `${chunkTexts[i % chunkTexts.length]!} (${i})`);
  const started = performance.now();
  for (let i = 0; i < texts.length; i += provider.maxBatch) await provider.embed(texts.slice(i, i + provider.maxBatch));
  const textsPerSecond = texts.length / ((performance.now() - started) / 1000);
  const latencies: number[] = [];
  for (const q of questions) {
    const t = performance.now();
    await provider.embed([q]);
    latencies.push(performance.now() - t);
  }
  const { p50, p99 } = summarize(latencies);
  return { model, textsPerSecond, queryP50Ms: p50, queryP99Ms: p99 };
}

function speedTable(speeds: EmbedderSpeed[], chunks: number): string {
  return [
    `Embedding speed (one process, this machine): ${chunks} chunk texts of the eval set repeated to 64 and embedded in the provider's batches; every question embedded alone.`,
    '',
    '| embedder | batch texts/s | question p50 ms | question p99 ms |',
    '| --- | --- | --- | --- |',
    ...speeds.map((s) => `| ${s.model}${s.model === 'text-embedding-3-small' ? ' (fake server on loopback)' : ''} | ${fmt(s.textsPerSecond, 1)} | ${fmt(s.queryP50Ms, 1)} | ${fmt(s.queryP99Ms, 1)} |`),
    '',
  ].join('\n');
}

export function loadEvalSet(): { documents: { name: string; title: string; content: string }[]; questions: EvalSet } {
  const documents = readdirSync(join(EVAL_DIR, 'documents'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => {
      const content = readFileSync(join(EVAL_DIR, 'documents', f), 'utf8');
      return { name: f.replace(/\.md$/, ''), title: /^# (.+)$/m.exec(content)?.[1] ?? f, content };
    });
  const questions = JSON.parse(readFileSync(join(EVAL_DIR, 'questions.json'), 'utf8')) as EvalSet;
  return { documents, questions };
}

/**
 * With BENCH_ANSWERS_DUMP=<file>, each question's retrieved passages are appended to the file
 * (JSON lines), so the offline provider can be tried on them again without the stack.
 */
function dumpPassages(record: Record<string, unknown>): void {
  if (process.env.BENCH_ANSWERS_DUMP) appendFileSync(process.env.BENCH_ANSWERS_DUMP, `${JSON.stringify(record)}\n`);
}

/** The reply without its Sources list: a fact counts only where the customer reads it as the answer. */
const answerText = (reply: GeneratedReply) => reply.text.split(/\n\s*Sources:/)[0]!.toLowerCase();
const declines = (reply: GeneratedReply) => reply.unanswered === true && reply.text.includes(`"${HANDOFF_KEYWORD}"`);

export async function runAnswersBench(embeddersToRun: readonly EmbeddingModelName[] = EMBEDDING_MODEL_NAMES): Promise<string> {
  const started = Date.now();
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const { documents, questions } = loadEvalSet();
  log(`Answers benchmark: ${documents.length} documents, ${questions.answerable.length} answerable and ${questions.unanswerable.length} unanswerable questions; starting Postgres and Temporal…`);
  const stack = await startStack({ name: 'answers', database: 'metachat_answers' });
  const fake = await startFakeOpenAi();
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    ADMIN_API_KEY: randomBytes(32).toString('base64url'),
    SECRETS_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    DOCUMENT_STORAGE_DIR: join(stack.dataRoot, 'documents'),
    TEMPORAL_TASK_QUEUE_PREFIX: 'answersbench-',
    OPENAI_API_KEY: FAKE_OPENAI_KEY,
    OPENAI_BASE_URL: fake.url,
    RATE_LIMIT_API_PER_MINUTE: '100000',
  };
  const config = loadConfig(env);
  const db = createDb(config, 'answers-bench');
  const logger = pino({ level: 'silent' });
  const embedders = createEmbedderRegistry(config);
  const connection = await connectWorkerConnection(config);
  const client = createTemporalClient(config);
  const storage = createDocumentStorage(config);
  const workers = await createWorkers({
    connection,
    namespace: 'default',
    taskQueues: ['ingestion'],
    tuning: config,
    deps: { db, logger, keyring: config.SECRETS_KEYS, temporal: client, graphApiUrl: config.META_GRAPH_API_URL, documentStorage: storage, embedders, chunkQuota: config.CHUNK_QUOTA_PER_TENANT },
    queueName: (q) => taskQueueName(config, q),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const app = await buildApp({ config, db, temporal: client, logger });
  await app.ready();
  const rag = createRagActivities(db, embedders);
  const llm = createLlmActivities({ db, keyring: config.SECRETS_KEYS, retrieve: rag.retrieveContext, openai: { apiKey: FAKE_OPENAI_KEY, baseURL: fake.url } });
  try {
    const outcomes: Outcome[] = [];
    const tenants: string[] = [];
    for (const combination of combinationsOf(embeddersToRun)) {
      const settings = { locale: 'en', handoff: { keywords: [HANDOFF_KEYWORD, 'agent'] }, llm: { provider: combination.provider }, rag: { embeddingModel: combination.embedder } };
      const { tenant, apiKey } = await createTenant(db, { name: 'ACME Bikes', slug: `acme-${randomBytes(4).toString('hex')}`, settings });
      // A new tenant starts on the model it asked for: nothing to re-embed yet.
      await db.tenant.update({ where: { id: tenant.id }, data: { embeddingModel: combination.embedder } });
      tenants.push(tenant.id);
      const documentIds = new Map<string, string>();
      for (const doc of documents) {
        const res = await app.inject({
          method: 'POST', url: '/api/v1/documents', headers: { authorization: `Bearer ${apiKey.key}` }, payload: { title: doc.title, content: doc.content, format: 'markdown' },
        });
        if (res.statusCode !== 202) throw new Error(`upload answered ${res.statusCode}: ${res.body}`);
        documentIds.set(doc.name, (res.json() as { id: string }).id);
      }
      for (const [name, id] of documentIds) {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const d = (await app.inject({ url: `/api/v1/documents/${id}`, headers: { authorization: `Bearer ${apiKey.key}` } })).json() as { status: string; error: string | null };
          if (d.status === 'ready') break;
          if (d.status === 'failed' || Date.now() > deadline) throw new Error(`document ${name} not ready: ${d.status} ${d.error ?? ''}`);
          await sleep(50);
        }
      }
      // Full-text retrieval reads lexeme shares from the planner's statistics: gathered now, so
      // every run ranks with the same statistics instead of whatever autovacuum has reached.
      await db.$executeRawUnsafe('ANALYZE chunks');
      const ask = (question: string) => {
        const input: GenerateReplyInput = { tenantId: tenant.id, question, passages: [], history: [], attachments: [], handoffKeyword: HANDOFF_KEYWORD, retrieve: { question } };
        return new MockActivityEnvironment().run(llm.generateReply, input) as Promise<GeneratedReply>;
      };
      let found = 0;
      let first = 0;
      let right = 0;
      let declinedAnswerable = 0;
      const misses: string[] = [];
      const wrongAnswers: string[] = [];
      const halves: Halves = { right: [0, 0], declines: [0, 0] };
      for (const [i, item] of questions.answerable.entries()) {
        const reply = await ask(item.q);
        dumpPassages({ ...combination, i, q: item.q, expect: item.expect, passages: reply.passages });
        const sources = (reply.passages ?? []).slice(0, 5).map((p) => p.documentId);
        if (sources.includes(documentIds.get(item.source)!)) found++;
        else misses.push(item.q);
        if (sources[0] === documentIds.get(item.source)) first++;
        const text = answerText(reply);
        if (item.expect.some((fact) => text.includes(fact.toLowerCase()))) {
          right++;
          halves.right[halfOf(i)]++;
        } else wrongAnswers.push(`${item.q} → ${reply.text.split('\n')[0]}`);
        if (declines(reply)) declinedAnswerable++;
      }
      let correctDeclines = 0;
      for (const [i, item] of questions.unanswerable.entries()) {
        const reply = await ask(item.q);
        dumpPassages({ ...combination, i, q: item.q, unanswerable: true, passages: reply.passages });
        if (declines(reply)) {
          correctDeclines++;
          halves.declines[halfOf(i)]++;
        } else wrongAnswers.push(`(unanswerable) ${item.q} → ${reply.text.split('\n')[0]}`);
      }
      const n = questions.answerable.length;
      const outcome = { combination, recall: found / n, recallAt1: first / n, accuracy: right / n, declinedAnswerable, correctDeclines, halves, misses, wrongAnswers };
      outcomes.push(outcome);
      log(
        `  ${combination.embedder} + ${combination.provider}: recall@5 ${pct(outcome.recall)}, recall@1 ${pct(outcome.recallAt1)}, accuracy ${pct(outcome.accuracy)} ` +
          `(tuning ${halfAccuracy(outcome, questions, 0)}, held out ${halfAccuracy(outcome, questions, 1)}), declines ${correctDeclines}/${questions.unanswerable.length} ` +
          `(tuning ${halfDeclines(outcome, questions, 0)}, held out ${halfDeclines(outcome, questions, 1)})`,
      );
      if (process.env.BENCH_ANSWERS_VERBOSE) for (const w of [...misses.map((m) => `(not in the top 5) ${m}`), ...wrongAnswers]) log(`    ✗ ${w}`);
    }
    const chunks = await db.chunk.count({ where: { tenantId: tenants[0]! } });
    const chunkTexts = (await db.chunk.findMany({ where: { tenantId: tenants[0]! }, select: { content: true }, orderBy: { ordinal: 'asc' } })).map((c) => c.content);
    const allQuestions = [...questions.answerable, ...questions.unanswerable].map((item) => item.q);
    const speeds: EmbedderSpeed[] = [];
    for (const model of embeddersToRun) speeds.push(await embedderSpeed(embedders, model, chunkTexts, allQuestions));
    const report = `${reportOf(outcomes, questions, documents.length, chunks, (Date.now() - started) / 1000)}\n${speedTable(speeds, chunkTexts.length)}`;
    appendFileSync(join(PROJECT_ROOT, 'bench', 'RESULTS.md'), `\n${report}\n`);
    log(report);
    return report;
  } finally {
    await app.close();
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await connection.close();
    await client.connection.close();
    await db.$disconnect();
    await fake.close();
    await stack.close();
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const halfAccuracy = (o: Outcome, q: EvalSet, half: 0 | 1) => pct(o.halves.right[half] / halfSize(q.answerable.length, half));
const halfDeclines = (o: Outcome, q: EvalSet, half: 0 | 1) => `${o.halves.declines[half]}/${halfSize(q.unanswerable.length, half)}`;

function reportOf(outcomes: Outcome[], questions: EvalSet, documents: number, chunks: number, seconds: number): string {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT }).toString().trim();
  const cpus = os.cpus();
  const n = questions.answerable.length;
  const u = questions.unanswerable.length;
  const ok = (v: boolean) => (v ? '✅' : '❌');
  return [
    `## Answers — ${new Date().toISOString()} — commit ${commit}`,
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}; Node ${process.version}. Evaluation set bench/eval/: ${documents} documents (${chunks} chunks), ${n} answerable questions ` +
      `(worded otherwise than the documents), ${u} unanswerable. Documents uploaded through the API and ingested by the workflow; each question answered by generateReply ` +
      `(retrieval + provider) as the conversation calls it. Run took ${seconds.toFixed(0)} s.`,
    '',
    '| embedder | provider | recall@5 | recall@1 | answer accuracy (target ≥ 85 %) | tuning / held-out accuracy | answerable declined | correct declines (target all) | tuning / held-out declines |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...outcomes.map(
      (o) =>
        `| ${o.combination.embedder}${o.combination.embedder === 'text-embedding-3-small' ? ' (fake server: lexical hashing at 1536-d)' : ''} | ${o.combination.provider}${o.combination.provider === 'openai' ? ' (fake: canned, first sentence of passage [1])' : ''} ` +
        `| ${pct(o.recall)} | ${pct(o.recallAt1)} | ${pct(o.accuracy)}${o.combination.provider === 'local' ? ` ${ok(o.accuracy >= 0.85)}` : ''} ` +
        `| ${halfAccuracy(o, questions, 0)} / ${halfAccuracy(o, questions, 1)} | ${o.declinedAnswerable}/${n} ` +
        `| ${o.correctDeclines}/${u}${o.combination.provider === 'local' ? ` ${ok(o.correctDeclines === u)}` : ''} | ${halfDeclines(o, questions, 0)} / ${halfDeclines(o, questions, 1)} |`,
    ),
    '',
    'The fake OpenAI rows measure retrieval, not a model: the fake answers the first sentence of the top passage, so its accuracy is "the top passage opens with the fact", ' +
      'and it never offers a person (its "I don\'t know" has no handoff keyword), so its declines are 0 by construction. ' +
      `Halves: questions at even positions of bench/eval/questions.json are the tuning half (${halfSize(n, 0)} answerable, ${halfSize(u, 0)} unanswerable), ` +
      'those at odd positions the held-out half, which the offline provider\'s constants were not chosen on.',
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runAnswersBench(embeddersFromArgs(process.argv.slice(2))).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`answers benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
