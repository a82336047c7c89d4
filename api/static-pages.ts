// What the API's own pages (the web chat widget) share: their files, read once
// from a fixed list so that no request path ever reaches the file system, and the shape of their
// Content-Security-Policy (the API's own forbids everything: it answers JSON).
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface PageFile {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The named files of `dir`, by name, with their content types. */
export function readPageFiles(dir: string, names: string[]): Map<string, PageFile> {
  return new Map(
    names.map((name) => {
      const type = TYPES[extname(name)];
      if (!type) throw new Error(`no content type for ${name}`);
      return [name, { body: readFileSync(join(dir, name)), type }] as const;
    }),
  );
}

/**
 * A page's policy: scripts and styles from this origin only (no inline code), no form
 * submission, fetches and sockets to `connectSrc`, frames of `frameSrc` only (none unless given),
 * framing by `frameAncestors` (last, so that a reader can see at the end who may frame the page).
 */
export function pageCsp(options: { connectSrc: string[]; frameAncestors: string[]; frameSrc?: string[] }): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${options.connectSrc.join(' ')}`,
    ...(options.frameSrc ? [`frame-src ${options.frameSrc.join(' ')}`] : []),
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${options.frameAncestors.join(' ')}`,
  ].join('; ');
}
