// Workflow code must decide the same on every worker and on every replay. The bundler refuses
// Node modules; this refuses what the sandbox lets through but the host decides: the locale
// (toLocaleLowerCase on a Turkish worker lower-cases 'I' to 'ı'), time zones and Intl formats.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const WORKFLOWS = dirname(fileURLToPath(import.meta.url));
const HOST_DEPENDENT = /\b(toLocale\w*|localeCompare|Intl\.|getTimezoneOffset|toTimeString|toDateString)\b/;

function workflowSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return workflowSources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('workflow code', () => {
  it('uses nothing whose answer depends on the worker host (locale, time zone)', () => {
    const found = workflowSources(WORKFLOWS).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line: line.replace(/\/\/.*$/, ''), at: `${relative(WORKFLOWS, file)}:${i + 1}` }))
        .filter(({ line }) => HOST_DEPENDENT.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

});
