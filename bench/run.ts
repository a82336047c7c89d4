// `npm run bench`: every benchmark of the project, in one run on this machine (about 11 minutes).
// Results are printed and appended to bench/RESULTS.md; what each measures is in bench/README.md.
// `npm run bench -- conversations`, `-- rag` or `-- answers` (also `npm run bench:answers`) runs one of them;
// `--embedder <model>` (repeatable) limits the answers benchmark to those embedding models.
import { embeddersFromArgs, runAnswersBench } from './answers.ts';
import { runConversationsBench } from './conversations.ts';
import { runRagBench } from './rag.ts';

const args = process.argv.slice(2);
const options = args.flatMap((arg, i) => (arg === '--embedder' ? [arg, args[i + 1] ?? ''] : []));
const wanted = args.filter((arg, i) => arg !== '--embedder' && args[i - 1] !== '--embedder');
let embedders: ReturnType<typeof embeddersFromArgs>;
try {
  embedders = embeddersFromArgs(options);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const benches = { conversations: runConversationsBench, rag: runRagBench, answers: () => runAnswersBench(embedders) };
const unknown = wanted.filter((name) => !(name in benches));
if (unknown.length) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}

try {
  for (const [name, run] of Object.entries(benches)) {
    if (wanted.length === 0 || wanted.includes(name)) await run();
  }
  process.exit(0);
} catch (err) {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
