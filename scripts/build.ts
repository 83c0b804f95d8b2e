// `npm run build` (make install runs it): every CLI, the transform worker and
// the mappers, bundled once to JavaScript in dist/ (ESM, node20, source maps
// naming the .ts lines, without the sources),
// so make, bin/pg2ddb and the image run no TypeScript loader and no bundler.
// Also writes dist/build.json with the transform code version and each
// mapper's hash (model/code-version.ts).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../lib/meter.ts';
import { PACKAGE_ROOT } from '../lib/runtime.ts';
import { BUILD_INFO, ENTITIES_SOURCE_DIR, type BuildInfo } from '../model/code-version.ts';
import { BUNDLE_OPTIONS, WORKER_SOURCE, mapperSourceFiles } from '../transform/worker-bundle.ts';

/** What make, bin/pg2ddb, the image and cutover's child stages run (relative to the package root). */
export const CLI_ENTRIES = [
  'extract/cli.ts', 'transform/cli.ts', 'load/cli.ts', 'verify/cli.ts', 'catchup/cli.ts', 'catchup/cutover-cli.ts',
  'plan/cli.ts', 'plan/run-status-cli.ts', 'plan/run-report-cli.ts', 'plan/iam-policy-cli.ts',
  'scripts/has-shards.ts',
];

/** The computed values a model's entities share (model/computed.ts), relative to the package root. */
const COMPUTED_SOURCE = 'model/computed.ts';

/** Builds the package at `root` into `root`/dist; returns what it wrote to build.json and how many files. */
export async function buildDist(root: string): Promise<BuildInfo & { files: number }> {
  const distDir = path.join(root, 'dist');
  const mappers = mapperSourceFiles(path.join(root, ENTITIES_SOURCE_DIR)).map((f) => path.posix.join(ENTITIES_SOURCE_DIR, f));
  const result = await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: [...CLI_ENTRIES, WORKER_SOURCE, ...mappers],
    outbase: '.', outdir: 'dist', chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true, sourcesContent: false, write: false,
  });
  const outputs = new Map(result.outputFiles.map((f) => [path.relative(root, f.path), f.contents]));
  const info = await transformHashes(root, mappers);

  // Each file written aside and renamed, build.json last: a process starting meanwhile reads whole files.
  // Chunk names carry their content hash, so a run still on the previous build keeps finding its chunks.
  for (const [file, contents] of outputs) writeAtomically(path.join(root, file), contents);
  writeAtomically(path.join(distDir, BUILD_INFO), `${JSON.stringify(info, null, 2)}\n`);
  // Files of earlier builds (a removed CLI, old chunks) go, but for those of the last minute: a run that just started may need them.
  const keep = new Set([...outputs.keys()].map((f) => path.join(root, f)).concat(path.join(distDir, BUILD_INFO)));
  for (const file of listFiles(distDir)) {
    if (!keep.has(file) && Date.now() - statSync(file).mtimeMs > 60_000) rmSync(file);
  }
  return { ...info, files: outputs.size };
}

/**
 * The code version and each mapper's hash, from the worker and each mapper
 * bundled on their own, unsplit: each text is the code it runs, packages
 * included, and nothing else. Not dist/'s chunks: how esbuild splits them
 * follows every entry (another stage importing a module the worker uses moves
 * it into another chunk) and their names hash their source maps (a comment
 * renames them, and so changes every file importing them), which would redo
 * units the change cannot alter.
 */
async function transformHashes(root: string, mappers: string[]): Promise<BuildInfo> {
  const { outputFiles } = await build({
    ...BUNDLE_OPTIONS, splitting: false,
    absWorkingDir: root, entryPoints: [WORKER_SOURCE, COMPUTED_SOURCE, ...mappers], outbase: '.', outdir: 'hashed', write: false,
  });
  const hashOf = (source: string) => {
    const file = outputFiles.find((f) => path.relative(root, f.path) === path.join('hashed', source.replace(/\.ts$/, '.js')));
    if (!file) throw new Error(`build: no bundle of ${source}`);
    // esbuild names each module by its path from the package root (a comment, a module-wrapper key); through a
    // symlinked or hoisted node_modules that path climbs out of the package, so differs by checkout: from node_modules/ on.
    return sha256Hex(file.text.replace(/(?:\.\.\/)+(?:[^"'\s/]+\/)*?node_modules\//g, 'node_modules/'));
  };
  return {
    // model/computed.ts too: no worker module imports it, but a model of one's own may (README), and its
    // entities' hashes cover their own files only (from the sources the version covers all of model/).
    code_version: sha256Hex(`${hashOf(WORKER_SOURCE)}\n${hashOf(COMPUTED_SOURCE)}`),
    mappers: Object.fromEntries(mappers.map((m) => [path.posix.basename(m), hashOf(m)])),
  };
}

function writeAtomically(file: string, contents: Uint8Array | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, contents);
  renameSync(temp, file);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  const built = await buildDist(PACKAGE_ROOT);
  process.stderr.write(`build: ${built.files} files in dist/ (${((Date.now() - started) / 1000).toFixed(1)} s), transform code version ${built.code_version.slice(0, 12)}\n`);
}
