import test from 'ava';
import { execFileSync } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../lib/meter.ts';
import { PACKAGE_ROOT } from '../lib/runtime.ts';
import { buildDist } from '../scripts/build.ts';
import { sourceCodeVersion, transformCodeVersion, type BuildInfo } from './code-version.ts';
import { loadMappers } from './registry.ts';

/** A copy of the package's sources (node_modules linked), to edit and build without touching the repository. */
async function copyOfSources(t: { teardown: (fn: () => Promise<void>) => void }, under = ''): Promise<string> {
  const temp = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-code-version-'));
  t.teardown(() => rm(temp, { recursive: true, force: true }));
  const root = path.join(temp, under);
  for (const entry of ['package.json', 'lib', 'model', 'extract', 'transform', 'load', 'verify', 'plan', 'catchup', 'scripts/has-shards.ts']) {
    await cp(path.join(PACKAGE_ROOT, entry), path.join(root, entry), { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
  }
  await symlink(path.join(PACKAGE_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  return root;
}

test('every mapper hash covers the transform code version and its own file, so either change redoes its units', async (t) => {
  const mappers = await loadMappers();
  const users = mappers.get('users')!;
  const source = await readFile(path.join(PACKAGE_ROOT, 'model/entities', users.file), 'utf8');
  t.is(users.hash, sha256Hex(`${transformCodeVersion()}\n${source}`));
});

test('from the sources, the code version changes with the transform code, not with a mapper or another stage', async (t) => {
  const root = await copyOfSources(t);
  const before = sourceCodeVersion(root);
  t.is(sourceCodeVersion(root), before, 'the same sources give the same version');
  t.is(sourceCodeVersion(PACKAGE_ROOT), transformCodeVersion(), 'the copy is what this process runs');
  await appendFile(path.join(root, 'model/entities/users.ts'), '\n// a mapper edit: its own hash covers it\n');
  await appendFile(path.join(root, 'load/cli.ts'), '\n// another stage\n');
  t.is(sourceCodeVersion(root), before);
  await appendFile(path.join(root, 'model/item.ts'), '\n// an edit of how items are built\n');
  t.not(sourceCodeVersion(root), before);
});

test('from the build, the code version is the bundled worker code: the same for an unchanged build, another for changed transform code', async (t) => {
  const root = await copyOfSources(t);
  const first = await buildDist(root);
  t.regex(first.code_version, /^[0-9a-f]{64}$/);
  const written = JSON.parse(await readFile(path.join(root, 'dist/build.json'), 'utf8')) as BuildInfo;
  t.deepEqual(written, { code_version: first.code_version, mappers: first.mappers });
  t.regex(written.mappers['users.ts'] ?? '', /^[0-9a-f]{64}$/);
  const { files: _, ...hashes } = first;
  t.deepEqual(await buildDist(root), first, 'an unchanged build');
  t.deepEqual(await buildDist(await copyOfSources(t, 'another/checkout')), first, 'another checkout, elsewhere');
  // The build runs without tsx, and finds the package from its chunks.
  const version = execFileSync(process.execPath, [path.join(root, 'dist/transform/cli.js'), '--version'], { encoding: 'utf8' });
  t.is(version.trim(), (JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string }).version);
  // Comments are not code: a bundle drops them, and the version and mapper hashes stay, even for lines that move
  // every mapping of the source map (and so rename dist/'s chunks); so do they for another stage's code, even one now
  // importing a module the worker runs (dist/'s chunks then split differently).
  await prepend(path.join(root, 'model/item.ts'), '// only a comment\n// on two lines\n');
  await prepend(path.join(root, 'lib/meter.ts'), '// only a comment\n');
  await prepend(path.join(root, 'load/cli.ts'), "import { CsvRecords } from '../lib/csv-records.ts';\nprocess.env.PG2DDB_CODE_VERSION_TEST ??= typeof CsvRecords;\n");
  t.deepEqual({ ...await buildDist(root), files: 0 }, { ...hashes, files: 0 });
  // A mapper's change is its own hash's alone.
  await appendFile(path.join(root, 'model/entities/users.ts'), '\nprocess.env.PG2DDB_CODE_VERSION_TEST ??= "users";\n');
  const mapperEdited = await buildDist(root);
  t.is(mapperEdited.code_version, first.code_version);
  t.deepEqual({ ...mapperEdited.mappers, 'users.ts': '' }, { ...first.mappers, 'users.ts': '' });
  t.not(mapperEdited.mappers['users.ts'], first.mappers['users.ts']);
  await appendFile(path.join(root, 'model/item.ts'), '\nprocess.env.PG2DDB_CODE_VERSION_TEST ??= "changed";\n');
  t.not((await buildDist(root)).code_version, first.code_version, 'a change the worker runs');
});

// A model of one's own may import the toolkit's model/computed.ts (README), which no worker module imports:
// from the build, a changed hashOr left a user's entities' hashes, so their units, as they were.
test("from the build, the code version covers model/computed.ts, which a model of one's own may import", async (t) => {
  const root = await copyOfSources(t);
  const first = await buildDist(root);
  await appendFile(path.join(root, 'model/computed.ts'), '\nexport const PG2DDB_CODE_VERSION_TEST = (row: RowValues) => row("x");\n');
  t.not((await buildDist(root)).code_version, first.code_version);
});

async function prepend(file: string, text: string): Promise<void> {
  await writeFile(file, text + await readFile(file, 'utf8'));
}
