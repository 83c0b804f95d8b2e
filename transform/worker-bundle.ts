// The worker threads' code as plain JavaScript. Worker threads do not inherit
// the parent's `--import tsx/esm` loader (Node 20), and registering tsx in each
// worker cost ~20 MB per thread (its own loader thread and TypeScript
// transpiler); importing the AWS SDK as its hundreds of modules cost another
// ~18 MB per thread over the tree-shaken bundle (both measured as VmRSS in
// /proc/self/status). So the worker entry and the mappers run bundled:
// - from the build (make, bin/pg2ddb, the image): dist/transform/worker.js and
//   dist/model/entities/*.js, made by `npm run build` with the options below;
// - from the sources (tests, `node --import tsx/esm transform/cli.ts`): bundled
//   here with the same options, once per run (well under a second), into a
//   cache keyed by the output's sha256, so an edited mapper gets a fresh bundle
//   and tests need no build first. esbuild is loaded only then.
import type { BuildOptions } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../lib/meter.ts';
import { DIST_DIR, FROM_BUILD, PACKAGE_ROOT } from '../lib/runtime.ts';
import { ENTITIES_SOURCE_DIR, buildInfo } from '../model/code-version.ts';
import { ENTITIES_DIR, isEntityFile } from '../model/registry.ts';

/** esbuild's options for the build and for the worker bundle made from the sources. */
export const BUNDLE_OPTIONS = {
  bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20',
  // The packages' ES module builds tree-shake; CommonJS ones inside the bundle need a `require`.
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // pg's optional native binding is never installed; esbuild is the build's own tool.
  external: ['pg-native', 'esbuild'],
  logLevel: 'error',
} satisfies BuildOptions;

/** The worker thread's entry, relative to the package root. */
export const WORKER_SOURCE = 'transform/worker.ts';

/** Entity file names (`users.ts`) of an entity directory. */
export function mapperSourceFiles(dir: string): string[] {
  return readdirSync(dir).filter(isEntityFile).sort();
}

// Inside the repository, so what the bundle still requires at run time resolves from its node_modules.
const CACHE_DIR = path.join(PACKAGE_ROOT, '.local/cache/transform-worker');

export interface WorkerBundle {
  /** The worker thread's entry (transform/worker.ts). */
  entry: URL;
  /** Mapper file name (`users.ts`) → its compiled module's URL. */
  mappers: Map<string, string>;
}

/**
 * `entities`: the model's entity directory (the registry's), whose files the
 * workers import. The shipped model from the build runs as built; a model of
 * one's own (MODEL=dir) is bundled with esbuild where it is installed (a
 * checkout), else (the image, Node 24) its .ts files are imported as they are.
 */
export function workerBundle(entities = ENTITIES_DIR): WorkerBundle {
  if (FROM_BUILD && entities === ENTITIES_DIR) return builtWorker();
  if (FROM_BUILD && !esbuildInstalled()) {
    return {
      entry: pathToFileURL(path.join(DIST_DIR, WORKER_SOURCE.replace(/\.ts$/, '.js'))),
      mappers: new Map(mapperSourceFiles(entities).map((f) => [f, pathToFileURL(path.join(entities, f)).href])),
    };
  }
  return bundleFromSources(entities);
}

function esbuildInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('esbuild');
    return true;
  } catch {
    return false;
  }
}

function builtWorker(): WorkerBundle {
  const mappersDir = path.join(DIST_DIR, ENTITIES_SOURCE_DIR);
  // The mappers this build made (build.json), not every file in dist/: a removed one's stays a minute.
  const files = Object.keys(buildInfo().mappers);
  return {
    entry: pathToFileURL(path.join(DIST_DIR, WORKER_SOURCE.replace(/\.ts$/, '.js'))),
    mappers: new Map(files.map((f) => [f, pathToFileURL(path.join(mappersDir, f.replace(/\.ts$/, '.js'))).href])),
  };
}

function bundleFromSources(entities: string): WorkerBundle {
  // Required, not imported: the build never loads esbuild at run time.
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const mapperFiles = mapperSourceFiles(entities);
  // esbuild takes two paths that differ only in case for one module (Users.ts and users.ts gave one
  // bundle, the other table's mapper lost): such files go to builds of their own, each into its own
  // folder (`1/`, `2/`, …; the first build, with the worker, at the top). Entry names are positions,
  // not file names, which may hold any character.
  const builds: number[][] = [];
  mapperFiles.forEach((file, i) => {
    const folded = file.toLowerCase();
    let group = builds.find((g) => !g.some((j) => mapperFiles[j]!.toLowerCase() === folded));
    if (!group) builds.push(group = []);
    group.push(i);
  });
  if (builds.length === 0) builds.push([]);
  const folder = (build: number) => (build === 0 ? '' : String(build));
  const where = new Map<number, string>();
  const files: { name: string; contents: Uint8Array }[] = [];
  builds.forEach((group, build) => {
    const entryPoints: Record<string, string> = build === 0 ? { worker: path.join(PACKAGE_ROOT, WORKER_SOURCE) } : {};
    for (const i of group) {
      entryPoints[`mappers/${i}`] = path.join(entities, mapperFiles[i]!);
      where.set(i, path.join(folder(build), 'mappers', `${i}.js`));
    }
    const outdir = path.join(CACHE_DIR, 'out', folder(build));
    const { outputFiles } = buildSync({ ...BUNDLE_OPTIONS, entryPoints, outdir, write: false });
    files.push(...outputFiles.map((f) => ({ name: path.join(folder(build), path.relative(outdir, f.path)), contents: f.contents })));
  });
  const dir = path.join(CACHE_DIR, sha256Hex(files.map((f) => `${f.name}\n${sha256Hex(Buffer.from(f.contents))}`).join('\n')).slice(0, 16));
  if (!existsSync(dir)) {
    // Written aside and renamed, so a concurrent run never sees half a bundle.
    const temp = `${dir}.${process.pid}.${Date.now()}`;
    for (const file of files) {
      mkdirSync(path.dirname(path.join(temp, file.name)), { recursive: true });
      writeFileSync(path.join(temp, file.name), file.contents);
    }
    try {
      renameSync(temp, dir);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err;
    }
  }
  return {
    entry: pathToFileURL(path.join(dir, 'worker.js')),
    mappers: new Map(mapperFiles.map((file, i) => [file, pathToFileURL(path.join(dir, where.get(i)!)).href])),
  };
}
