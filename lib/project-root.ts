// The folder holding package.json, found from this module whether it runs from the sources
// (lib/project-root.ts) or from the build (dist/lib/project-root.js): files that are not code
// (prisma/migrations, web/dist, the widget's page) stay where they are in the repository and the
// image, and are read from here.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function nearestPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = nearestPackageRoot(dirname(fileURLToPath(import.meta.url)));
