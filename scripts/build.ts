// `npm run build` (make install runs it): every CLI, the transform worker and
// the mappers, bundled once to JavaScript in dist/ (ESM, node20, source maps
// naming the .ts lines, without the sources),
// so make, bin/pg2ddb and the image run no TypeScript loader and no bundler.
// Also writes dist/build.json with the transform code version: the sha256 of
// the bundled code transform units run (transform/code-version.ts).
import { build, type Metafile } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../lib/meter.ts';
import { PACKAGE_ROOT } from '../lib/runtime.ts';
import { BUILD_INFO, type BuildInfo } from '../transform/code-version.ts';
import { BUNDLE_OPTIONS, MAPPERS_SOURCE_DIR, WORKER_SOURCE, mapperSourceFiles } from '../transform/worker-bundle.ts';

/** What make, bin/pg2ddb, the image and cutover's child stages run (relative to the package root). */
export const CLI_ENTRIES = [
  'extract/cli.ts', 'transform/cli.ts', 'load/cli.ts', 'load/verify-cli.ts', 'catchup/cli.ts', 'catchup/cutover-cli.ts',
  'load/plan/cli.ts', 'load/plan/run-status-cli.ts', 'load/plan/run-report-cli.ts', 'load/iam-policy-cli.ts',
  'scripts/has-shards.ts',
];

/** Builds the package at `root` into `root`/dist; returns what it wrote to build.json and how many files. */
export async function buildDist(root: string): Promise<BuildInfo & { files: number }> {
  const distDir = path.join(root, 'dist');
  const mappers = mapperSourceFiles(root).map((f) => path.posix.join(MAPPERS_SOURCE_DIR, f));
  const result = await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: [...CLI_ENTRIES, WORKER_SOURCE, ...mappers],
    outbase: '.', outdir: 'dist', chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true, sourcesContent: false, metafile: true, write: false,
  });
  const outputs = new Map(result.outputFiles.map((f) => [path.relative(root, f.path), f.contents]));
  const out = (source: string) => path.posix.join('dist', source.replace(/\.ts$/, '.js'));
  const info: BuildInfo = { code_version: codeVersion(result.metafile, outputs, out(WORKER_SOURCE), mappers.map(out)) };

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
 * sha256 of every output the worker or a mapper loads, following imports, the
 * mapper files themselves aside (each mapper's hash covers its own file): the
 * code that decides a unit's bytes, as built, its packages included.
 */
function codeVersion(meta: Metafile, outputs: Map<string, Uint8Array>, worker: string, mapperOutputs: string[]): string {
  const reached = new Set<string>();
  const visit = (file: string) => {
    if (reached.has(file)) return;
    const output = meta.outputs[file];
    if (!output) throw new Error(`build: ${file} is not among esbuild's outputs`);
    reached.add(file);
    for (const i of output.imports) if (!i.external) visit(i.path);
  };
  for (const file of [worker, ...mapperOutputs]) visit(file);
  for (const file of mapperOutputs) reached.delete(file);
  // A chunk's name carries a hash of its source map too, so a comment renames it: the names are taken out.
  const unnamed = (f: string) => Buffer.from(outputs.get(f)!).toString('utf8').replace(/([\w.]+)-[A-Z0-9]{8}\.js\b/g, '$1.js');
  return sha256Hex([...reached].map((f) => sha256Hex(unnamed(f))).sort().join('\n'));
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
