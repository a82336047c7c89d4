// What the schema check expects, read from the migrations (the database side is covered by
// test/integrity.test.ts).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedSchemaObjects } from './integrity.ts';

describe('expectedSchemaObjects', () => {
  it('lists every index, primary key and foreign key the init migration creates, with its statement', () => {
    const initSql = readFileSync(new URL('../prisma/migrations/20261122034500_init/migration.sql', import.meta.url), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    mkdirSync(join(dir, '20261122034500_init'));
    writeFileSync(join(dir, '20261122034500_init', 'migration.sql'), initSql);
    const objects = expectedSchemaObjects(dir);
    rmSync(dir, { recursive: true, force: true });
    const init = initSql
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('--'))
      .join('\n');
    const indexes = [...init.matchAll(/CREATE (?:UNIQUE )?INDEX "([^"]+)"/g)].map((m) => m[1]);
    const constraints = [...init.matchAll(/CONSTRAINT "([^"]+)"/g)].map((m) => m[1]);
    expect(objects.filter((o) => o.kind === 'index').map((o) => o.name).sort()).toEqual(indexes.sort());
    expect(objects.filter((o) => o.kind === 'constraint').map((o) => o.name).sort()).toEqual(constraints.sort());
    expect(indexes).toContain('chunks_embedding_local_hash_384_idx');
    expect(constraints).toEqual(expect.arrayContaining(['messages_pkey', 'messages_conversation_id_fkey']));
    expect(objects.find((o) => o.name === 'messages_pkey')?.statement).toBe('ALTER TABLE "messages" ADD CONSTRAINT "messages_pkey" PRIMARY KEY ("id","created_at")');
    expect(objects.find((o) => o.name === 'chunks_embedding_local_hash_384_idx')?.statement).toMatch(/^CREATE INDEX "chunks_embedding_local_hash_384_idx" ON "chunks"\s+USING hnsw .*WHERE embedding_model = 'local-hash-384'$/s);
  });

  it('follows the whole migration history by default', () => {
    const names = expectedSchemaObjects().map((o) => o.name);
    expect(names).toContain('chunks_embedding_local_hash_384_idx');
    expect(names).toContain('chunks_embedding_text_embedding_3_small_idx'); // added by a later migration
    expect(names).not.toContain('chunks_document_id_ordinal_key'); // dropped by it
  });

  it('forgets what a later migration drops', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      mkdirSync(join(dir, '1_init'));
      mkdirSync(join(dir, '2_later'));
      writeFileSync(join(dir, '1_init', 'migration.sql'), 'CREATE TABLE "a" (\n    "id" INT,\n    CONSTRAINT "a_pkey" PRIMARY KEY ("id")\n);\nCREATE INDEX "a_x_idx" ON "a"("id");\nCREATE INDEX "a_y_idx" ON "a"("id");\n');
      writeFileSync(join(dir, '2_later', 'migration.sql'), '-- DropIndex\nDROP INDEX "a_x_idx";\nCREATE UNIQUE INDEX "a_z_key" ON "a"("id");\n');
      expect(expectedSchemaObjects(dir).map((o) => o.name).sort()).toEqual(['a_pkey', 'a_y_idx', 'a_z_key']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
