// `local-hash-384`: a deterministic embedder that needs no model, key or network. Word unigrams
// and bigrams are hashed (FNV-1a, 32 bit) into 384 dimensions with a hash-derived sign
// ("feature hashing", the hashing trick), weighted by 1 + log(tf), and L2-normalised, so cosine
// similarity measures shared words and word pairs.
//
// Quality, plainly: this is LEXICAL similarity, not semantic. "refund" and "money back" share
// nothing; "bike" and "bikes" are different words. It is a good offline default (tests, demos,
// air-gapped installs) and a second lexical signal next to full text, not a substitute for a
// real embedding model. Tenants that need meaning choose all-minilm-l6-v2-int8 (offline, see
// minilm.ts) or text-embedding-3-small.
export const LOCAL_HASH_MODEL = 'local-hash-384';
export const LOCAL_HASH_DIMENSIONS = 384;

const BIGRAM_WEIGHT = 0.5;

/** Lower-cased words of letters and digits, diacritics removed ("Olá" → "ola"). */
export function words(text: string): string[] {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLocaleLowerCase('en').match(/[\p{L}\p{N}]+/gu) ?? [];
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function embedLocalHash(text: string, dimensions = LOCAL_HASH_DIMENSIONS): number[] {
  const counts = new Map<string, number>();
  const ws = words(text);
  for (let i = 0; i < ws.length; i++) {
    counts.set(ws[i]!, (counts.get(ws[i]!) ?? 0) + 1);
    if (i + 1 < ws.length) {
      const bigram = `${ws[i]} ${ws[i + 1]}`;
      counts.set(bigram, (counts.get(bigram) ?? 0) + 1);
    }
  }
  const vector = new Array<number>(dimensions).fill(0);
  for (const [feature, tf] of counts) {
    const h = fnv1a(feature);
    const weight = (1 + Math.log(tf)) * (feature.includes(' ') ? BIGRAM_WEIGHT : 1);
    // Low bits pick the dimension, the top bit the sign (so collisions cancel on average).
    vector[h % dimensions]! += h & 0x80000000 ? -weight : weight;
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}
