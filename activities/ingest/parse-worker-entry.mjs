// Entry of a parse thread. The thread starts from plain JavaScript with none of the parent's
// flags (./parse-thread.ts passes no execArgv), so it has no TypeScript loader whether the
// process runs under tsx (npm start), vitest or node: tsx's API loads the body, alike in all three.
import { tsImport } from 'tsx/esm/api';

await tsImport('./parse-worker.ts', import.meta.url);
