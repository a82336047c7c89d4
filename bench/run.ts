// `npm run bench`: every benchmark of the project, in one run on this machine. Results are
// printed and appended to bench/RESULTS.md; what each measures is in bench/README.md.
import { runConversationsBench } from './conversations.ts';

try {
  await runConversationsBench();
  process.exit(0);
} catch (err) {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
