// The layout the README's "Layout" section draws: each stage imports only
// lib/, model/, its own folder and packages, never another stage (nor scripts/
// or test/); lib/ and model/ import no stage. Read from the sources, so a new
// import across a seam fails here, naming the file and what it imports.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const STAGES = ['extract', 'transform', 'load', 'verify', 'plan', 'catchup'];
const SHARED = ['lib', 'model'];

/** The product's .ts files under `folder` (tests aside), relative to the root. */
function sources(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.posix.join(folder, f.split(path.sep).join('/')))
    .sort();
}

/** Every module a file names: static and dynamic imports, re-exports, worker URLs. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^'"]*?\bfrom\s*'([^']+)'/gm,
    /^\s*import\s*'([^']+)'/gm,
    /\bimport\(\s*'([^']+)'\s*\)/g,
    /new URL\(\s*'([^']+)',\s*import\.meta\.url\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.push(m[1]!);
  return found;
}

/** The top folder a file's relative import lands in, or undefined for a package (`node:fs`, `pg`). */
function folderOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).split('/')[0];
}

function crossings(folders: string[], allowed: (own: string) => string[]): string[] {
  const out: string[] = [];
  for (const own of folders) {
    for (const file of sources(own)) {
      for (const spec of importsOf(readFileSync(path.join(ROOT, file), 'utf8'))) {
        const target = folderOf(file, spec);
        if (target !== undefined && !allowed(own).includes(target)) out.push(`${file} imports ${spec} (${target}/)`);
      }
    }
  }
  return out;
}

test('the import patterns see every form of import a source file uses', (t) => {
  const text = [
    "import { a } from '../lib/a.ts';",
    "import type { B } from '../model/b.ts';",
    "export { c } from './c.ts';",
    "import {\n  d,\n  e,\n} from '../transform/d.ts';",
    "import 'node:process';",
    "const m = await import('../load/m.ts');",
    "const w = new URL('./worker.ts', import.meta.url);",
  ].join('\n');
  t.deepEqual(importsOf(text).sort(), ['../lib/a.ts', '../load/m.ts', '../model/b.ts', '../transform/d.ts', './c.ts', './worker.ts', 'node:process'].sort());
});

test('each stage imports only lib/, model/, its own folder and packages', (t) => {
  for (const stage of STAGES) t.true(sources(stage).length > 0, `no sources in ${stage}/`);
  t.deepEqual(crossings(STAGES, (own) => [own, ...SHARED]), []);
});

test('lib/ and model/ import no stage (nor scripts/ or test/)', (t) => {
  t.deepEqual(crossings(SHARED, () => SHARED), []);
});
