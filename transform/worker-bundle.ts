// The worker threads' code as one plain JavaScript bundle. Worker threads do
// not inherit the parent's `--import tsx/esm` loader (Node 20), and registering
// tsx in each worker cost ~20 MB per thread (its own loader thread and
// TypeScript transpiler); importing the AWS SDK as its hundreds of modules cost
// another ~18 MB per thread over the tree-shaken bundle (both measured as
// VmRSS in /proc/self/status). So the worker entry and the mappers it imports
// are bundled once per run with esbuild (tsx's own dependency, well under a
// second), into a cache keyed by the output's sha256: nothing to build ahead of
// time, and an edited mapper gets a fresh bundle.
import { buildSync } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sha256Hex } from '../lib/meter.ts';
import { ENTITIES_DIR, isEntityFile } from '../model/registry.ts';

const TRANSFORM_DIR = fileURLToPath(new URL('.', import.meta.url));
// Inside the repository, so what the bundle still requires at run time resolves from its node_modules.
const CACHE_DIR = fileURLToPath(new URL('../.local/cache/transform-worker/', import.meta.url));

export interface WorkerBundle {
  /** The worker thread's entry (transform/worker.ts). */
  entry: URL;
  /** Mapper file name (`users.ts`) → its compiled module's URL. */
  mappers: Map<string, string>;
}

/** `entities`: the model's entity directory (the registry's), whose files the workers import. */
export function workerBundle(entities = ENTITIES_DIR): WorkerBundle {
  const mapperFiles = readdirSync(entities).filter(isEntityFile);
  const entryPoints: Record<string, string> = { worker: path.join(TRANSFORM_DIR, 'worker.ts') };
  for (const file of mapperFiles) entryPoints[`mappers/${file.slice(0, -'.ts'.length)}`] = path.join(entities, file);
  const outdir = path.join(CACHE_DIR, 'out');
  const { outputFiles } = buildSync({
    entryPoints, outdir, bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20',
    // The packages' ES module builds tree-shake; CommonJS ones inside the bundle need a `require`.
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    write: false, logLevel: 'error',
  });
  const files = outputFiles.map((f) => ({ name: path.relative(outdir, f.path), contents: f.contents }));
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
    mappers: new Map(mapperFiles.map((file) => [file, pathToFileURL(path.join(dir, 'mappers', `${file.slice(0, -'.ts'.length)}.js`)).href])),
  };
}
