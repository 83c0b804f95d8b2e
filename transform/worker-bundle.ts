// The worker threads' code as plain JavaScript. Worker threads do not inherit
// the parent's `--import tsx/esm` loader (Node 20), and registering tsx in each
// worker cost ~20 MB per thread (its own loader thread and TypeScript
// transpiler); importing the AWS SDK as its hundreds of modules cost another
// ~18 MB per thread over the tree-shaken bundle (both measured as VmRSS in
// /proc/self/status). So the worker entry and the mappers run bundled:
// - from the build (make, bin/pg2ddb, the image): dist/transform/worker.js and
//   dist/model/entities/*.js, made by `npm run build` with the options below;
// - from the sources (tests, `node --import tsx/esm transform/cli.ts`): bundled
//   here with the same options into a cache keyed by the output's sha256, so
//   an edited mapper gets a fresh bundle and tests need no build first.
//   esbuild is loaded only then. Bundling costs ~1.2 s of esbuild's CPU
//   (measured), and every transform from the sources did it (~120 times a
//   `make test`): a bundle is reused while every file esbuild read for it
//   (its metafile's inputs) still has the same sha256, which reading and
//   hashing them (~1,200 files, 2 MB) decides in milliseconds.
import type { BuildOptions } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** What a bundle was made of: each input file (absolute path) → its sha256, and the bundle's folder in CACHE_DIR. */
interface BundleInputs { inputs: Record<string, string>; dir: string }

/** The inputs' record of one bundle request: the entity folder, its files, esbuild's version and options, the cwd (paths in the output's comments). */
function inputsFile(entities: string, mapperFiles: string[], esbuildVersion: string): string {
  const request = JSON.stringify({ entities, mapperFiles, esbuildVersion, options: BUNDLE_OPTIONS, worker: WORKER_SOURCE, cwd: process.cwd() });
  return path.join(CACHE_DIR, 'inputs', `${sha256Hex(request).slice(0, 16)}.json`);
}

/**
 * sha256 of each file; undefined when one cannot be read, or was modified at
 * or after `unchangedSince` (ms), as a file edited while esbuild read it: then
 * the bundle is made again.
 */
function hashFiles(files: string[], unchangedSince = Infinity): Record<string, string> | undefined {
  const hashes: Record<string, string> = {};
  try {
    for (const file of files) {
      if (statSync(file).mtimeMs >= unchangedSince) return undefined;
      hashes[file] = sha256Hex(readFileSync(file));
    }
  } catch {
    return undefined;
  }
  return hashes;
}

/** The folder of the last bundle of this request, if every file it was made of is unchanged and the folder is there. */
function reusableBundle(record: string): string | undefined {
  let last: BundleInputs;
  try {
    last = JSON.parse(readFileSync(record, 'utf8')) as BundleInputs;
  } catch {
    return undefined;
  }
  const dir = path.join(CACHE_DIR, last.dir);
  if (!existsSync(path.join(dir, 'worker.js'))) return undefined;
  const now = hashFiles(Object.keys(last.inputs));
  if (!now || Object.entries(last.inputs).some(([file, hash]) => now[file] !== hash)) return undefined;
  return dir;
}

/** Written aside and renamed, so a concurrent run never reads half of one. */
function writeAtomically(target: string, write: (temp: string) => void): void {
  const temp = `${target}.${process.pid}.${Date.now()}`;
  write(temp);
  try {
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
}

function bundleFromSources(entities: string): WorkerBundle {
  // Required, not imported: the build never loads esbuild at run time.
  const { buildSync, version: esbuildVersion } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
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
  builds.forEach((group, build) => { for (const i of group) where.set(i, path.join(folder(build), 'mappers', `${i}.js`)); });
  const bundle = (dir: string): WorkerBundle => ({
    entry: pathToFileURL(path.join(dir, 'worker.js')),
    mappers: new Map(mapperFiles.map((file, i) => [file, pathToFileURL(path.join(dir, where.get(i)!)).href])),
  });
  const record = inputsFile(entities, mapperFiles, esbuildVersion);
  const reused = reusableBundle(record);
  if (reused) return bundle(reused);

  const files: { name: string; contents: Uint8Array }[] = [];
  const inputs = new Set<string>();
  const bundling = Date.now();
  builds.forEach((group, build) => {
    const entryPoints: Record<string, string> = build === 0 ? { worker: path.join(PACKAGE_ROOT, WORKER_SOURCE) } : {};
    for (const i of group) entryPoints[`mappers/${i}`] = path.join(entities, mapperFiles[i]!);
    const outdir = path.join(CACHE_DIR, 'out', folder(build));
    const { outputFiles, metafile } = buildSync({ ...BUNDLE_OPTIONS, entryPoints, outdir, write: false, metafile: true });
    files.push(...outputFiles.map((f) => ({ name: path.join(folder(build), path.relative(outdir, f.path)), contents: f.contents })));
    // The metafile's paths are relative to esbuild's working directory, the cwd.
    for (const input of Object.keys(metafile.inputs)) inputs.add(path.resolve(input));
  });
  const name = sha256Hex(files.map((f) => `${f.name}\n${sha256Hex(Buffer.from(f.contents))}`).join('\n')).slice(0, 16);
  const dir = path.join(CACHE_DIR, name);
  if (!existsSync(dir)) {
    writeAtomically(dir, (temp) => {
      for (const file of files) {
        mkdirSync(path.dirname(path.join(temp, file.name)), { recursive: true });
        writeFileSync(path.join(temp, file.name), file.contents);
      }
    });
  }
  // Hashed after the build, so a file edited since it started leaves no record: the next run bundles again.
  const hashes = hashFiles([...inputs], bundling);
  if (hashes) {
    mkdirSync(path.dirname(record), { recursive: true });
    writeAtomically(record, (temp) => writeFileSync(temp, JSON.stringify({ inputs: hashes, dir: name } satisfies BundleInputs)));
  }
  return bundle(dir);
}
