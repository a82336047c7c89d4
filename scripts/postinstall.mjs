// Runs after `npm install`: makes Prisma work without the downloads it normally needs.
//  1. @prisma/internals loads build/schema_engine_bg.wasm beside itself but does not ship it;
//     copy it from the @prisma/schema-engine-wasm version that @prisma/internals resolves.
//  2. `prisma generate` never runs the native schema engine, but the CLI insists on finding one;
//     PRISMA_SCHEMA_ENGINE_BINARY pointing at any executable satisfies it without a download.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

// Neither package exports its package.json: resolve their entry points instead.
const internalsDir = join(dirname(require.resolve('@prisma/internals')), '..');
const requireFromInternals = createRequire(join(internalsDir, 'package.json'));
const engineWasmDir = dirname(requireFromInternals.resolve('@prisma/schema-engine-wasm'));
const wasmTarget = join(internalsDir, 'build', 'schema_engine_bg.wasm');
if (!existsSync(wasmTarget)) {
  mkdirSync(dirname(wasmTarget), { recursive: true });
  copyFileSync(join(engineWasmDir, 'schema_engine_bg.wasm'), wasmTarget);
}

const prismaCli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [prismaCli, 'generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
});
process.exit(result.status ?? 1);
