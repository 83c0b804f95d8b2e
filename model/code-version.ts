// The transform code version in every mapper hash, so in every unit's
// fingerprint: a resumed run redoes the units whose bytes the code may now
// write differently. Nobody bumps it by hand:
// - from the build: the sha256 of the worker bundled on its own, unsplit (the
//   code the units run, packages included), and of model/computed.ts (which a
//   model of one's own may import), written into dist/build.json by
//   `npm run build` (scripts/build.ts) beside each mapper's bundle's sha256;
// - from the sources: the sha256 of transform/, model/ (its entities aside)
//   and lib/, read once at start-up.
// Either way a mapper's own file goes into its hash only (registry.ts), so a
// changed mapper redoes its table alone.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../lib/meter.ts';
import { DIST_DIR, FROM_BUILD, PACKAGE_ROOT } from '../lib/runtime.ts';

/** What `npm run build` writes beside its output. */
export interface BuildInfo {
  /** sha256 of the bundled transform code (see above). */
  code_version: string;
  /** Mapper source name (`users.ts`) → sha256 of that mapper bundled on its own: what its hash covers. */
  mappers: Record<string, string>;
}

/** Its name in dist/. */
export const BUILD_INFO = 'build.json';
const BUILD_INFO_FILE = path.join(DIST_DIR, BUILD_INFO);

/** The shipped entities' sources, relative to the package root: each mapper's hash covers its own file. */
export const ENTITIES_SOURCE_DIR = 'model/entities';
/** The source folders whose code decides a unit's bytes (the entities aside). */
const SOURCE_DIRS = ['transform', 'model', 'lib'];

let version: string | undefined;
let info: BuildInfo | undefined;

export function transformCodeVersion(): string {
  version ??= FROM_BUILD ? buildInfo().code_version : sourceCodeVersion(PACKAGE_ROOT);
  return version;
}

/** dist/build.json, read once: the build's code version and mapper hashes. */
export function buildInfo(): BuildInfo {
  if (info) return info;
  const read = JSON.parse(readFileSync(BUILD_INFO_FILE, 'utf8')) as Partial<BuildInfo>;
  if (typeof read.code_version !== 'string' || typeof read.mappers !== 'object' || read.mappers === null) {
    throw new Error(`${BUILD_INFO_FILE} has no code_version or mappers: rebuild with npm run build`);
  }
  info = { code_version: read.code_version, mappers: read.mappers };
  return info;
}

/** sha256 over the path and text of every non-test .ts file of SOURCE_DIRS under `root`, the mappers aside. */
export function sourceCodeVersion(root: string): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (rel !== ENTITIES_SOURCE_DIR) walk(rel);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) files.push(rel);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  files.sort();
  return sha256Hex(files.map((f) => `${f}\n${sha256Hex(readFileSync(path.join(root, f)))}`).join('\n'));
}
