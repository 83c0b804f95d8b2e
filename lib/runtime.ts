// Where the running code came from: the sources (through tsx, in development
// and tests) or the build in dist/ (`npm run build`, what make, bin/pg2ddb and
// the image run). Files the code reads at run time are found from the package
// root, never beside the module: bundled, a module sits in a chunk of dist/.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  // The nearest directory up holding package.json: the repository, or the image's /app (dist/ has none).
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

/** The package's root directory: the repository, or where it was installed. */
export const PACKAGE_ROOT = packageRoot();

/** The build's output directory. */
export const DIST_DIR = path.join(PACKAGE_ROOT, 'dist');

/** True when this code is the build in dist/, false from the sources (or the worker bundle made from them). */
export const FROM_BUILD = fileURLToPath(import.meta.url).startsWith(DIST_DIR + path.sep);

/** node's arguments that run one of the package's scripts (`extract/cli.ts`): its build in dist/, or its source through tsx. */
export function nodeArgs(script: string): string[] {
  return FROM_BUILD ? [path.join(DIST_DIR, script.replace(/\.ts$/, '.js'))] : ['--import', 'tsx/esm', path.join(PACKAGE_ROOT, script)];
}
